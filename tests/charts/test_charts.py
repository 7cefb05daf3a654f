"""Every chart builder on real workspaces' tables as they are, and the insight sentences: every number a sentence
quotes equals the workspace's own (checked against direct SQL on the DuckDB file), rounded as shown."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest

from clvlens import charts
from clvlens.charts.theme import Formatter
from clvlens.workspace import Workspace, model_diagnostics


def _figures(ws: Workspace) -> dict[str, object]:
    fmt = charts.formatter_for(ws.currency)
    diagnostics = model_diagnostics(ws)
    return {
        "asset_matrix": charts.asset_matrix(ws.asset_points(2000), fmt),
        "roadmap_value": charts.segment_roadmap(ws.segments(), fmt, "value"),
        "roadmap_rfm": charts.segment_roadmap(ws.segments(), fmt, "rfm"),
        "lorenz": charts.lorenz(ws.lorenz(), fmt, ws.kpi("top_10pct_share")),
        "retention": charts.retention_heatmap(ws.cohorts()),
        "cohort_revenue": charts.revenue_per_cohort_customer(ws.cohorts(), fmt),
        "map": charts.region_map(ws.regions(), fmt),
        "bundles": charts.bundles_bar(ws.bundles()),
        "rules": charts.rules_scatter(ws.rules()),
        "frequency": charts.frequency_histogram(diagnostics),
        "tracking": charts.tracking(diagnostics),
        "holdout": charts.holdout_calibration(ws.scorecard(), fmt),
        "gains": charts.gains(ws.scorecard_gains()),
        "cleaning": charts.cleaning_report(ws.cleaning_report()),
    }


@pytest.mark.parametrize("name", ["uci_workspace", "demo_workspace"])
def test_every_chart_builds_from_workspace_tables(name: str, request: pytest.FixtureRequest) -> None:
    with Workspace.open(request.getfixturevalue(name)) as ws:
        figures = _figures(ws)
        symbol = ws.currency.symbol
    for key, fig in figures.items():
        assert len(fig.data) >= 1, key
        assert not fig.layout.annotations or key == "lorenz", f"{key}: drew the empty placeholder"
        json.dumps(fig.to_plotly_json(), default=str)
    assert figures["roadmap_value"].layout.xaxis.tickprefix == symbol


def test_each_chart_carries_plotly_white_for_the_traces_it_draws(demo_workspace: Path) -> None:
    """The theme's template is plotly_white cut to the figure's trace types: the layout and the defaults of every
    trace type drawn must be plotly_white's own, or a chart would look different from the whole template's."""
    import plotly.io as pio

    white = pio.templates["plotly_white"].to_plotly_json()
    with Workspace.open(demo_workspace) as ws:
        figures = _figures(ws)
    drawn = set()
    for key, fig in figures.items():
        template = fig.to_plotly_json()["layout"]["template"]
        assert template["layout"] == white["layout"], key
        for trace in fig.data:
            drawn.add(trace.type)
            assert template["data"].get(trace.type) == white["data"][trace.type], f"{key}: {trace.type}"
        assert len(template["data"]) < len(white["data"]), f"{key}: carries the whole template"
    assert {"bar", "scatter", "heatmap", "choropleth"} <= drawn


def test_maps_use_the_shipped_geometry(uci_workspace: Path, demo_workspace: Path) -> None:
    with Workspace.open(demo_workspace) as ws:
        brazil = charts.region_map(ws.regions(), charts.formatter_for(ws.currency))
        states = set(ws.regions().get_column("region").to_list())
    assert brazil.data[0].featureidkey == "properties.code" and set(brazil.data[0].locations) == states
    assert len(brazil.data[0].geojson["features"]) == 27
    with Workspace.open(uci_workspace) as ws:
        world = charts.region_map(ws.regions(), charts.formatter_for(ws.currency))
    drawn = set(world.data[1].locations)
    assert {"GBR", "IRL", "DEU", "FRA", "ZAF", "USA"} <= drawn  # EIRE, RSA and USA mapped by the shipped CSV
    # the grey base carries the whole world; the coloured trace only the outlines it fills
    assert len(world.data[0].geojson["features"]) > 170
    assert {f["properties"]["iso_a3"] for f in world.data[1].geojson["features"]} == drawn
    assert {"SGP", "HKG"} <= {c for c in ("SGP", "HKG", "MLT", "BHR")} and len(world.data) == 3


def test_regions_that_are_not_places_get_no_map() -> None:
    import polars as pl

    regions = pl.DataFrame({"region": [f"R{i}" for i in range(1, 11)], "projected_clv": [float(i) for i in range(10)]})
    fig = charts.region_map(regions, Formatter())
    assert not [trace for trace in fig.data if trace.type in ("choropleth", "scattergeo")]
    note = fig.layout.annotations[0].text
    assert "no region is a country or a Brazilian state" in note and "R1, R2" in note and note.endswith("the table")
    assert "R8, ...)" in note and "R9" not in note  # the first eight named
    blank = pl.DataFrame({"region": ["", " "], "projected_clv": [1.0, 2.0]})
    assert charts.region_map(blank, Formatter()).layout.annotations[0].text.startswith(
        "no region is a country or a Brazilian state: ")
    # one place among them is enough for the map
    placed = regions.vstack(pl.DataFrame({"region": ["France"], "projected_clv": [5.0]}))
    assert [trace.locations for trace in charts.region_map(placed, Formatter()).data][1] == ("FRA",)


def test_old_analytics_asset_matrix_takes_the_customers_table(demo_workspace: Path) -> None:
    from clvlens.analytics import plot_asset_matrix

    with Workspace.open(demo_workspace) as ws:
        fig = plot_asset_matrix(ws.customers())
    assert len(fig.data) == 4


def test_formatter() -> None:
    fmt = Formatter("R$", "BRL")
    assert fmt.money(1_606_394.96) == "R$1.61M" and fmt.money(845_300) == "R$845k" and fmt.money(12.4) == "R$12.40"
    assert fmt.money(999_999) == "R$1.00M" and fmt.money(0) == "R$0" and fmt.money(-2500) == "-R$2.50k"
    assert fmt.percent(0.4932) == "49%" and Formatter().money(12_345) == "12.3k"


MONEY = r"(?:R\$|£|\$)-?[\d,]+(?:\.\d+)?[kMB]?"
PERCENT = r"\d+(?:\.\d+)?%"


def _expected(raw: duckdb.DuckDBPyConnection) -> dict[str, float]:
    def one(sql: str, *params: object) -> float:
        return raw.execute(sql, list(params)).fetchone()[0]

    kpi = dict(raw.execute("SELECT name, value FROM kpis").fetchall())
    chosen = one("SELECT value FROM run_info WHERE key = 'model'")
    values = {
        "top_10pct_share": kpi["top_10pct_share"], "projected_revenue": one("SELECT sum(clv) FROM customers"),
        "revenue_at_risk": kpi["revenue_at_risk"], "at_risk_projected_value": one(
            "SELECT coalesce(sum(clv), 0) FROM customers WHERE value_segment = 'At-Risk'"),
        "at_risk_customers": one("SELECT count(*) FROM customers WHERE value_segment = 'At-Risk'"),
        "opportunity_gap": kpi["opportunity_gap"],
        "growth_customers": one("SELECT count(*) FROM customers WHERE value_segment = 'Growth'"),
        "month2_cliff": one("SELECT sum(month2_cliff * customers) / sum(customers) FROM cohort_cliffs "
                            "WHERE month2_cliff IS NOT NULL"),
        "cohorts": one("SELECT count(*) FROM cohort_cliffs WHERE month2_cliff IS NOT NULL"),
        "mae_value": one("SELECT mae_value FROM scorecard WHERE model = ?", chosen),
        "top20_share": one("SELECT top20_share FROM scorecard WHERE model = ?", chosen),
        "best_mae_value": one("SELECT min(mae_value) FROM scorecard"),
    }
    total = one("SELECT sum(total_value) FROM customers")
    for region, revenue, clv in raw.execute(
            "SELECT coalesce(region, '(unknown)'), sum(total_value), sum(clv) FROM customers GROUP BY 1").fetchall():
        values[f"share_revenue[{region}]"] = revenue / total
        values[f"projected_clv[{region}]"] = clv
    for label, lift, support in raw.execute("SELECT label, lift, support FROM bundles").fetchall():
        values[f"lift[{label}]"], values[f"support[{label}]"] = lift, support
    return values


@pytest.mark.parametrize("name", ["uci_workspace", "demo_workspace"])
def test_every_number_in_an_insight_is_the_workspace_number(name: str, request: pytest.FixtureRequest) -> None:
    folder = request.getfixturevalue(name)
    raw = duckdb.connect(str(folder / "clvlens.duckdb"), read_only=True)
    expected = _expected(raw)
    with Workspace.open(folder) as ws:
        fmt = charts.formatter_for(ws.currency)
        found = charts.insights(ws)
        cards = charts.headline(ws)
    assert {i.key for i in found} >= {"concentration", "risk", "opportunity", "regions", "cliff", "model"}
    for insight in found:
        shown: set[str] = set()
        for key, value in insight.numbers.items():
            assert value == pytest.approx(expected[key], rel=1e-9, abs=1e-9), (insight.key, key)
            forms = {fmt.money(value), fmt.percent(value), fmt.count(value), f"{value:.1f}", f"{value:.2%}",
                     str(value)}
            present = [form for form in forms if form in insight.text]
            assert present, (insight.key, key, insight.text)
            shown.update(present)
        # no number in the sentence that is not one of the workspace's
        for token in re.findall(f"{MONEY}|{PERCENT}", insight.text):
            assert token in shown or token.startswith(("10%", "20%")), (insight.key, token, insight.text)
    kpis = dict(raw.execute("SELECT name, value FROM kpis").fetchall())
    for card in cards:
        assert card.value == pytest.approx(kpis[card.name], rel=1e-12)
        assert card.shown in {fmt.money(kpis[card.name]), fmt.percent(kpis[card.name]), fmt.count(kpis[card.name])}


@pytest.mark.parametrize("name", ["uci_workspace", "demo_workspace"])
def test_revenue_at_risk_at_its_cap_is_called_the_whole_projected_value(name: str,
                                                                        request: pytest.FixtureRequest) -> None:
    """The KPI is capped at the projected value (analytics.kpis); a capped figure is said to be the cap."""
    with Workspace.open(request.getfixturevalue(name)) as ws:
        at_risk, projected = ws.kpi("revenue_at_risk"), ws.kpi("projected_revenue")
        risk = next(i for i in charts.insights(ws) if i.key == "risk")
    assert at_risk is not None and projected is not None and 0 < at_risk <= projected
    assert ("the whole projected revenue" in risk.text) == (at_risk == projected), (at_risk, projected, risk.text)
