"""Basket charts from the `bundles` and `rules` tables."""

from __future__ import annotations

from typing import Any

import polars as pl

from clvlens.charts.theme import empty_figure, style


def bundles_bar(bundles: pl.DataFrame | None, top: int = 12) -> Any:
    """The strongest bundles by lift, strongest at the top."""
    import plotly.graph_objects as go

    title = "Strongest bundles (bought together far more often than by chance)"
    if bundles is None or bundles.is_empty():
        return empty_figure(title, "no bundles in this workspace (no item ids, or too few baskets)")
    shown = bundles.sort("lift", descending=True).head(top).reverse()
    labels = [_short(label) for label in shown.get_column("label").to_list()]
    fig = go.Figure(go.Bar(
        x=shown.get_column("lift").to_list(), y=labels, orientation="h", marker_color="#2a9d8f",
        customdata=shown.get_column("support").to_list(),
        hovertemplate="%{y}<br>lift %{x:.1f}<br>in %{customdata:.2%} of baskets<extra></extra>",
    ))
    fig.update_xaxes(title="lift (times more often than if independent)")
    fig.update_yaxes(automargin=True)
    return style(fig, title, height=max(300, 30 * shown.height + 130), legend=False)


def rules_scatter(rules: pl.DataFrame | None, top: int = 500) -> Any:
    """Association rules: support against confidence, coloured by lift (the `top` rules by lift)."""
    import plotly.graph_objects as go

    title = "Association rules"
    if rules is None or rules.is_empty():
        return empty_figure(title, "no rules in this workspace")
    shown = rules.sort("lift", descending=True).head(top)
    fig = go.Figure(go.Scatter(
        x=shown.get_column("support").to_list(), y=shown.get_column("confidence").to_list(), mode="markers",
        text=shown.get_column("rule").to_list(),
        marker={"color": shown.get_column("lift").to_list(), "colorscale": "Teal", "showscale": True,
                "colorbar": {"title": {"text": "lift"}}, "size": 7, "opacity": 0.8},
        hovertemplate="%{text}<br>support %{x:.4f}<br>confidence %{y:.2f}<extra></extra>",
    ))
    fig.update_xaxes(title="support (share of baskets)")
    fig.update_yaxes(title="confidence")
    return style(fig, title, legend=False, subtitle=f"{shown.height:,} rules with the highest lift")


def _short(label: str, width: int = 60) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"
