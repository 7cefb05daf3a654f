"""Plotly figures for :mod:`clvlens.models.diagnostics` (moved here from models/: models know no screens)."""

from __future__ import annotations

from typing import Any

__all__ = ["plot_alive_matrix", "plot_calibration_vs_holdout", "plot_frequency_pmf", "plot_tracking"]


def _go() -> Any:
    import plotly.graph_objects as go

    return go


def plot_calibration_vs_holdout(data: dict[str, Any]) -> Any:
    go = _go()
    fig = go.Figure()
    fig.add_scatter(x=data["frequency"], y=data["actual"], mode="lines+markers", name="actual")
    fig.add_scatter(x=data["frequency"], y=data["predicted"], mode="lines+markers", name="model")
    fig.update_layout(title="Holdout purchases by calibration frequency", xaxis_title="calibration frequency",
                      yaxis_title="mean holdout purchases")
    return fig


def plot_frequency_pmf(data: dict[str, Any]) -> Any:
    go = _go()
    fig = go.Figure()
    fig.add_bar(x=data["frequency"], y=data["observed"], name="actual")
    fig.add_bar(x=data["frequency"], y=data["expected"], name="model")
    fig.update_layout(title="Customers by number of repeat purchases", barmode="group",
                      xaxis_title="repeat purchases (last bin pooled)", yaxis_title="customers")
    return fig


def plot_tracking(data: dict[str, Any], cumulative: bool = True) -> Any:
    go = _go()
    kind = "cumulative" if cumulative else "incremental"
    fig = go.Figure()
    if f"actual_{kind}" in data:
        fig.add_scatter(x=data["time"], y=data[f"actual_{kind}"], mode="lines", name="actual")
    fig.add_scatter(x=data["time"], y=data[f"expected_{kind}"], mode="lines", name="model")
    fig.update_layout(title=f"Tracking {kind} repeat transactions", xaxis_title="time",
                      yaxis_title="repeat transactions")
    return fig


def plot_alive_matrix(data: dict[str, Any]) -> Any:
    go = _go()
    fig = go.Figure(go.Heatmap(z=data["p_alive"], x=data["recency"], y=data["frequency"], zmin=0, zmax=1,
                               colorbar={"title": "P(alive)"}))
    fig.update_layout(title="Probability alive by frequency and recency", xaxis_title="recency",
                      yaxis_title="frequency")
    return fig
