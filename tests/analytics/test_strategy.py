"""strategy_tables end to end on the demo store and on Online Retail (real data), plus every figure."""

from __future__ import annotations

import polars as pl
import pytest

from clvlens.analytics import (
    StrategyTables,
    Thresholds,
    plot_asset_matrix,
    plot_cumulative_ltv,
    plot_lorenz,
    plot_playbook,
    plot_regions,
    plot_retention_heatmap,
    plot_rfm_segments,
    strategy_tables,
)


def _check_invariants(tables: StrategyTables, transactions: pl.DataFrame, customers: pl.DataFrame) -> None:
    n = customers.height
    columns = tables.customer_columns
    assert columns.columns == ["customer_id", "rfm_r", "rfm_f", "rfm_m", "rfm_segment", "value_segment"]
    assert columns.height == n and columns["customer_id"].n_unique() == n
    assert columns["rfm_segment"].null_count() == 0 and columns["value_segment"].null_count() == 0
    expected = ["segment_type", "segment", "customers", "historical_revenue", "projected_revenue", "mean_health",
                "mean_p_alive",
                "share_customers", "share_projected_revenue", "action", "rationale", "money_at_stake"]
    assert tables.segments.columns == expected
    for kind in ("value", "rfm"):
        part = tables.segments.filter(pl.col("segment_type") == kind)
        assert part["customers"].sum() == n
        assert part["historical_revenue"].sum() == pytest.approx(customers["total_value"].sum(), rel=1e-9)
        assert part["projected_revenue"].sum() == pytest.approx(customers["clv"].sum(), rel=1e-9)
    counts = columns.group_by("value_segment").len()
    by_table = tables.segments.filter(pl.col("segment_type") == "value").select("segment", "customers")
    joined = counts.join(by_table, left_on="value_segment", right_on="segment")
    assert (joined["len"] == joined["customers"]).all()
    assert tables.kpis.columns == ["name", "value", "definition"]
    assert tables.kpi("customers") == n
    assert tables.kpi("historical_revenue") == pytest.approx(customers["total_value"].sum())
    top = [tables.kpi(f"top_{k}pct_share") for k in (1, 10, 20)]
    assert top[0] <= top[1] <= top[2] <= 1 and 0 <= tables.kpi("gini") <= 1
    assert (tables.cohorts.filter(pl.col("period") == 0)["retention"] == 1.0).all()
    assert tables.cohorts.filter(pl.col("period") == 0)["customers"].sum() == transactions["customer_id"].n_unique()
    assert {"cohort", "period", "customers", "retention", "revenue_per_customer", "cumulative_ltv"} <= set(
        tables.cohorts.columns
    )
    assert tables.regions["customers"].sum() == n
    assert {"region", "customers", "historical_revenue", "projected_clv", "share_revenue", "share_customers",
            "map_location", "mappable"} <= set(tables.regions.columns)
    headline = tables.headline()
    assert headline and all(isinstance(label, str) and isinstance(text, str) for label, text in headline)
    assert all(isinstance(frame, pl.DataFrame) for frame in tables.tables().values())


def test_demo_store(demo_store, demo_transactions: pl.DataFrame, demo_customers: pl.DataFrame) -> None:
    tables = strategy_tables(demo_transactions.to_pandas(), demo_customers.to_pandas())
    _check_invariants(tables, demo_transactions, demo_customers)
    assert tables.regions["region"][0] == demo_store.truth.strongest_region
    assert dict(tables.headline())["Strongest region"].startswith("SP")
    assert tables.cliffs["cliff_at_month2"].all()


def test_online_retail(retail_transactions: pl.DataFrame, retail_customers: pl.DataFrame) -> None:
    tables = strategy_tables(retail_transactions, retail_customers)
    _check_invariants(tables, retail_transactions, retail_customers)
    assert retail_customers.height == 4327
    assert tables.regions["region"][0] == "United Kingdom"
    assert tables.kpi("top_20pct_share") > 0.5  # real retail value is concentrated


def test_plugged_in_scores(demo_transactions: pl.DataFrame, demo_customers: pl.DataFrame) -> None:
    customers = demo_customers.with_columns(
        (1 - pl.col("p_alive") * 0.5).alias("retention_score"), (pl.col("total_value") * 2).alias("value_2y")
    )
    tables = strategy_tables(demo_transactions, customers, thresholds=Thresholds(health=0.75),
                             health="retention_score", value="value_2y")
    assert tables.kpi("projected_revenue") == pytest.approx(customers["value_2y"].sum())
    assert tables.regions["projected_clv"].sum() == pytest.approx(customers["value_2y"].sum())


def test_every_figure_has_data(demo_transactions: pl.DataFrame, demo_customers: pl.DataFrame) -> None:
    tables = strategy_tables(demo_transactions, demo_customers)
    value_part = tables.segments.filter(pl.col("segment_type") == "value")
    figures = [
        plot_asset_matrix(value_part),
        plot_rfm_segments(tables.segments.filter(pl.col("segment_type") == "rfm")),
        plot_rfm_segments(tables.customer_columns),
        plot_retention_heatmap(tables.cohorts),
        plot_cumulative_ltv(tables.cohorts),
        plot_lorenz(tables.lorenz),
        plot_regions(tables.regions),
        plot_playbook(tables.segments),
    ]
    for figure in figures:
        assert len(figure.data) >= 1
        assert figure.to_dict()["data"]


def test_fixture_closed_form_matches_the_fitted_models(demo_store, demo_customers: pl.DataFrame, closed_form) -> None:
    """The fixture's fallback (closed forms at the true parameters) agrees with the fitted-model columns."""
    import numpy as np

    closed = closed_form(demo_customers, demo_store.truth.bgnbd, demo_store.truth.gamma_gamma)
    for name in ("p_alive", "expected_purchases"):
        assert np.corrcoef(closed[name], demo_customers[name].to_numpy())[0, 1] > 0.99
