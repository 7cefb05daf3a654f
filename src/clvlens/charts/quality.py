"""Data-quality chart from the `cleaning_report` table: rows kept and rejected per reason."""

from __future__ import annotations

from typing import Any

import polars as pl

from clvlens.charts.theme import empty_figure, style


def cleaning_report(report: pl.DataFrame | None) -> Any:
    """Rows per cleaning outcome (kept, then each quarantine reason), log scale so small reasons stay visible."""
    import plotly.graph_objects as go

    title = "Data quality: rows kept and quarantined by reason"
    if report is None or report.is_empty():
        return empty_figure(title, "no cleaning report in this workspace")
    ordered = report.sort("rows").with_columns(pl.col("rows").clip(lower_bound=0))
    colours = ["#2a9d8f" if o == "kept" else "#e76f51" for o in ordered.get_column("outcome").to_list()]
    fig = go.Figure(go.Bar(
        x=ordered.get_column("rows").to_list(), y=ordered.get_column("outcome").to_list(), orientation="h",
        marker_color=colours, text=[f"{v:,}" for v in ordered.get_column("rows").to_list()], textposition="auto",
        customdata=ordered.get_column("description").to_list() if "description" in ordered.columns else None,
        hovertemplate="%{y}: %{x:,} rows<br>%{customdata}<extra></extra>",
    ))
    fig.update_xaxes(title="rows (log scale)", type="log")
    fig.update_yaxes(automargin=True)
    return style(fig, title, height=max(260, 34 * ordered.height + 120), legend=False)
