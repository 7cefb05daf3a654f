"""Strategy charts from workspace tables: the value x health asset matrix, segment roadmaps with money at
stake, and the Lorenz/Pareto concentration curve."""

from __future__ import annotations

from typing import Any

import polars as pl

from clvlens.charts.theme import ACTION_COLOURS, SEGMENT_COLOURS, Formatter, empty_figure, style

QUADRANTS = ("High-Value", "Growth", "At-Risk", "Critical Churn")


def asset_matrix(points: pl.DataFrame | None, fmt: Formatter, *, health_cut: float = 0.5,
                 health_label: str = "P(alive)") -> Any:
    """Scatter of projected value (x, log scale) against health (y) per customer, coloured by quadrant.

    `points` has value, health and value_segment per customer (`Workspace.asset_points`, a sample); the
    value cut is drawn where the quadrants split (the largest value of a low-value customer).
    """
    import plotly.graph_objects as go

    title = "Asset matrix: projected value x health"
    if points is None or points.is_empty():
        return empty_figure(title, "no health or value segments in this workspace (the model stage was skipped)")
    fig = go.Figure()
    for segment in QUADRANTS:
        part = points.filter(pl.col("value_segment") == segment)
        if part.is_empty():
            continue
        fig.add_trace(go.Scatter(
            x=part.get_column("value").clip(lower_bound=0.01).to_list(), y=part.get_column("health").to_list(),
            mode="markers", name=f"{segment} ({part.height:,})",
            marker={"color": SEGMENT_COLOURS[segment], "size": 5, "opacity": 0.55},
            text=part.get_column("customer_id").to_list(),
            hovertemplate="%{text}<br>value " + fmt.symbol + "%{x:,.0f}<br>health %{y:.2f}<extra></extra>",
        ))
    low = points.filter(pl.col("value_segment").is_in(["Growth", "Critical Churn"])).get_column("value").max()
    fig.add_hline(y=health_cut, line_dash="dash", line_color="#555")
    if low is not None:
        fig.add_vline(x=max(float(low), 0.01), line_dash="dash", line_color="#555")
    fig.update_xaxes(type="log", title=f"projected value ({fmt.code or 'currency'}, log scale)",
                     tickprefix=fmt.symbol)
    fig.update_yaxes(title=health_label, range=[-0.03, 1.03])
    return style(fig, title, height=460, subtitle=f"{points.height:,} customers shown; dashed lines are the cuts")


def segment_roadmap(segments: pl.DataFrame | None, fmt: Formatter, segment_type: str = "value") -> Any:
    """Horizontal bars of money at stake per segment, coloured by the playbook action, labelled with customers."""
    import plotly.graph_objects as go

    kind = "value quadrant" if segment_type == "value" else "RFM segment"
    title = f"Roadmap by {kind}: money at stake"
    if segments is None or segments.is_empty():
        return empty_figure(title, "no segments in this workspace (the strategy stage was skipped)")
    part = segments.filter(pl.col("segment_type") == segment_type) if "segment_type" in segments.columns else segments
    part = part.reverse()  # first segment at the top
    fig = go.Figure()
    for action in dict.fromkeys(part.get_column("action").to_list()):
        rows = part.filter(pl.col("action") == action)
        fig.add_trace(go.Bar(
            y=rows.get_column("segment").to_list(), x=rows.get_column("money_at_stake").to_list(), orientation="h",
            name=action, marker_color=ACTION_COLOURS.get(action, "#888"),
            text=[f"{fmt.money(v)} · {c:,} customers" for v, c in zip(
                rows.get_column("money_at_stake").to_list(), rows.get_column("customers").to_list(), strict=True)],
            textposition="auto",
            hovertemplate="%{y}<br>" + action + ": " + fmt.symbol + "%{x:,.0f}<extra></extra>",
        ))
    fig.update_layout(barmode="overlay")
    fig.update_xaxes(title="money at stake", tickprefix=fmt.symbol)
    fig.update_yaxes(categoryorder="array", categoryarray=part.get_column("segment").to_list(), automargin=True)
    return style(fig, title, height=max(300, 40 * part.height + 140))


def lorenz(curve: pl.DataFrame | None, fmt: Formatter, top10_share: float | None = None) -> Any:
    """The Lorenz curve of projected value against equality, with the top-10% share marked."""
    import plotly.graph_objects as go

    title = "Concentration of projected value (Lorenz / Pareto)"
    if curve is None or curve.is_empty():
        return empty_figure(title, "no Lorenz curve in this workspace (the strategy stage was skipped)")
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="equal shares",
                             line={"dash": "dash", "color": "#999"}))
    fig.add_trace(go.Scatter(x=curve.get_column("share_customers").to_list(),
                             y=curve.get_column("share_value").to_list(), mode="lines", name="customers",
                             fill="tonexty", line={"color": "#2a9d8f"}))
    if top10_share is not None:
        fig.add_annotation(x=0.9, y=1 - top10_share, text=f"top 10% hold {fmt.percent(top10_share)}",
                           showarrow=True, ax=-80, ay=-40)
    fig.update_xaxes(title="share of customers (lowest value first)", tickformat=".0%")
    fig.update_yaxes(title="share of projected value", tickformat=".0%")
    return style(fig, title, height=400)
