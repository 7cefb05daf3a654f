"""Model checks straight from a transaction log, with their plotly figures: one customer's P(alive) path
(lifetimes ``calculate_alive_path``) and expected against actual cumulative and incremental repeat transactions
(lifetimes ``expected_cumulative_transactions``; Fader, Hardie & Lee 2005, figures 2 and 3).

Period semantics (both functions): time is counted in calendar periods of ``period`` (H, D, W from Monday, M or
Q) from the start of the period holding the first transaction in the log. Purchases in the same period are one
transaction. A row at period k is the *end* of period k - 1, the instant the period k starts: its actual count
holds the repeat transactions of periods 0 .. k - 1 (a purchase dated in period k is not yet counted), and its
expectation sums E[X(k - f)] over the customers whose first transaction fell in period f < k (each customer
is born at the start of their first period, so at the end of that period they are one period old). Ages are
converted to the model's time unit with average lengths (a month is 365.25 / 12 days).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
import plotly.graph_objects as go
import polars as pl

from clvlens.analytics._common import as_polars, require_columns
from clvlens.errors import ClvlensError
from clvlens.models._base import BaseModel
from clvlens.models.alive_path import MAX_POINTS, alive_path
from clvlens.timeunits import BASE_DAYS, unit_days

__all__ = [
    "alive_path_from_transactions",
    "expected_cumulative_transactions",
    "plot_alive_path",
    "plot_cumulative_transactions",
]

_TRUNCATE = {"H": "1h", "D": "1d", "W": "1w", "M": "1mo", "Q": "1q"}
#: customers' first periods x evaluation rows handled per block of expectations
_BLOCK = 2_000_000


def _period_index(frame: pl.DataFrame, period: str, origin: datetime) -> pl.Series:
    """Whole periods from ``origin`` (a period start) to each row's ``period_start``."""
    start = pl.col("period_start")
    if period in ("M", "Q"):
        months = (start.dt.year() - origin.year) * 12 + start.dt.month() - origin.month
        expr = months // (3 if period == "Q" else 1)
    else:
        seconds = BASE_DAYS[period] * 86_400.0
        expr = ((start - pl.lit(origin)).dt.total_seconds() / seconds).round(0)
    return frame.select(expr.cast(pl.Int64).alias("index")).to_series()


def _per_period(transactions: Any, period: str) -> pl.DataFrame:
    if period not in _TRUNCATE:
        raise ClvlensError(f"period: {period!r} must be one of H, D, W, M or Q")
    frame = as_polars(transactions, "transactions")
    require_columns(frame, ("customer_id", "timestamp"), "transactions")
    if frame.height == 0:
        raise ClvlensError("transactions: the table is empty")
    return (
        frame.select(pl.col("customer_id"), pl.col("timestamp").dt.truncate(_TRUNCATE[period]).alias("period_start"))
        .unique()
        .sort("customer_id", "period_start")
    )


def _periods_to_model_units(model: BaseModel, period: str) -> float:
    return BASE_DAYS[period] / unit_days(model.time_unit)


def expected_cumulative_transactions(
    model: BaseModel, transactions: Any, *, t: int, period: str = "D", step: int = 1
) -> pl.DataFrame:
    """Actual and expected cumulative and incremental repeat transactions over ``t`` periods of the log.

    ``step`` reports every ``step`` periods (lifetimes' ``freq_multiplier``). Returns one row per report:
    ``period`` (periods since the start), ``date`` (the instant the period starts, the end of the rows counted),
    ``actual_cumulative``, ``expected_cumulative``, ``actual_incremental``, ``expected_incremental``. See the
    module docstring for the period semantics.
    """
    if not (isinstance(t, int | np.integer) and isinstance(step, int | np.integer) and 0 < step <= t):
        raise ClvlensError(f"t: {t!r} and step: {step!r} must be whole numbers with 0 < step <= t")
    merged = _per_period(transactions, period)
    origin = merged.get_column("period_start").min()
    assert isinstance(origin, datetime)
    merged = merged.with_columns(_period_index(merged, period, origin).alias("index"))
    first_mask = merged.select(pl.col("index") == pl.col("index").min().over("customer_id")).to_series()
    first = merged.filter(first_mask).get_column("index").to_numpy()
    repeats = np.sort(merged.filter(~first_mask).get_column("index").to_numpy())
    ends = np.arange(step, int(t) + 1, step)
    actual = np.searchsorted(repeats, ends, side="left").astype(float)  # periods 0 .. k - 1
    cohorts, sizes = np.unique(first, return_counts=True)
    to_units = _periods_to_model_units(model, period)
    expected = np.zeros(ends.size)
    rows = max(1, _BLOCK // max(cohorts.size, 1))
    for start in range(0, ends.size, rows):
        block = ends[start : start + rows]
        ages = np.maximum(block[None, :] - cohorts[:, None], 0).astype(float) * to_units
        values = model.expected_number_of_purchases_up_to_time(ages)  # type: ignore[attr-defined]
        expected[start : start + rows] = sizes @ np.where(ages > 0, values, 0.0)
    dates = [_shift(origin, period, int(k)) for k in ends]
    return pl.DataFrame({
        "period": ends,
        "date": dates,
        "actual_cumulative": actual,
        "expected_cumulative": expected,
        "actual_incremental": np.diff(actual, prepend=0.0),
        "expected_incremental": np.diff(expected, prepend=0.0),
    })


def _shift(origin: datetime, period: str, k: int) -> datetime:
    if period in ("M", "Q"):
        months = origin.month - 1 + k * (3 if period == "Q" else 1)
        return origin.replace(year=origin.year + months // 12, month=months % 12 + 1)
    return origin + timedelta(days=BASE_DAYS[period] * k)


def alive_path_from_transactions(
    model: BaseModel, transactions: Any, customer_id: Any, *, t: float | None = None, period: str = "D",
    step: float = 1.0,
) -> pl.DataFrame:
    """P(alive) of one customer from their first purchase to age ``t`` (in ``period`` periods; default: up to
    the last date in the log), every ``step`` periods: columns ``age`` (periods), ``date``, ``frequency``,
    ``recency`` (model units) and ``p_alive``. Purchases are merged per period and dated at the period start.
    """
    merged = _per_period(transactions, period)
    own = merged.filter(pl.col("customer_id").cast(pl.String) == str(customer_id))
    if own.height == 0:
        raise ClvlensError(f"customer_id: {customer_id!r} has no transaction in the log")
    first = own.get_column("period_start").min()
    assert isinstance(first, datetime)
    index = _period_index(own, period, first).to_numpy().astype(float)
    if t is None:
        last_all = merged.select(pl.col("period_start").max()).item()
        t = float(_period_index(pl.DataFrame({"period_start": [last_all]}), period, first)[0])
    if not (np.isfinite(t) and t >= 0 and step > 0 and t / step < MAX_POINTS):
        raise ClvlensError(f"t: {t!r} and step: {step!r} must give 1 to {MAX_POINTS:,} ages >= 0")
    ages = np.arange(0.0, float(t) + step / 2, step)
    to_units = _periods_to_model_units(model, period)
    path = alive_path(model, index * to_units, ages * to_units)
    dates = [_shift(first, period, int(a)) if period in ("M", "Q") else first + timedelta(days=BASE_DAYS[period] * a)
             for a in ages]
    return pl.DataFrame({
        "age": ages, "date": dates, "frequency": path["frequency"], "recency": path["recency"],
        "p_alive": path["p_alive"],
    })


def plot_alive_path(path: pl.DataFrame, title: str = "Probability the customer is alive") -> go.Figure:
    """The P(alive) path of :func:`alive_path_from_transactions`, purchases marked where frequency steps up."""
    dates = path.get_column("date").to_list()
    p_alive = path.get_column("p_alive").to_list()
    frequency = path.get_column("frequency").to_numpy()
    bought = np.flatnonzero(np.diff(frequency, prepend=-1.0) > 0)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=dates, y=p_alive, mode="lines", name="P(alive)"))
    fig.add_trace(go.Scatter(x=[dates[i] for i in bought], y=[p_alive[i] for i in bought], mode="markers",
                             name="purchase", marker={"symbol": "line-ns-open", "size": 14}))
    fig.update_layout(title=title, xaxis_title="date", yaxis_title="P(alive)", yaxis_range=[0, 1.05])
    return fig


def plot_cumulative_transactions(table: pl.DataFrame, incremental: bool = False) -> go.Figure:
    """Actual against expected repeat transactions of :func:`expected_cumulative_transactions`."""
    kind = "incremental" if incremental else "cumulative"
    dates = table.get_column("date").to_list()
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=dates, y=table.get_column(f"actual_{kind}").to_list(), mode="lines", name="actual"))
    fig.add_trace(go.Scatter(x=dates, y=table.get_column(f"expected_{kind}").to_list(), mode="lines",
                             name="model", line={"dash": "dash"}))
    fig.update_layout(title=f"Tracking {kind} repeat transactions", xaxis_title="end of period",
                      yaxis_title="repeat transactions")
    return fig
