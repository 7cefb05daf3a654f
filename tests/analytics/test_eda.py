"""Customer EDA tables on hand-made and real logs."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest

from clvlens.analytics import (
    category_preferences,
    interpurchase_distribution,
    interpurchase_intervals,
    order_value_distribution,
    order_values,
    plot_category_preferences,
    plot_histogram,
    plot_purchases_per_customer,
    purchases_per_customer,
    rfm_segments,
)
from clvlens.errors import ClvlensError


def _log() -> pl.DataFrame:
    rows = [
        ("a", "1", datetime(2024, 1, 1, 9), 10.0, "toys"),
        ("a", "1", datetime(2024, 1, 1, 9), 5.0, "books"),
        ("a", "2", datetime(2024, 1, 1, 18), 5.0, "toys"),
        ("a", "3", datetime(2024, 1, 11), 30.0, None),
        ("a", "4", datetime(2024, 1, 31), 50.0, "toys"),
        ("b", "5", datetime(2024, 1, 3), 100.0, "books"),
    ]
    return pl.DataFrame(rows, schema=["customer_id", "order_id", "timestamp", "amount", "category"], orient="row")


def test_hand_checked_tables() -> None:
    orders = order_values(_log()).sort("order_id")
    assert orders["order_value"].to_list() == [15.0, 5.0, 30.0, 50.0, 100.0]
    gaps = interpurchase_intervals(_log())
    assert gaps["customer_id"].to_list() == ["a"]
    row = gaps.row(0, named=True)
    assert row["purchase_days"] == 3 and row["mean_gap_days"] == 15.0 and row["max_gap_days"] == 20.0
    prefs = category_preferences(_log())
    assert prefs["category"].to_list() == ["books", "toys", "(none)"]
    assert prefs["revenue"].to_list() == [105.0, 65.0, 30.0]
    assert prefs["share_of_segment_revenue"].sum() == pytest.approx(1.0)
    with pytest.raises(ClvlensError, match="'category'"):
        category_preferences(_log().drop("category"))


def test_demo_distributions(demo_transactions: pl.DataFrame, demo_customers: pl.DataFrame) -> None:
    quantiles, hist = order_value_distribution(demo_transactions)
    values = quantiles.filter(pl.col("quantile").is_not_null())["order_value"]
    assert (values.diff().drop_nulls() >= 0).all()
    assert hist["count"].sum() == demo_transactions["order_id"].n_unique()
    assert hist["upper"][-1] == float("inf")
    per_customer = purchases_per_customer(demo_customers)
    assert per_customer["customers"].sum() == demo_customers.height
    assert per_customer["share"].sum() == pytest.approx(1.0)
    intervals = interpurchase_intervals(demo_transactions)
    assert intervals.height == (demo_customers["frequency"] > 0).sum()
    assert (intervals["min_gap_days"] >= 1).all()
    gap_quantiles, gap_hist = interpurchase_distribution(intervals)
    assert gap_hist["count"].sum() == intervals.height and gap_quantiles.height == 12
    segments = rfm_segments(demo_customers)
    prefs = category_preferences(demo_transactions, segments, by="rfm_segment", top=3)
    assert prefs.group_by("segment").len()["len"].max() <= 3
    assert len(plot_histogram(hist).data) == 1
    assert len(plot_purchases_per_customer(per_customer).data) == 1
    assert len(plot_category_preferences(prefs).data) >= 1


def test_online_retail_eda(retail_transactions: pl.DataFrame, retail_customers: pl.DataFrame) -> None:
    _quantiles, hist = order_value_distribution(retail_transactions)
    assert hist["count"].sum() == retail_transactions.select(pl.struct("customer_id", "order_id").n_unique()).item()
    prefs = category_preferences(retail_transactions)
    assert prefs["category"].to_list() == ["(none)"]  # the retailer has no categories
    assert purchases_per_customer(retail_customers)["customers"].sum() == 4327
    assert interpurchase_intervals(retail_transactions).height == (retail_customers["frequency"] > 0).sum()
