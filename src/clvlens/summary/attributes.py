"""Per-customer attributes beside the RFM numbers: orders, region, first category, acquisition cohort."""

from __future__ import annotations

from typing import Any

import narwhals as nw

from clvlens.summary.engine import from_result, to_engine


def customer_attributes(transactions: Any, *, engine: str = "polars") -> Any:
    """One row per customer: `orders` (distinct order ids), `lines`, `region` and `first_category` (of the
    first purchase; the alphabetically first when one purchase spans several), and `cohort` (YYYY-MM of the
    first purchase)."""
    frame = nw.from_native(to_engine(transactions, engine))
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
    result = totals.join(first_rows, on="customer_id", how="left").with_columns(
        nw.col("first_timestamp").dt.to_string("%Y-%m").alias("cohort")
    )
    return from_result(result, transactions)
