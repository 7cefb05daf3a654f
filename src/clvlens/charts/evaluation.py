"""Model charts from workspace data: frequency histogram and tracking of the chosen model, the holdout scorecard
(predicted against actual totals per model) and the gain chart."""

from __future__ import annotations

from typing import Any

import polars as pl

from clvlens.charts.theme import Formatter, empty_figure, style


def frequency_histogram(diagnostics: Any) -> Any:
    """Customers by number of repeat purchases: observed against the model's expectation (`ModelDiagnostics`)."""
    import plotly.graph_objects as go

    title = "Repeat purchases per customer: observed and model"
    if diagnostics is None:
        return empty_figure(title, "no fitted model in this workspace")
    data = diagnostics.frequency
    labels = [str(int(f)) for f in data["frequency"]]
    labels[-1] += "+"
    fig = go.Figure()
    fig.add_bar(x=labels, y=list(data["observed"]), name="observed", marker_color="#264653")
    fig.add_bar(x=labels, y=list(data["expected"]), name=f"{diagnostics.model} expected", marker_color="#e9c46a")
    fig.update_layout(barmode="group")
    fig.update_xaxes(title="repeat purchase days", type="category")
    fig.update_yaxes(title="customers")
    note = f"{diagnostics.sampled:,} of {diagnostics.customers:,} customers" if (
        diagnostics.sampled < diagnostics.customers) else None
    return style(fig, title, subtitle=note)


def tracking(diagnostics: Any, cumulative: bool = True) -> Any:
    """Repeat purchase days over time: actual against the model's expectation for the same customers."""
    import plotly.graph_objects as go

    kind = "cumulative" if cumulative else "incremental"
    title = f"Tracking: {kind} repeat purchases, actual and model"
    if diagnostics is None:
        return empty_figure(title, "no fitted model in this workspace")
    data = diagnostics.tracking
    fig = go.Figure()
    if f"actual_{kind}" in data:
        fig.add_scatter(x=list(data["time"]), y=list(data[f"actual_{kind}"]), mode="lines", name="actual",
                        line={"color": "#264653"})
    fig.add_scatter(x=list(data["time"]), y=list(data[f"expected_{kind}"]), mode="lines",
                    name=f"{diagnostics.model} expected", line={"color": "#e76f51", "dash": "dash"})
    fig.update_xaxes(title=f"time since the first customer's first purchase ({diagnostics.time_unit})")
    fig.update_yaxes(title="repeat purchase days")
    return style(fig, title)


def holdout_calibration(scorecard: pl.DataFrame | None, fmt: Formatter) -> Any:
    """Predicted against actual holdout value per model (bars), from the `scorecard` table."""
    import plotly.graph_objects as go

    title = "Holdout check: predicted and actual value per model"
    if scorecard is None or scorecard.is_empty() or "predicted_total" not in scorecard.columns:
        return empty_figure(title, "no scorecard in this workspace (the scorecard stage was skipped)")
    ok = scorecard.filter(pl.col("predicted_total").is_not_null())
    models = ok.get_column("model").to_list()
    fig = go.Figure()
    fig.add_bar(x=models, y=ok.get_column("actual_total").to_list(), name="actual", marker_color="#264653")
    fig.add_bar(x=models, y=ok.get_column("predicted_total").to_list(), name="predicted", marker_color="#2a9d8f")
    fig.update_layout(barmode="group")
    fig.update_yaxes(title="holdout value", tickprefix=fmt.symbol)
    return style(fig, title, subtitle="each model fitted before the holdout, scored on the same customers")


def gains(gains_table: pl.DataFrame | None) -> Any:
    """Cumulative share of holdout revenue captured by the customers ranked highest by each model."""
    import plotly.graph_objects as go

    title = "Gain chart: holdout revenue captured by each model's top customers"
    if gains_table is None or gains_table.is_empty():
        return empty_figure(title, "no scorecard in this workspace (the scorecard stage was skipped)")
    fig = go.Figure()
    for name in gains_table.get_column("model").unique(maintain_order=True).to_list():
        part = gains_table.filter(pl.col("model") == name)
        fig.add_scatter(x=part.get_column("share_customers").to_list(), y=part.get_column("share_revenue").to_list(),
                        mode="lines", name=name,
                        line={"dash": "dot", "color": "black"} if name == "perfect" else {"width": 1.5})
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="random", line={"dash": "dash", "color": "#999"})
    fig.update_xaxes(title="share of customers (highest predicted first)", tickformat=".0%")
    fig.update_yaxes(title="share of holdout revenue", tickformat=".0%")
    return style(fig, title, height=440)


SCORECARD_COLUMNS: tuple[tuple[str, str], ...] = (
    ("model", "model"), ("family", "family"), ("mae_value", "MAE value"), ("bias_value", "bias value"),
    ("top20_share", "top-20% share"), ("gini_norm", "normalised Gini"), ("spearman", "Spearman"),
)


def scorecard_rows(scorecard: pl.DataFrame | None, fmt: Formatter) -> list[list[str]]:
    """The scorecard as formatted rows (header first) for an HTML table."""
    if scorecard is None or scorecard.is_empty():
        return []
    present = [(key, label) for key, label in SCORECARD_COLUMNS if key in scorecard.columns]
    rows = [[label for _, label in present]]
    for row in scorecard.iter_rows(named=True):
        if row.get("error"):
            rows.append([row["model"], row.get("family") or "", f"failed: {row['error'][:80]}"]
                        + [""] * (len(present) - 3))
            continue
        cells = []
        for key, _ in present:
            value = row[key]
            if value is None:
                cells.append("-")
            elif key in ("mae_value", "bias_value"):
                cells.append(fmt.money(value))
            elif key == "top20_share":
                cells.append(fmt.percent(value, 1))
            elif isinstance(value, float):
                cells.append(f"{value:.3f}")
            else:
                cells.append(str(value))
        rows.append(cells)
    return rows
