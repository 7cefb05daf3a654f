"""Cohorts: a hand-checked log, invariants on the demo store, and the planted month-2 cliff."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import polars as pl
import pytest

from clvlens.analytics import (
    cliff_summary,
    cohort_cliffs,
    cohort_table,
    plot_cumulative_ltv,
    plot_retention_heatmap,
    retention_matrix,
)
from clvlens.errors import ClvlensError


def _log() -> pl.DataFrame:
    rows = [
        ("a", "1", datetime(2024, 1, 5), 10.0),
        ("a", "2", datetime(2024, 2, 20), 20.0),
        ("a", "3", datetime(2024, 3, 1), 5.0),
        ("b", "4", datetime(2024, 1, 31), 40.0),
        ("b", "4", datetime(2024, 1, 31), 2.0),
        ("c", "5", datetime(2024, 2, 2), 7.0),
        ("c", "6", datetime(2024, 4, 9), 3.0),
    ]
    return pl.DataFrame(rows, schema=["customer_id", "order_id", "timestamp", "amount"], orient="row")


def test_hand_checked_cohort_table() -> None:
    table = cohort_table(_log())
    jan = table.filter(pl.col("cohort") == "2024-01")
    assert jan["period"].to_list() == [0, 1, 2, 3]
    assert jan["customers"].to_list() == [2, 2, 2, 2]
    assert jan["retention"].to_list() == [1.0, 0.5, 0.5, 0.0]
    assert jan["revenue_per_customer"].to_list() == [26.0, 10.0, 2.5, 0.0]
    assert jan["cumulative_ltv"].to_list() == [26.0, 36.0, 38.5, 38.5]
    feb = table.filter(pl.col("cohort") == "2024-02")
    assert feb["retention"].to_list() == [1.0, 0.0, 1.0]
    cliffs = cohort_cliffs(table)
    row = cliffs.filter(pl.col("cohort") == "2024-01").row(0, named=True)
    assert row["month2_cliff"] == 0.5 and row["follow_on_drop"] == 0.0
    assert row["steepest_period"] == 1 and row["cliff_at_month2"]
    assert cliffs.filter(pl.col("cohort") == "2024-02")["follow_on_drop"][0] == -1.0
    assert "2024-04" not in cliffs["cohort"].to_list()  # one period only: not assessed


def test_invariants_on_the_demo_store(demo_transactions: pl.DataFrame, demo_customers: pl.DataFrame) -> None:
    table = cohort_table(demo_transactions.to_pandas())
    assert table.columns[:6] == ["cohort", "period", "customers", "active_customers", "retention", "revenue"]
    month0 = table.filter(pl.col("period") == 0)
    assert (month0["retention"] == 1.0).all()
    assert month0["customers"].sum() == demo_customers.height
    assert table["retention"].is_between(0, 1).all()
    assert table["revenue"].sum() == pytest.approx(demo_transactions["amount"].sum(), rel=1e-9)
    steps = table.select(pl.col("cumulative_ltv").diff().over("cohort").alias("step"))["step"].drop_nulls()
    assert (steps >= 0).all()
    sizes = demo_customers.group_by("cohort").len().sort("cohort")
    assert month0.select("cohort", "customers").sort("cohort")["customers"].to_list() == sizes["len"].to_list()
    wide = retention_matrix(table)
    assert wide.height == month0.height and wide["0"].to_list() == [1.0] * wide.height


def test_demo_store_shows_the_month2_cliff(demo_transactions: pl.DataFrame) -> None:
    table = cohort_table(demo_transactions)
    cliffs = cohort_cliffs(table)
    assert cliffs.height >= 20
    # BG/NBD with a = 0.8, b = 2.5 and slow buyers: most customers never come back, so every cohort's largest
    # fall in retention is from the acquisition month into month 2, and it removes over 80% of the cohort.
    assert cliffs["cliff_at_month2"].all()
    assert (cliffs["month2_cliff"] > 0.8).all()
    summary = cliff_summary(cliffs)
    assert summary["share_cohorts_cliff_at_month2"] == 1.0
    # After the cliff retention keeps declining slowly (dropout after repeat purchases): pooled over cohorts
    # observed that long, month 2 (period 1) retains more than period 12.
    pooled = (
        table.filter(pl.col("cohort") <= "2023-12")
        .group_by("period")
        .agg((pl.col("active_customers").sum() / pl.col("customers").sum()).alias("r"))
    )
    r = dict(zip(pooled["period"], pooled["r"], strict=True))
    assert r[1] > r[12] > 0


def test_errors_and_figures(demo_transactions: pl.DataFrame) -> None:
    with pytest.raises(ClvlensError, match="'amount'"):
        cohort_table(demo_transactions.drop("amount"))
    with pytest.raises(ClvlensError, match="'timestamp' must be a datetime"):
        cohort_table(demo_transactions.with_columns(pl.col("timestamp").cast(pl.String)))
    assert cohort_table(demo_transactions.head(0)).is_empty()
    table = cohort_table(demo_transactions)
    assert len(plot_retention_heatmap(table).data) == 1
    assert len(plot_cumulative_ltv(table).data) == table["cohort"].n_unique()


def test_cohort_table_equals_a_direct_sql_count_on_online_retail(online_retail) -> None:
    """Cohort sizes, active customers and revenue per (cohort, period), counted independently by DuckDB with
    distinct counts over the raw lines (the table itself counts customer-months once)."""
    import duckdb

    lines = online_retail.transactions.select("customer_id", "timestamp", "amount")
    table = cohort_table(lines).filter(pl.col("active_customers") > 0)
    expected = duckdb.sql("""
        WITH l AS (SELECT customer_id, year(timestamp) * 12 + month(timestamp) - 1 AS m, amount FROM lines),
             c AS (SELECT customer_id, min(m) AS cm FROM l GROUP BY customer_id)
        SELECT printf('%04d-%02d', cm // 12, cm % 12 + 1) AS cohort, CAST(m - cm AS INTEGER) AS period,
               count(DISTINCT l.customer_id) AS active_customers, sum(amount) AS revenue
        FROM l JOIN c USING (customer_id) GROUP BY ALL ORDER BY cohort, period
    """).pl()
    got = table.select("cohort", "period", "active_customers", "revenue").sort("cohort", "period")
    assert got.height == expected.height > 50  # 13 monthly cohorts
    assert got.get_column("active_customers").to_list() == expected.get_column("active_customers").to_list()
    np.testing.assert_allclose(got.get_column("revenue").to_numpy(), expected.get_column("revenue").to_numpy(),
                               rtol=1e-9)
    sizes = table.filter(pl.col("period") == 0).select("cohort", "customers")
    assert sizes.get_column("customers").sum() == lines.get_column("customer_id").n_unique()
