"""Plotly figures of a scorecard: the gain (lift) chart and predicted-vs-actual calibration by decile."""

from __future__ import annotations

from typing import TYPE_CHECKING

import plotly.graph_objects as go

if TYPE_CHECKING:
    from clvlens.analytics.evaluation.scorecard import Scorecard


def plot_gains(scorecard: Scorecard) -> go.Figure:
    """Cumulative share of holdout revenue against the share of customers taken by decreasing prediction.

    The dashed diagonal is a random ranking; the dotted "perfect" line ranks by the actual holdout value.
    """
    fig = go.Figure()
    for name in scorecard.gains.get_column("model").unique(maintain_order=True).to_list():
        part = scorecard.gains.filter(scorecard.gains.get_column("model") == name)
        fig.add_trace(go.Scatter(
            x=part.get_column("share_customers").to_list(),
            y=part.get_column("share_revenue").to_list(),
            mode="lines",
            name=name,
            line={"dash": "dot", "color": "black"} if name == "perfect" else {},
        ))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="random",
                             line={"dash": "dash", "color": "grey"}))
    fig.update_layout(
        title=f"Gain chart: holdout {scorecard.calibration_end.date()} to {scorecard.observation_end.date()}",
        xaxis={"title": "share of customers (highest predicted first)", "tickformat": ".0%"},
        yaxis={"title": "share of holdout revenue", "tickformat": ".0%"},
        template="plotly_white",
    )
    return fig


def plot_calibration(scorecard: Scorecard) -> go.Figure:
    """Mean predicted against mean actual holdout value per decile of prediction, one line per model."""
    fig = go.Figure()
    deciles = scorecard.deciles
    for name in deciles.get_column("model").unique(maintain_order=True).to_list():
        part = deciles.filter(deciles.get_column("model") == name)
        fig.add_trace(go.Scatter(
            x=part.get_column("mean_predicted").to_list(),
            y=part.get_column("mean_actual").to_list(),
            mode="lines+markers",
            name=name,
            text=[f"decile {d}" for d in part.get_column("decile").to_list()],
        ))
    top = float(max(deciles.get_column("mean_predicted").max() or 0.0, deciles.get_column("mean_actual").max() or 0.0))
    fig.add_trace(go.Scatter(x=[0, top], y=[0, top], mode="lines", name="ideal", line={"dash": "dash",
                                                                                      "color": "grey"}))
    fig.update_layout(
        title="Calibration by decile of predicted value",
        xaxis={"title": "mean predicted value"},
        yaxis={"title": "mean actual value"},
        template="plotly_white",
    )
    return fig
