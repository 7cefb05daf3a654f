"""Shared helpers of the analytics package: input conversion, column checks and unit inference."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import polars as pl

from clvlens.data.readers import frame_to_polars
from clvlens.errors import ClvlensError

UNIT_DAYS: dict[str, float] = {"D": 1.0, "W": 7.0, "M": 365.25 / 12}
DAYS_PER_YEAR = 365.25


def as_polars(frame: Any, table: str) -> pl.DataFrame:
    """The input as an eager Polars frame; a one-line error naming the table when it is not a frame."""
    if frame is None:
        raise ClvlensError(f"{table}: no table given")
    return frame_to_polars(frame)


def resolve_health(frame: pl.DataFrame, health: str | None) -> str:
    """The health column to rank by: the one named, else `health` (the run's validated score, see
    :mod:`clvlens.analytics.health`) when the table has it, else `p_alive`."""
    if health is not None:
        return health
    return "health" if "health" in frame.columns else "p_alive"


def require_columns(frame: pl.DataFrame, columns: Iterable[str], table: str) -> None:
    """Raise a one-line `ClvlensError` naming the first missing column of `table`."""
    for column in columns:
        if column not in frame.columns:
            raise ClvlensError(f"{table}: missing column '{column}' (have {', '.join(frame.columns)})")


def require_numeric(frame: pl.DataFrame, columns: Iterable[str], table: str) -> None:
    """Columns must be numeric, without nulls and finite; the error names the field and the first bad row."""
    for column in columns:
        dtype = frame.schema[column]
        if not dtype.is_numeric():
            raise ClvlensError(f"{table}: column '{column}' must be numeric, got {dtype}")
        values = frame.get_column(column).cast(pl.Float64)
        bad = values.is_null() | ~values.is_finite()
        if bad.any():
            row = int(bad.arg_true()[0])
            raise ClvlensError(f"{table}: column '{column}' has a missing or non-finite value at row {row}")


def require_unique(frame: pl.DataFrame, column: str, table: str) -> None:
    """The key column must not repeat."""
    if frame.get_column(column).is_duplicated().any():
        dup = frame.filter(pl.col(column).is_duplicated()).get_column(column)[0]
        raise ClvlensError(f"{table}: column '{column}' repeats the value {dup!r}; expected one row per customer")


def safe_ratio(numerator: pl.Expr, denominator: pl.Expr) -> pl.Expr:
    """numerator / denominator, 0 where the denominator is 0."""
    return pl.when(denominator != 0).then(numerator / denominator).otherwise(0.0)


def infer_unit_days(customers: pl.DataFrame, recency: str = "recency") -> float:
    """Days per time unit of the customers table, read off recency against last_purchase - first_purchase.

    Snaps to the nearest of D, W, M; falls back to weeks (the project's default) when no customer has a repeat
    purchase or the datetimes are absent.
    """
    needed = {recency, "first_purchase", "last_purchase"}
    if not needed <= set(customers.columns):
        return UNIT_DAYS["W"]
    spans = customers.select(
        ((pl.col("last_purchase") - pl.col("first_purchase")).dt.total_seconds() / 86_400.0).sum().alias("days"),
        pl.col(recency).cast(pl.Float64).sum().alias("units"),
    ).row(0)
    days, units = spans
    if not units or units <= 0 or days is None:
        return UNIT_DAYS["W"]
    ratio = days / units
    return min(UNIT_DAYS.values(), key=lambda unit: abs(unit - ratio) / unit)


def resolve_unit_days(customers: pl.DataFrame, time_unit: str | None) -> float:
    """Days per unit for an explicit `time_unit` (D, W, M) or inferred from the table when None."""
    if time_unit is None:
        return infer_unit_days(customers)
    if time_unit not in UNIT_DAYS:
        raise ClvlensError(f"time_unit: {time_unit!r} is not one of D, W, M")
    return UNIT_DAYS[time_unit]
