"""Cohort charts from the workspace's `cohorts` table: the retention heatmap and revenue per cohort customer."""

from __future__ import annotations

from typing import Any

import polars as pl

from clvlens.charts.theme import Formatter, empty_figure, style


def retention_heatmap(cohorts: pl.DataFrame | None) -> Any:
    """Share of each acquisition cohort (rows) active in each month since acquisition (columns)."""
    import plotly.graph_objects as go

    title = "Retention by acquisition cohort"
    if cohorts is None or cohorts.is_empty():
        return empty_figure(title, "no cohorts in this workspace (the strategy stage was skipped)")
    wide = cohorts.pivot(on="period", index="cohort", values="retention", sort_columns=True).sort("cohort")
    periods = [c for c in wide.columns if c != "cohort"]
    z = wide.select(periods).to_numpy()
    fig = go.Figure(go.Heatmap(
        z=z, x=[int(p) for p in periods], y=wide.get_column("cohort").to_list(), colorscale="Teal", zmin=0, zmax=1,
        colorbar={"title": {"text": "active"}, "tickformat": ".0%"},
        hovertemplate="cohort %{y}, month %{x}: %{z:.1%} active<extra></extra>",
    ))
    fig.update_xaxes(title="months since first purchase", dtick=1 if len(periods) <= 24 else None)
    fig.update_yaxes(title="cohort (first purchase month)", autorange="reversed", type="category")
    return style(fig, title, height=max(360, 18 * wide.height + 140), legend=False)


def revenue_per_cohort_customer(cohorts: pl.DataFrame | None, fmt: Formatter) -> Any:
    """Cumulative revenue per original customer of each cohort by months since acquisition."""
    import plotly.graph_objects as go

    title = "Cumulative revenue per cohort customer"
    if cohorts is None or cohorts.is_empty():
        return empty_figure(title, "no cohorts in this workspace (the strategy stage was skipped)")
    fig = go.Figure()
    names = cohorts.get_column("cohort").unique().sort().to_list()
    for index, name in enumerate(names):
        part = cohorts.filter(pl.col("cohort") == name).sort("period")
        fig.add_trace(go.Scatter(
            x=part.get_column("period").to_list(), y=part.get_column("cumulative_ltv").to_list(), mode="lines",
            name=name, line={"width": 1.5, "color": _ramp(index, len(names))},
            hovertemplate=f"cohort {name}, month %{{x}}: {fmt.symbol}%{{y:,.2f}}<extra></extra>",
        ))
    fig.update_xaxes(title="months since first purchase")
    fig.update_yaxes(title="revenue per original customer", tickprefix=fmt.symbol)
    return style(fig, title, height=420, subtitle="older cohorts darker")


def _ramp(index: int, total: int) -> str:
    share = index / max(total - 1, 1)
    start, end = (38, 70, 83), (233, 196, 106)
    return "rgb({},{},{})".format(*(round(a + (b - a) * share) for a, b in zip(start, end, strict=True)))
