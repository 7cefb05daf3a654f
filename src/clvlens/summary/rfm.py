"""The RFM summary: per customer frequency, recency, T and monetary value, in an explicit time unit.

Definitions follow Fader, Hardie & Lee (2005), "Counting your customers the easy way", and the Gamma-Gamma note
(Fader & Hardie 2013):

- purchases in the same merge period (a day by default) are one transaction, their amounts added;
- `frequency` = number of transactions - 1 (repeat purchases);
- `recency` = time from the first to the last transaction; `T` = time from the first transaction to the end of the
  observation period (the end date itself, so a first purchase on the last day has T = 0);
- `monetary_value` = mean value of the repeat transactions (0 when there are none); `total_value` and
  `first_value` keep the rest.

Time units are H, D, W, M and Q with optional whole multiples ("2W", "4H", "1Q"); lengths use the calendar's
averages: W = 7 days, M = 365.25 / 12 days (an average month, never a hidden 30 days), Q = 365.25 / 4 days.

Two ways of measuring time (``periods``):

- ``"exact"`` (the default): durations are the exact time between the (merge-period) dates divided by the
  unit's length, so a customer 40 days old is 5.714 weeks old;
- ``"whole"``: every date is moved back to the start of its calendar period of the unit's kind (weeks start on
  Monday, as in pandas' weekly periods and ISO 8601) and durations count whole periods between those starts,
  divided by the multiple: lifetimes' and PyMC-Marketing's ``freq="W"``. Purchases in the same period are then
  one transaction (the merge period is at least the unit's).

Whatever the mode, the observation end is moved back the same way as the purchases (to the start of its merge
period, and of its unit period when whole), so T never counts the days between a period's start and the end.

The definition is written once with narwhals and runs on Polars (the default: measured fastest, see
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
from clvlens.timeunits import BASE_DAYS, MODEL_BASES, TimeUnit, parse_time_unit

UNIT_DAYS: dict[str, float] = {k: BASE_DAYS[k] for k in MODEL_BASES}
#: merge periods: narwhals truncation rules (weeks are computed from the weekday, see _period_start)
MERGE_PERIODS: dict[str, str] = {"H": "1h", "D": "1d", "W": "1w", "M": "1mo", "Q": "1q"}
PERIODS = ("exact", "whole")
SECONDS_PER_DAY = 86_400.0
_ONE_DAY = timedelta(days=1)
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True)
class SummaryPeriod:
    """The time frame of a summary: unit, merge period, end of observation and optional end of calibration.

    ``merge`` is the effective merge period (None: every timestamp is its own transaction); ``periods`` is
    ``"exact"`` or ``"whole"``.
    """

    time_unit: str
    observation_end: datetime
    calibration_end: datetime | None = None
    merge: str | None = "D"
    periods: str = "exact"
    include_first_transaction: bool = False

    @property
    def unit(self) -> TimeUnit:
        return parse_time_unit(self.time_unit)

    @property
    def unit_days(self) -> float:
        return self.unit.days

    @property
    def holdout_length(self) -> float | None:
        """Length of the holdout period in units: exact time, or whole periods between the two ends' periods."""
        if self.calibration_end is None:
            return None
        if self.periods == "whole":
            unit = self.unit
            start, end = (anchor(d, self.merge, unit.base) for d in (self.calibration_end, self.observation_end))
            return _whole_between(start, end, unit.base) / unit.multiple
        return (self.observation_end - self.calibration_end).total_seconds() / SECONDS_PER_DAY / self.unit_days


def rfm_summary(
    transactions: Any,
    *,
    time_unit: str = "D",
    observation_end: str | date | datetime | None = None,
    calibration_end: str | date | datetime | None = None,
    merge: str | None = "auto",
    periods: str = "exact",
    include_first_transaction: bool = False,
    engine: str = "polars",
) -> Any:
    """Summarise a canonical transaction frame (customer_id, timestamp, amount) into one row per customer.

    ``time_unit``: H, D, W, M or Q, optionally with a multiple ("2W", "4H"). ``periods``: ``"exact"`` (default)
    or ``"whole"`` (see the module docstring). ``merge``: the period within which purchases are one
    transaction; ``"auto"`` is a day (an hour for hourly units) in exact mode and the unit's period in whole
    mode; None keeps every timestamp.

    With ``include_first_transaction=True`` the summary is PyMC-Marketing's segmentation summary: `frequency`
    counts every transaction, `recency` is the time from the last transaction to the end of observation, and
    `monetary_value` is the mean of every transaction (T is kept).

    With `calibration_end`, the summary covers the calibration period (transactions up to that date) and adds
    `frequency_holdout`, `monetary_value_holdout`, `value_holdout` and `duration_holdout` from the holdout
    period up to `observation_end`. Dates are inclusive: a transaction on the end date belongs to the period (an
    end with a time of day includes transactions up to that instant). The split is made on the raw timestamps,
    then each side is merged. The input may be pandas, Polars, Arrow or DuckDB; the result is of the same kind
    (Polars for DuckDB).
    """
    period = resolve_period(
        transactions, time_unit, observation_end, calibration_end, merge, engine,
        periods=periods, include_first_transaction=include_first_transaction,
    )
    lazy = to_engine(transactions, engine)
    result = summary_expression(lazy, period)
    out = from_result(result, transactions)
    if len(out) == 0:
        _raise_nothing_before(lazy, period)
    return out


def resolve_period(
    transactions: Any,
    time_unit: str,
    observation_end: str | date | datetime | None,
    calibration_end: str | date | datetime | None,
    merge: str | None,
    engine: str = "polars",
    *,
    periods: str = "exact",
    include_first_transaction: bool = False,
) -> SummaryPeriod:
    """Validate the time settings; the observation end defaults to the date of the last transaction."""
    unit = parse_time_unit(time_unit)
    if periods not in PERIODS:
        raise ClvlensError(f"periods: {periods!r} must be 'exact' or 'whole'")
    effective = _effective_merge(merge, unit, periods)
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
    return SummaryPeriod(unit.code, end, cal, effective, periods, bool(include_first_transaction))


def _effective_merge(merge: str | None, unit: TimeUnit, periods: str) -> str | None:
    if merge is not None and not isinstance(merge, str):
        raise ClvlensError(f"merge: {merge!r} must be one of H, D, W, M, Q, 'auto' or none")
    if merge is not None and merge.lower() == "auto":
        if periods == "whole":
            return unit.base
        return "H" if unit.base == "H" else "D"
    if merge is not None and merge.upper() not in MERGE_PERIODS:
        raise ClvlensError(f"merge period must be H, D, W, M, Q, 'auto' or none, got '{merge}'")
    chosen = merge.upper() if merge else None
    if periods == "whole" and (chosen is None or BASE_DAYS[chosen] < BASE_DAYS[unit.base]):
        return unit.base  # whole periods count one transaction per period, as lifetimes does
    return chosen


def end_exclusive(end: datetime) -> datetime:
    """First instant after an inclusive end: the next day for a date, the next microsecond for a time of day."""
    return end + _ONE_DAY if end == datetime(end.year, end.month, end.day) else end + _TICK


def anchor(end: datetime, merge: str | None, whole_base: str | None = None) -> datetime:
    """The reference instant of an inclusive end: the start of the merge period holding its last instant (the
    end itself without merging), then the start of its ``whole_base`` period when counting whole periods."""
    point = end if merge is None else period_start(end_exclusive(end) - _TICK, merge)
    return period_start(point, whole_base) if whole_base else point


def period_start(moment: datetime, base: str) -> datetime:
    """Start of the H, D, W (Monday), M or Q period holding ``moment`` (the Python twin of _period_start)."""
    day = datetime(moment.year, moment.month, moment.day)
    if base == "H":
        return day.replace(hour=moment.hour)
    if base == "D":
        return day
    if base == "W":
        return day - timedelta(days=day.weekday())
    if base == "M":
        return day.replace(day=1)
    if base == "Q":
        return datetime(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    raise ClvlensError(f"time unit {base!r} has no calendar period")  # pragma: no cover - validated earlier


def _period_start(stamp: Any, base: str) -> Any:
    if base == "W":  # narwhals has no weekly truncation on every engine: go back to Monday (weekday 1)
        return stamp.dt.truncate("1d") - nw.lit(_ONE_DAY) * (stamp.dt.weekday() - 1)
    return stamp.dt.truncate(MERGE_PERIODS[base])


def _whole_between(start: datetime, end: datetime, base: str) -> float:
    if base in ("M", "Q"):
        months = (end.year - start.year) * 12 + end.month - start.month
        return months / (3 if base == "Q" else 1)
    return (end - start).total_seconds() / (BASE_DAYS[base] * SECONDS_PER_DAY)


def summary_expression(lazy: Any, period: SummaryPeriod) -> Any:
    """The summary as one lazy narwhals query over a native lazy frame (Polars, DuckDB or Spark)."""
    frame = nw.from_native(lazy)
    missing = {"customer_id", "timestamp", "amount"} - set(frame.collect_schema().names())
    if missing:
        raise ClvlensError(f"transactions: missing column '{sorted(missing)[0]}' for the RFM summary")
    frame = frame.filter(nw.col("timestamp") < nw.lit(end_exclusive(period.observation_end)))
    if period.calibration_end is None:
        return _customer_summary(_merge_transactions(frame, period.merge), period.observation_end, period)
    cal_exclusive = end_exclusive(period.calibration_end)
    calibration = _merge_transactions(frame.filter(nw.col("timestamp") < nw.lit(cal_exclusive)), period.merge)
    holdout_periods = _merge_transactions(frame.filter(nw.col("timestamp") >= nw.lit(cal_exclusive)), period.merge)
    holdout = (
        _summed(holdout_periods.with_columns(_amount_parts("amount")).group_by("customer_id"), "amount",
                nw.len().alias("frequency_holdout"))
        .with_columns(
            nw.col("amount").alias("value_holdout"),
            (nw.col("amount") / nw.col("frequency_holdout")).alias("monetary_value_holdout"),
        )
        .select("customer_id", "frequency_holdout", "monetary_value_holdout", "value_holdout")
    )
    summary = _customer_summary(calibration, period.calibration_end, period)
    return summary.join(holdout, on="customer_id", how="left").with_columns(
        nw.col("frequency_holdout").fill_null(0).cast(nw.Int64),
        nw.col("monetary_value_holdout").fill_null(0.0),
        nw.col("value_holdout").fill_null(0.0),
        nw.lit(period.holdout_length).cast(nw.Float64).alias("duration_holdout"),
    )


def _merge_transactions(frame: Any, merge: str | None) -> Any:
    stamp = nw.col("timestamp")
    moment = _period_start(stamp, merge) if merge else stamp
    lines = frame.select(nw.col("customer_id"), moment.alias("period"), nw.col("amount").cast(nw.Float64))
    return _summed(lines.with_columns(_amount_parts("amount")).group_by("customer_id", "period"), "amount")


#: the grids an amount is cut on for sums that do not depend on the order of their terms (see _amount_parts)
_COARSE, _FINE = 2.0**20, 2.0**40
_PARTS = ("_coarse", "_fine", "_rest")


def _amount_parts(column: str) -> list[Any]:
    """``column`` as three parts whose sums do not depend on the order of the terms: engines add a group's values
    in an order that can change from run to run (Polars across its threads), and a float sum's last bit with it,
    which the Gamma-Gamma fit and every CLV would carry on.

    ``coarse`` is the value rounded to a multiple of 2^-20, ``fine`` the remainder rounded to a multiple of 2^-40,
    ``rest`` what is left (below 2^-41; zero for values of 4096 and more). Each subtraction is exact (its operands
    are within a factor of two of each other, or one is zero), so the parts add up to the value exactly. Sums of
    multiples of 2^-20 below 2^33 (8.6e9) and of multiples of 2^-40 below 2^13 are exact in float64, in any
    order; the sum of the rests can differ in its last bits, about 2^-94 per term, far below the last bit of any
    total above 2^-20. The total is (coarse + fine) + rest: the sum correctly rounded up to that rest, and the same
    numbers run after run.
    """
    value = nw.col(column)
    coarse = (value * _COARSE).round(0) / _COARSE
    fine = ((value - coarse) * _FINE).round(0) / _FINE
    return [coarse.alias(_PARTS[0]), fine.alias(_PARTS[1]), (value - coarse - fine).alias(_PARTS[2])]


def _summed(grouped: Any, column: str, *aggregations: Any) -> Any:
    """``grouped`` (a group-by of a frame with :func:`_amount_parts` of ``column``) aggregated by
    ``aggregations`` and ``column``'s sum, added up from its parts."""
    coarse, fine, rest = (nw.col(part) for part in _PARTS)
    totals = grouped.agg(*aggregations, *(nw.col(part).sum() for part in _PARTS))
    return totals.with_columns(((coarse + fine) + rest).alias(column)).drop(*_PARTS)


def _customer_summary(per_period: Any, end: datetime, period: SummaryPeriod) -> Any:
    unit = period.unit
    whole = period.periods == "whole"
    reference = anchor(end, period.merge, unit.base if whole else None)
    customers = _summed(
        per_period.with_columns(_amount_parts("amount")).group_by("customer_id"), "amount",
        nw.col("period").min().alias("first_purchase"),
        nw.col("period").max().alias("last_purchase"),
        nw.len().alias("transactions"),
        nw.col("amount").first(order_by="period").alias("first_value"),
    ).rename({"amount": "total_value"})
    first, last = nw.col("first_purchase"), nw.col("last_purchase")
    if whole:
        first, last = _period_start(first, unit.base), _period_start(last, unit.base)
    recency = _duration(first, last, unit, whole)
    age = _duration(first, nw.lit(reference), unit, whole, reference)
    frequency = nw.col("transactions") - 1
    if period.include_first_transaction:
        columns = [
            nw.col("transactions").cast(nw.Int64).alias("frequency"),
            (age - recency).alias("recency"),
            age.alias("T"),
            (nw.col("total_value") / nw.col("transactions")).alias("monetary_value"),
        ]
    else:
        columns = [
            frequency.cast(nw.Int64).alias("frequency"),
            recency.alias("recency"),
            age.alias("T"),
            nw.when(frequency > 0)
            .then((nw.col("total_value") - nw.col("first_value")) / frequency)
            .otherwise(0.0)
            .alias("monetary_value"),
        ]
    return customers.select(
        nw.col("customer_id"), *columns, nw.col("total_value"), nw.col("first_value"),
        nw.col("first_purchase"), nw.col("last_purchase"),
    )


def _duration(start: Any, end: Any, unit: TimeUnit, whole: bool, end_value: datetime | None = None) -> Any:
    """``end - start`` in units: exact seconds over the unit's length, or whole calendar periods / multiple."""
    if whole and unit.base in ("M", "Q"):
        end_months = (
            nw.lit(end_value.year * 12 + end_value.month) if end_value is not None
            else end.dt.year() * 12 + end.dt.month()
        )
        months = end_months - (start.dt.year() * 12 + start.dt.month())
        return months.cast(nw.Float64) / float(unit.multiple * (3 if unit.base == "Q" else 1))
    return (end - start).dt.total_seconds() / (unit.days * SECONDS_PER_DAY)


def _raise_nothing_before(lazy: Any, period: SummaryPeriod) -> None:
    """A summary without customers: one line saying which end falls before every transaction."""
    value = nw.from_native(lazy).select(nw.col("timestamp").min()).collect().item(0, 0)
    if value is None:
        raise ClvlensError("no transactions to summarise (the table is empty)")
    first = _as_datetime(value, "timestamp")
    name, end = (
        ("calibration_end", period.calibration_end) if period.calibration_end is not None
        else ("observation_end", period.observation_end)
    )
    raise ClvlensError(
        f"{name} {end:%Y-%m-%d} falls before the first transaction ({first:%Y-%m-%d}): "
        f"no customer has a purchase up to {name}; choose a later date"
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
