"""The regional map: Brazilian states (Olist, the demo store) or countries (UCI) coloured by projected revenue,
drawn from the offline Natural Earth geometry shipped in charts/geo/ (see its README for source and licence).
Regions that are neither (sales areas, store codes) get no map, and the figure says why.

Plotly's `geo` traces fetch a base topojson from the network even with `visible=False`; a page that shows these
maps offline must define `OFFLINE_GEO_STUB` before plotly.js (the report does; a served dashboard points plotly's
`topojsonURL` at an empty topology instead).
"""

from __future__ import annotations

import csv
import json
from functools import cache
from importlib import resources
from typing import Any

import polars as pl

from clvlens.charts.theme import Formatter, empty_figure, style

OFFLINE_GEO_STUB = (
    '<script>window.PlotlyGeoAssets={topojson:{"world_110m":{"type":"Topology","objects":{},"arcs":[]}}};</script>'
)
# codes of the UCI file with no polygon at 1:110m, drawn as markers: (lat, lon) of the capital
SMALL_COUNTRIES: dict[str, tuple[float, float]] = {
    "BHR": (26.23, 50.59), "HKG": (22.32, 114.17), "MLT": (35.90, 14.51), "SGP": (1.35, 103.82),
}


@cache
def geometry(name: str) -> dict[str, Any]:
    """`brazil_states` or `world_countries` as a GeoJSON dict."""
    text = resources.files("clvlens.charts").joinpath("geo", f"{name}.geojson").read_text(encoding="utf-8")
    return json.loads(text)


@cache
def country_codes() -> dict[str, str]:
    """Country value -> ISO alpha-3: the UCI names, then every Natural Earth country name (lower-cased keys)."""
    features = geometry("world_countries")["features"]
    codes = {f["properties"]["name"].lower(): f["properties"]["iso_a3"] for f in features}
    text = resources.files("clvlens.charts").joinpath("geo", "uci_country_names.csv").read_text(encoding="utf-8")
    for row in csv.DictReader(text.splitlines()):
        if row["iso_a3"]:
            codes[row["Country"].strip().lower()] = row["iso_a3"]
    return codes


def region_map(regions: pl.DataFrame | None, fmt: Formatter, metric: str = "projected_clv") -> Any:
    """A choropleth of `metric` per region; regions that match no shape are listed in the subtitle."""
    title = "Projected revenue by region" if metric == "projected_clv" else f"{metric.replace('_', ' ')} by region"
    if regions is None or regions.is_empty() or metric not in regions.columns:
        return empty_figure(title, "no regions in this workspace (the data have no region column)")
    names = regions.get_column("region").cast(pl.String).fill_null("").to_list()
    states = geometry("brazil_states")
    state_codes = {f["properties"]["code"] for f in states["features"]}
    present = [n.strip().upper() for n in names if n.strip()]
    if present and all(code in state_codes for code in present):
        return _brazil(regions, fmt, metric, title, states)
    return _world(regions, fmt, metric, title)


def _brazil(regions: pl.DataFrame, fmt: Formatter, metric: str, title: str, states: dict[str, Any]) -> Any:
    import plotly.graph_objects as go

    shown = regions.with_columns(pl.col("region").str.strip_chars().str.to_uppercase().alias("code"))
    names = {f["properties"]["code"]: f["properties"]["name"] for f in states["features"]}
    fig = go.Figure(go.Choropleth(
        geojson=states, featureidkey="properties.code", locations=shown.get_column("code").to_list(),
        z=shown.get_column(metric).to_list(), colorscale="Teal", marker_line_color="white", marker_line_width=0.6,
        text=[names.get(c, c) for c in shown.get_column("code").to_list()],
        colorbar={"title": {"text": fmt.code or "value"}, "tickprefix": fmt.symbol},
        hovertemplate="%{text}: " + fmt.symbol + "%{z:,.0f}<extra></extra>",
    ))
    fig.update_geos(fitbounds="locations", visible=False)
    return style(fig, title, height=520, legend=False, subtitle="Brazilian states")


def _world(regions: pl.DataFrame, fmt: Formatter, metric: str, title: str) -> Any:
    import plotly.graph_objects as go

    world = geometry("world_countries")
    lookup = country_codes()
    with_polygon = {f["properties"]["iso_a3"] for f in world["features"]}
    codes = [lookup.get((r or "").strip().lower()) for r in regions.get_column("region").to_list()]
    values = regions.get_column(metric).to_list()
    labels = regions.get_column("region").to_list()
    drawn = [(c, v, n) for c, v, n in zip(codes, values, labels, strict=True) if c in with_polygon]
    markers = [(c, v, n) for c, v, n in zip(codes, values, labels, strict=True) if c in SMALL_COUNTRIES]
    unplaced = [n for c, n in zip(codes, labels, strict=True) if c not in with_polygon and c not in SMALL_COUNTRIES]
    if not drawn and not markers:  # a grey world with every region listed beside it would say nothing
        named = [str(n) for n in unplaced if n is not None and str(n).strip()]
        shown = f" ({', '.join(named[:8])}{', ...' if len(named) > 8 else ''})" if named else ""
        return empty_figure(title, f"no region is a country or a Brazilian state{shown}: see the table")
    every = [f["properties"]["iso_a3"] for f in world["features"] if f["properties"]["iso_a3"] != "ATA"]
    fig = go.Figure(go.Choropleth(
        geojson=world, featureidkey="properties.iso_a3", locations=every, z=[0] * len(every),
        colorscale=[[0, "#eeeeee"], [1, "#eeeeee"]], showscale=False, marker_line_color="#bbbbbb",
        marker_line_width=0.4, hoverinfo="skip",
    ))
    peak = max([v for _, v, _ in drawn + markers if v is not None] or [1.0])
    # the coloured trace carries only the outlines it fills: the grey base carries the whole world once, and every
    # copy of it is validated, copied and written into the page again (about 200 kB of JSON)
    filled = {c for c, _, _ in drawn}
    outlines = {**world, "features": [f for f in world["features"] if f["properties"]["iso_a3"] in filled]}
    fig.add_trace(go.Choropleth(
        geojson=outlines, featureidkey="properties.iso_a3", locations=[c for c, _, _ in drawn],
        z=[v for _, v, _ in drawn], text=[n for _, _, n in drawn], colorscale="Teal", zmin=0, zmax=peak,
        marker_line_color="white", marker_line_width=0.4,
        colorbar={"title": {"text": fmt.code or "value"}, "tickprefix": fmt.symbol},
        hovertemplate="%{text}: " + fmt.symbol + "%{z:,.0f}<extra></extra>",
    ))
    if markers:
        fig.add_trace(go.Scattergeo(
            lat=[SMALL_COUNTRIES[c][0] for c, _, _ in markers], lon=[SMALL_COUNTRIES[c][1] for c, _, _ in markers],
            text=[n for _, _, n in markers], customdata=[v for _, v, _ in markers], mode="markers",
            marker={"size": 7, "color": "#264653"}, name="no outline at this scale",
            hovertemplate="%{text}: " + fmt.symbol + "%{customdata:,.0f}<extra></extra>",
        ))
    fig.update_geos(visible=False, projection_type="natural earth", lataxis_range=[-58, 85])
    note = f"not on the map: {', '.join(unplaced)}" if unplaced else "countries"
    return style(fig, title, height=520, legend=False, subtitle=note[:160])
