"""Per-customer attributes beside the RFM numbers: orders, region, first category, acquisition cohort."""

from __future__ import annotations

from typing import Any

import narwhals as nw
import polars as pl

from clvlens.summary.engine import from_result, to_engine

_FIRST_OF = {"region": "region", "category": "first_category"}
_KEY_LIMIT = 1 << 62


def customer_attributes(transactions: Any, *, engine: str = "polars") -> Any:
    """One row per customer: `orders` (distinct order ids), `lines`, `region` and `first_category` (of the
    first purchase; the alphabetically first when one purchase spans several), and `cohort` (YYYY-MM of the
    first purchase)."""
    native = to_engine(transactions, engine)
    if isinstance(native, pl.LazyFrame):
        result = _attributes_polars(native)
        if result is not None:
            return from_result(nw.from_native(result), transactions)
    return from_result(_attributes_narwhals(native), transactions)


def _attributes_polars(lazy: pl.LazyFrame) -> pl.DataFrame | None:
    """The attributes in one group-by over the customers (the query below needs a window and a second one).

    The value of a column at a customer's first purchase is found without a window: each row gets the key
    (microseconds since the log's first timestamp) * (distinct values) + (rank of its value), whose minimum per
    customer is the alphabetically first value among the rows at the earliest timestamp that have one. None when
    the keys would not fit in 63 bits (then the general query runs).
    """
    schema = lazy.collect_schema()
    if not isinstance(schema.get("timestamp"), pl.Datetime):
        return None
    optional = [c for c in _FIRST_OF if c in schema]
    bounds = lazy.select(pl.col("timestamp").min().alias("lo"), pl.col("timestamp").max().alias("hi")).collect()
    low, high = bounds.item(0, "lo"), bounds.item(0, "hi")
    if low is None:
        return None
    offset = (pl.col("timestamp") - pl.lit(low, dtype=schema["timestamp"])).dt.total_microseconds()
    span = int((high - low).total_seconds() * 1_000_000) + 1
    ranked: dict[str, pl.Series] = {}
    keys: list[pl.Expr] = []
    for name in optional:
        values = lazy.select(pl.col(name).cast(pl.String).drop_nulls().unique().sort()).collect().to_series()
        if span * (values.len() + 1) >= _KEY_LIMIT:
            return None
        ranked[name] = values
        if values.is_empty():  # no value at all: nothing to rank on every line
            continue
        rank = pl.col(name).cast(pl.String).replace_strict(
            values, pl.int_range(values.len(), eager=True), default=None, return_dtype=pl.Int64)
        keys.append((offset * values.len() + rank).min().alias(f"_{name}_key"))
    totals = lazy.group_by("customer_id").agg(
        pl.col("order_id").n_unique().alias("orders"),
        pl.len().alias("lines"),
        *keys,
        pl.col("timestamp").min().alias("first_timestamp"),
    ).collect()
    first_offset = (pl.col("first_timestamp") - pl.lit(low, dtype=schema["timestamp"])).dt.total_microseconds()
    decoded = []
    for name, values in ranked.items():
        if values.is_empty():
            decoded.append(pl.lit(None, pl.UInt32).alias(_FIRST_OF[name]))
            continue
        key, size = pl.col(f"_{name}_key"), values.len()
        at_first = (key // size) == first_offset
        index = pl.when(at_first).then(key % size)
        decoded.append(index.alias(_FIRST_OF[name]))
    totals = totals.with_columns(decoded)
    for name, values in ranked.items():
        column = _FIRST_OF[name]
        totals = totals.with_columns(values.gather(totals.get_column(column)).alias(column))
    ordered = ["customer_id", "orders", "lines", *(_FIRST_OF[n] for n in optional), "first_timestamp"]
    return totals.select(ordered).with_columns(pl.col("first_timestamp").dt.to_string("%Y-%m").alias("cohort"))


def _attributes_narwhals(native: Any) -> Any:
    frame = nw.from_native(native)
    names = set(frame.collect_schema().names())
    first_time = nw.col("timestamp").min().over("customer_id")
    optional = [c for c in ("region", "category") if c in names]
    first_rows = (
        frame.filter(nw.col("timestamp") == first_time)
        .group_by("customer_id")
        .agg(*(nw.col(c).min() for c in optional), nw.col("timestamp").min().alias("first_timestamp"))
    )
    if "category" in optional:
        first_rows = first_rows.rename({"category": "first_category"})
    totals = frame.group_by("customer_id").agg(
        nw.col("order_id").n_unique().alias("orders"),
        nw.len().alias("lines"),
    )
    return totals.join(first_rows, on="customer_id", how="left").with_columns(
        nw.col("first_timestamp").dt.to_string("%Y-%m").alias("cohort")
    )
