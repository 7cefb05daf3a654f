"""Revenue, customers and projected CLV per region, with the fields a map needs.

Two geographies are recognised (``geography="auto"`` picks Brazilian states when every region is one of the 27
state codes, countries otherwise):

- **Brazilian states** (Olist, the demo store): plotly has no Brazil-state outlines built in, so each state gets
  ``map_location`` = its 2-letter code, ``map_name`` = its name, and ``lat``/``lon`` = an approximate centroid
  (typed in here, to about a tenth of a degree) for a ``scatter_geo``; ``plotly_builtin`` is False.
- **Countries** (Online Retail): ``map_location`` is the country name for plotly's ``locationmode="country
  names"``; the retailer's codes "EIRE", "RSA" and "USA" become "Ireland", "South Africa" and "United States".
  Pseudo-regions with no single country ("Unspecified", "European Community", "Channel Islands") and customers
  with no region ("(unknown)") are kept in the table with ``mappable`` = False.
"""

from __future__ import annotations

from typing import Any, Literal

import polars as pl

from clvlens.analytics._common import as_polars, require_columns, require_numeric, safe_ratio
from clvlens.errors import ClvlensError

# code: (name, centroid latitude, centroid longitude)
BRAZIL_STATES: dict[str, tuple[str, float, float]] = {
    "AC": ("Acre", -9.0, -70.5),
    "AL": ("Alagoas", -9.6, -36.6),
    "AM": ("Amazonas", -4.2, -64.6),
    "AP": ("Amapá", 1.4, -51.8),
    "BA": ("Bahia", -12.5, -41.7),
    "CE": ("Ceará", -5.2, -39.5),
    "DF": ("Distrito Federal", -15.8, -47.8),
    "ES": ("Espírito Santo", -19.6, -40.7),
    "GO": ("Goiás", -16.0, -49.6),
    "MA": ("Maranhão", -5.0, -45.3),
    "MG": ("Minas Gerais", -18.5, -44.6),
    "MS": ("Mato Grosso do Sul", -20.5, -54.8),
    "MT": ("Mato Grosso", -12.9, -55.9),
    "PA": ("Pará", -3.8, -52.5),
    "PB": ("Paraíba", -7.1, -36.8),
    "PE": ("Pernambuco", -8.4, -37.9),
    "PI": ("Piauí", -7.4, -42.6),
    "PR": ("Paraná", -24.6, -51.6),
    "RJ": ("Rio de Janeiro", -22.3, -42.7),
    "RN": ("Rio Grande do Norte", -5.8, -36.6),
    "RO": ("Rondônia", -10.9, -62.8),
    "RR": ("Roraima", 2.1, -61.4),
    "RS": ("Rio Grande do Sul", -29.7, -53.3),
    "SC": ("Santa Catarina", -27.3, -50.4),
    "SE": ("Sergipe", -10.6, -37.4),
    "SP": ("São Paulo", -22.2, -48.7),
    "TO": ("Tocantins", -10.2, -48.3),
}

COUNTRY_ALIASES: dict[str, str] = {"EIRE": "Ireland", "RSA": "South Africa", "USA": "United States"}
UNKNOWN_REGION = "(unknown)"
UNMAPPABLE_REGIONS: frozenset[str] = frozenset({"Unspecified", "European Community", "Channel Islands", UNKNOWN_REGION})

Geography = Literal["auto", "brazil_states", "countries"]


def detect_geography(regions: pl.Series) -> str:
    """"brazil_states" when every non-missing region is a Brazilian state code, else "countries"."""
    present = regions.drop_nulls().cast(pl.String).str.strip_chars().str.to_uppercase().unique()
    if present.len() and present.is_in(list(BRAZIL_STATES)).all():
        return "brazil_states"
    return "countries"


def map_fields(regions: pl.Series, geography: str) -> pl.DataFrame:
    """region, map_location, map_name, lat, lon, locationmode, plotly_builtin, mappable for each distinct region."""
    distinct = regions.unique(maintain_order=True)
    if geography == "brazil_states":
        states = pl.DataFrame(
            {
                "map_location": list(BRAZIL_STATES),
                "map_name": [v[0] for v in BRAZIL_STATES.values()],
                "lat": [v[1] for v in BRAZIL_STATES.values()],
                "lon": [v[2] for v in BRAZIL_STATES.values()],
            }
        )
        return (
            pl.DataFrame({"region": distinct})
            .with_columns(pl.col("region").cast(pl.String).str.strip_chars().str.to_uppercase().alias("map_location"))
            .join(states, on="map_location", how="left")
            .with_columns(
                pl.lit(None, dtype=pl.String).alias("locationmode"),
                pl.lit(False).alias("plotly_builtin"),
                pl.col("lat").is_not_null().alias("mappable"),
            )
            .with_columns(pl.when(pl.col("mappable")).then(pl.col("map_location")).alias("map_location"))
        )
    if geography != "countries":
        raise ClvlensError(f"geography: must be auto, brazil_states or countries, got {geography!r}")
    cleaned = pl.col("region").cast(pl.String).str.strip_chars()
    mappable = cleaned.is_not_null() & ~cleaned.is_in(list(UNMAPPABLE_REGIONS))
    return pl.DataFrame({"region": distinct}).with_columns(
        pl.when(mappable).then(cleaned.replace(COUNTRY_ALIASES)).alias("map_location"),
        cleaned.replace(COUNTRY_ALIASES).alias("map_name"),
        pl.lit(None, dtype=pl.Float64).alias("lat"),
        pl.lit(None, dtype=pl.Float64).alias("lon"),
        pl.lit("country names").alias("locationmode"),
        mappable.alias("plotly_builtin"),
        mappable.alias("mappable"),
    )


def region_table(
    customers: Any,
    *,
    region: str = "region",
    value: str = "clv",
    historical: str = "total_value",
    geography: Geography = "auto",
) -> pl.DataFrame:
    """One row per region (missing regions as "(unknown)"), by historical revenue, largest first: region,
    customers, historical_revenue, projected_clv, share_revenue (of historical revenue), share_customers,
    share_projected_clv, then the map fields of `map_fields`."""
    frame = as_polars(customers, "customers")
    require_columns(frame, [region, value, historical], "customers")
    require_numeric(frame, [value, historical], "customers")
    labelled = frame.select(
        pl.col(region).cast(pl.String).fill_null(UNKNOWN_REGION).alias("region"),
        pl.col(historical).cast(pl.Float64).alias("_h"),
        pl.col(value).cast(pl.Float64).alias("_v"),
    )
    table = labelled.group_by("region").agg(
        pl.len().cast(pl.Int64).alias("customers"),
        pl.col("_h").sum().alias("historical_revenue"),
        pl.col("_v").sum().alias("projected_clv"),
    )
    table = table.with_columns(
        safe_ratio(pl.col("historical_revenue"), pl.col("historical_revenue").sum()).alias("share_revenue"),
        safe_ratio(pl.col("customers").cast(pl.Float64), pl.col("customers").sum().cast(pl.Float64))
        .alias("share_customers"),
        safe_ratio(pl.col("projected_clv"), pl.col("projected_clv").sum()).alias("share_projected_clv"),
    ).sort(["historical_revenue", "region"], descending=[True, False])
    kind = detect_geography(frame.get_column(region)) if geography == "auto" else geography
    fields = map_fields(table.get_column("region"), kind)
    return table.join(fields, on="region", how="left", maintain_order="left")


def plot_regions(regions: pl.DataFrame, metric: str = "historical_revenue") -> Any:
    """A map of `metric` per region from `region_table`: bubbles at state centroids for Brazilian states, a
    country choropleth otherwise; unmappable regions are left off the map."""
    import plotly.graph_objects as go

    require_columns(regions, ["region", "map_location", "lat", "lon", "locationmode", "mappable", metric], "regions")
    shown = regions.filter(pl.col("mappable"))
    if shown.height and shown["lat"].is_not_null().all():
        peak = float(shown[metric].max() or 1.0) or 1.0
        fig = go.Figure(
            go.Scattergeo(
                lat=shown["lat"].to_list(), lon=shown["lon"].to_list(), text=shown["map_name"].to_list(),
                customdata=shown[metric].to_list(), mode="markers",
                marker={"size": [8 + 42 * (v / peak) ** 0.5 for v in shown[metric].to_list()], "color": "#2a9d8f"},
                hovertemplate="%{text}: %{customdata:,.0f}<extra></extra>",
            )
        )
        fig.update_geos(scope="south america", fitbounds="locations")
    else:
        fig = go.Figure(
            go.Choropleth(locations=shown["map_location"].to_list(), z=shown[metric].to_list(),
                          locationmode="country names", colorscale="Blues", text=shown["region"].to_list())
        )
    fig.update_layout(title=f"{metric.replace('_', ' ')} by region")
    return fig
