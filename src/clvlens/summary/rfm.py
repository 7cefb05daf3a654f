"""The RFM summary: per customer frequency, recency, T and monetary value, in an explicit time unit.

Definitions follow Fader, Hardie & Lee (2005), "Counting your customers the easy way", and the Gamma-Gamma note
(Fader & Hardie 2013):

- purchases in the same merge period (a day by default) are one transaction, their amounts added;
- `frequency` = number of transactions - 1 (repeat purchases);
- `recency` = time from the first to the last transaction; `T` = time from the first transaction to the end of the
  observation period (the end date itself, so a first purchase on the last day has T = 0);
- `monetary_value` = mean value of the repeat transactions (0 when there are none); `total_value` and
  `first_value` keep the rest.

Durations are days divided by the unit's length: D = 1, W = 7, M = 365.25 / 12 (an average month, never a hidden
30 days). The definition is written once with narwhals and runs on Polars (the default: measured fastest, see
docs/benchmarks.md) or DuckDB, and on Spark through the same expressions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import narwhals as nw
import polars as pl

from clvlens.errors import ClvlensError
from clvlens.summary.engine import from_result, to_engine

UNIT_DAYS: dict[str, float] = {"D": 1.0, "W": 7.0, "M": 365.25 / 12}
MERGE_PERIODS: dict[str, str] = {"D": "1d", "W": "1w", "M": "1mo"}
SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class SummaryPeriod:
    """The time frame of a summary: unit, merge period, end of observation and optional end of calibration."""

    time_unit: str
    observation_end: datetime
    calibration_end: datetime | None = None
    merge: str | None = "D"

    @property
    def unit_days(self) -> float:
        return UNIT_DAYS[self.time_unit]

    @property
    def holdout_length(self) -> float | None:
        if self.calibration_end is None:
            return None
        return (self.observation_end - self.calibration_end).total_seconds() / SECONDS_PER_DAY / self.unit_days


def rfm_summary(
    transactions: Any,
    *,
    time_unit: str = "D",
    observation_end: str | date | datetime | None = None,
    calibration_end: str | date | datetime | None = None,
    merge: str | None = "D",
    engine: str = "polars",
) -> Any:
    """Summarise a canonical transaction frame (customer_id, timestamp, amount) into one row per customer.

    With `calibration_end`, the summary covers the calibration period (transactions up to that date) and adds
    `frequency_holdout`, `monetary_value_holdout`, `value_holdout` and `duration_holdout` from the holdout
    period up to `observation_end`. Dates are inclusive: a transaction on the end date belongs to the period.
    The input may be pandas, Polars, Arrow or DuckDB; the result is of the same kind (Polars for DuckDB).
    """
    period = resolve_period(transactions, time_unit, observation_end, calibration_end, merge, engine)
    lazy = to_engine(transactions, engine)
    result = summary_expression(lazy, period)
    return from_result(result, transactions)


def resolve_period(
    transactions: Any,
    time_unit: str,
    observation_end: str | date | datetime | None,
    calibration_end: str | date | datetime | None,
    merge: str | None,
    engine: str = "polars",
) -> SummaryPeriod:
    """Validate the time settings; the observation end defaults to the date of the last transaction."""
    unit = time_unit.upper()
    if unit not in UNIT_DAYS:
        raise ClvlensError(f"time unit must be D, W or M, got '{time_unit}'")
    if merge is not None and merge.upper() not in MERGE_PERIODS:
        raise ClvlensError(f"merge period must be D, W, M or none, got '{merge}'")
    if observation_end is None:
        last = nw.from_native(to_engine(transactions, engine)).select(nw.col("timestamp").max()).collect()
        value = last.item(0, 0)
        if value is None:
            raise ClvlensError("no transactions to summarise (the table is empty)")
        last = _as_datetime(value, "observation_end")
        end = datetime(last.year, last.month, last.day)  # the end is a date: T counts whole days to it
    else:
        end = _as_datetime(observation_end, "observation_end")
    cal = _as_datetime(calibration_end, "calibration_end") if calibration_end is not None else None
    if cal is not None and cal >= end:
        raise ClvlensError(f"calibration_end {cal.date()} must be before observation_end {end.date()}")
    return SummaryPeriod(unit, end, cal, merge.upper() if merge else None)


def summary_expression(lazy: Any, period: SummaryPeriod) -> Any:
    """The summary as one lazy narwhals query over a native lazy frame (Polars, DuckDB or Spark)."""
    frame = nw.from_native(lazy)
    missing = {"customer_id", "timestamp", "amount"} - set(frame.collect_schema().names())
    if missing:
        raise ClvlensError(f"transactions: missing column '{sorted(missing)[0]}' for the RFM summary")
    end_exclusive = period.observation_end + timedelta(days=1)
    frame = frame.filter(nw.col("timestamp") < nw.lit(end_exclusive))
    per_period = _merge_transactions(frame, period.merge)
    if period.calibration_end is None:
        return _customer_summary(per_period, period.observation_end, period.unit_days)
    cal_exclusive = period.calibration_end + timedelta(days=1)
    calibration = per_period.filter(nw.col("period") < nw.lit(cal_exclusive))
    holdout = (
        per_period.filter(nw.col("period") >= nw.lit(cal_exclusive))
        .group_by("customer_id")
        .agg(
            nw.len().alias("frequency_holdout"),
            nw.col("amount").mean().alias("monetary_value_holdout"),
            nw.col("amount").sum().alias("value_holdout"),
        )
    )
    summary = _customer_summary(calibration, period.calibration_end, period.unit_days)
    return summary.join(holdout, on="customer_id", how="left").with_columns(
        nw.col("frequency_holdout").fill_null(0).cast(nw.Int64),
        nw.col("monetary_value_holdout").fill_null(0.0),
        nw.col("value_holdout").fill_null(0.0),
        nw.lit(period.holdout_length).cast(nw.Float64).alias("duration_holdout"),
    )


def _merge_transactions(frame: Any, merge: str | None) -> Any:
    stamp = nw.col("timestamp")
    period = stamp.dt.truncate(MERGE_PERIODS[merge]) if merge else stamp
    return (
        frame.select(nw.col("customer_id"), period.alias("period"), nw.col("amount").cast(nw.Float64))
        .group_by("customer_id", "period")
        .agg(nw.col("amount").sum())
    )


def _customer_summary(per_period: Any, end: datetime, unit_days: float) -> Any:
    unit_seconds = unit_days * SECONDS_PER_DAY
    customers = per_period.group_by("customer_id").agg(
        nw.col("period").min().alias("first_purchase"),
        nw.col("period").max().alias("last_purchase"),
        nw.len().alias("transactions"),
        nw.col("amount").sum().alias("total_value"),
        nw.col("amount").first(order_by="period").alias("first_value"),
    )
    frequency = nw.col("transactions") - 1
    return customers.select(
        nw.col("customer_id"),
        frequency.cast(nw.Int64).alias("frequency"),
        ((nw.col("last_purchase") - nw.col("first_purchase")).dt.total_seconds() / unit_seconds).alias("recency"),
        ((nw.lit(end) - nw.col("first_purchase")).dt.total_seconds() / unit_seconds).alias("T"),
        nw.when(frequency > 0)
        .then((nw.col("total_value") - nw.col("first_value")) / frequency)
        .otherwise(0.0)
        .alias("monetary_value"),
        nw.col("total_value"),
        nw.col("first_value"),
        nw.col("first_purchase"),
        nw.col("last_purchase"),
    )


def _as_datetime(value: Any, name: str) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime().replace(tzinfo=None)
    try:
        parsed = datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise ClvlensError(f"{name}: cannot read '{value}' as a date (use YYYY-MM-DD)") from None
    return parsed.replace(tzinfo=None)


def sort_by_customer(summary: pl.DataFrame) -> pl.DataFrame:
    """Sort a Polars summary by customer id, numerically when every id is a number."""
    ids = summary.get_column("customer_id").cast(pl.String)
    numeric = ids.str.to_integer(strict=False)
    if numeric.null_count() == 0:
        return summary.with_columns(numeric.alias("_key")).sort("_key").drop("_key")
    return summary.sort("customer_id")
