"""Values that add up: the basis every value is stated on, seasonality applied to the BTYD forecast, and the
calibration of the machine-learned LTV against the BTYD and historical totals.

Basis. ``clv`` (and its interval) is the expected margin (spend x ``margin``) over the horizon after the
observation end, discounted at the annual discount rate; ``ltv_ml`` is the ML forecast of spend over its stated
horizon x ``margin``, undiscounted; the KPIs built on them (projected value, value at risk, ...) say the same.
run_info holds ``value_basis`` and ``ltv_ml_basis`` in words, e.g. "12M, discounted at 10%/yr, margin 0.3".

Seasonality. Where the observed data hold two years of whole calendar months, the monthly index of
:mod:`clvlens.models.seasonality` is estimated from the purchase days (one per customer and day, as in the RFM
summary) and the BTYD expected purchases, CLV and its interval are multiplied by the seasonal factor of the
horizon after the observation end: the index averaged over the horizon's calendar months, each month weighted
by the model's expected purchases of the whole base in it (a sample of at most 5,000 customers). Otherwise
run_info ``seasonality`` says why it could not be estimated.

ML calibration. The ML forecast total is checked against the range spanned by the BTYD total (expected purchases
x expected spend over the same window, undiscounted, seasonal factor applied) and the historical baseline (the
revenue of the last window of the same length before the observation end), widened by ``ML_TOLERANCE`` (25%) on
each side: a forecast within [0.75 min, 1.25 max] is kept. Outside it, the forecast is rescaled to the BTYD total
(to the baseline where no BTYD model was fitted) and run_info ``ml_calibration`` says why. The check runs on the
model the run trained on its internal time split (features at the observation end minus the label window, labels
after it), scoring the customers as of the observation end.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from clvlens.errors import ClvlensError
from clvlens.models import parse_horizon
from clvlens.models.seasonality import SeasonalIndex, seasonal_index, window_months
from clvlens.summary.rfm import UNIT_DAYS

ML_TOLERANCE = 0.25
SEASONAL_SAMPLE = 5_000
SEASONAL_COLUMNS = ("expected_purchases", "clv", "clv_lower", "clv_upper")


def value_basis(horizon: str, discount_rate: float | None, margin: float) -> str:
    """The basis of a value in words, e.g. "12M, discounted at 10%/yr, margin 0.3"."""
    discount = "undiscounted" if discount_rate is None else f"discounted at {discount_rate:.0%}/yr"
    kind = "revenue (margin 1)" if margin == 1 else f"margin {margin:g}"
    return f"{horizon}, {discount}, {kind}"


def purchase_months(transactions: pl.DataFrame, observation_end: datetime) -> pl.DataFrame:
    """year, month, purchases: purchase days (customer-days) per whole calendar month up to the observation end."""
    first = transactions.get_column("timestamp").min()
    if first is None:
        return pl.DataFrame(schema={"year": pl.Int32, "month": pl.Int8, "purchases": pl.UInt32})
    start = first.date() if isinstance(first, datetime) else first  # type: ignore[union-attr]
    start_month = date(start.year, start.month, 1)
    if start.day != 1:
        start_month = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
    end = observation_end.date()
    next_day = end + timedelta(days=1)
    end_month = date(end.year, end.month, 1) if next_day.day == 1 else _month_start_before(end)
    # lazily and filtered first: only the two columns of the lines in whole months are deduplicated
    days = (
        transactions.lazy()
        .select("customer_id", pl.col("timestamp").dt.date().alias("day"))
        .filter((pl.col("day") >= start_month) & (pl.col("day") < _next_month(end_month)))
        .unique()
    )
    counted = days.group_by(
        pl.col("day").dt.year().alias("year"), pl.col("day").dt.month().alias("month")
    ).len().collect()
    months = []
    cursor = start_month
    while cursor <= end_month:
        months.append((cursor.year, cursor.month))
        cursor = _next_month(cursor)
    grid = pl.DataFrame({"year": [y for y, _ in months], "month": [m for _, m in months]},
                        schema={"year": pl.Int32, "month": pl.Int8})
    return grid.join(counted.with_columns(pl.col("year").cast(pl.Int32), pl.col("month").cast(pl.Int8)),
                     on=["year", "month"], how="left").select(
        "year", "month", pl.col("len").fill_null(0).alias("purchases"))


def estimate_seasonality(transactions: pl.DataFrame, observation_end: datetime) -> tuple[SeasonalIndex | None, str]:
    """The seasonal index of the data up to the observation end, or None and the reason it could not be had."""
    months = purchase_months(transactions, observation_end)
    try:
        index = seasonal_index(months["year"].to_numpy(), months["month"].to_numpy(),
                               months["purchases"].to_numpy())
    except ClvlensError as exc:
        return None, str(exc)
    return index, f"monthly index from {index.months_used} whole months: {index.describe()}"


def seasonal_factor(
    index: SeasonalIndex, model: Any, customers: pl.DataFrame, observation_end: datetime, horizon: str,
    time_unit: str,
) -> float:
    """The index averaged over the horizon's calendar months, weighted by the base's expected purchases in each."""
    start = observation_end.date()
    end = start + timedelta(days=round(parse_horizon(horizon, "D")))
    _, days = window_months(start, end)
    sample = customers if customers.height <= SEASONAL_SAMPLE else customers.sample(SEASONAL_SAMPLE, seed=0)
    x, tx, T = (sample[c].to_numpy().astype(float) for c in ("frequency", "recency", "T"))
    cumulative = [0.0]
    for elapsed in np.cumsum(days):
        t = float(elapsed) / UNIT_DAYS[time_unit]
        cumulative.append(float(np.sum(model.conditional_expected_number_of_purchases_up_to_time(t, x, tx, T))))
    weights = np.clip(np.diff(cumulative), 0.0, None)
    if not np.isfinite(weights).all() or weights.sum() <= 0:
        return index.factor(start, end)
    return index.factor(start, end, weights)


def apply_seasonality(scores: pl.DataFrame, factor: float) -> pl.DataFrame:
    """Multiply the BTYD forecast columns (expected purchases, CLV and its interval) by the seasonal factor."""
    return scores.with_columns([pl.col(c) * factor for c in SEASONAL_COLUMNS if c in scores.columns])


def window_revenue(transactions: pl.DataFrame, observation_end: datetime, days: float) -> float:
    """Revenue in the `days` before the observation end (the end day included)."""
    start = observation_end + timedelta(days=1) - timedelta(days=days)
    # only the window's amounts are gathered (not a copy of every column of its lines); they are summed eagerly,
    # in one order every run, where a lazy sum's order can change between runs (and so its last bits)
    amounts = transactions.lazy().filter(
        (pl.col("timestamp") >= start) & (pl.col("timestamp") < observation_end + timedelta(days=1))
    ).select("amount").collect().get_column("amount")
    return float(amounts.sum() or 0.0)


def calibration_check(ml_total: float, btyd_total: float | None, baseline: float) -> tuple[float, str]:
    """(factor to apply to the ML forecast, note): 1 when the total lies in the tolerated range, else the factor
    that brings it to the BTYD total (the baseline without one). See the module docstring."""
    anchors = [baseline] if btyd_total is None else [btyd_total, baseline]
    low, high = min(anchors), max(anchors)
    lower, upper = (1 - ML_TOLERANCE) * low, (1 + ML_TOLERANCE) * high
    described = (f"ML total {ml_total:,.0f}; BTYD {btyd_total:,.0f}, " if btyd_total is not None
                 else f"ML total {ml_total:,.0f}; no BTYD model, ") + f"last-window revenue {baseline:,.0f}"
    if lower <= ml_total <= upper:
        return 1.0, f"kept: {described} (in range within {ML_TOLERANCE:.0%})"
    target = btyd_total if btyd_total is not None else baseline
    if ml_total <= 0 or target <= 0:
        return float("nan"), f"unavailable: {described}; no positive total to rescale to"
    factor = target / ml_total
    to = "the BTYD total" if btyd_total is not None else "the baseline"
    return factor, (
        f"rescaled x{factor:.3f} to {to}: {described}; outside [{lower:,.0f}, {upper:,.0f}] "
        f"(range widened by {ML_TOLERANCE:.0%})"
    )


def btyd_window_total(fitted: Any, customers: pl.DataFrame, days: float, factor: float = 1.0) -> float:
    """BTYD expected spend over `days` after the observation end, undiscounted: sum of E[X] x E[spend] x factor."""
    x, tx, T = (customers[c].to_numpy().astype(float) for c in ("frequency", "recency", "T"))
    t = days / UNIT_DAYS[fitted.time_unit]
    purchases = fitted.transaction_model.conditional_expected_number_of_purchases_up_to_time(t, x, tx, T)
    if fitted.spend_model is not None:
        monetary = customers["monetary_value"].fill_null(0.0).to_numpy().astype(float)
        spend = fitted.spend_model.conditional_expected_average_profit(x, monetary)
    else:
        spend = np.full(x.shape, fitted.fallback_spend, dtype=float)
    return float(np.sum(purchases * spend) * factor)


def _next_month(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def _month_start_before(day: date) -> date:
    """The first day of the month before `day`'s month."""
    return date(day.year - (day.month == 1), (day.month - 2) % 12 + 1, 1)
