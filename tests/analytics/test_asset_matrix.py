"""The value x health matrix: thresholds respected exactly, invariants, and a property test on thresholds."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clvlens.analytics import (
    VALUE_SEGMENTS,
    Thresholds,
    asset_matrix,
    plot_asset_matrix,
    plot_value_health,
    strategy_tables,
    value_segments,
)
from clvlens.errors import ClvlensError


def _expected(health: np.ndarray, value: np.ndarray, health_cut: float, value_cut: float) -> list[str]:
    names = {
        (True, True): "High-Value",
        (True, False): "Growth",
        (False, True): "At-Risk",
        (False, False): "Critical Churn",
    }
    return [names[(bool(h >= health_cut), bool(v > value_cut))] for h, v in zip(health, value, strict=True)]


def test_default_thresholds_are_half_and_the_median(demo_customers: pl.DataFrame) -> None:
    table = value_segments(demo_customers)
    health, value = demo_customers["p_alive"].to_numpy(), demo_customers["clv"].to_numpy()
    median = float(np.median(value))
    assert table["health_cut"][0] == 0.5
    assert table["value_cut"][0] == pytest.approx(median, rel=1e-12)
    assert table["value_segment"].to_list() == _expected(health, value, 0.5, table["value_cut"][0])


@pytest.mark.parametrize(
    "thresholds",
    [
        Thresholds(health=0.3, health_kind="quantile", value=0.8, value_kind="quantile"),
        Thresholds(health=0.7, value=50.0, value_kind="absolute"),
        Thresholds(health=0.0, value=1.0),
    ],
)
def test_thresholds_are_respected_exactly(demo_customers: pl.DataFrame, thresholds: Thresholds) -> None:
    table = value_segments(demo_customers, thresholds)
    health, value = demo_customers["p_alive"].to_numpy(), demo_customers["clv"].to_numpy()
    health_cut = thresholds.health if thresholds.health_kind == "absolute" else np.quantile(health, thresholds.health)
    value_cut = thresholds.value if thresholds.value_kind == "absolute" else np.quantile(value, thresholds.value)
    assert table["health_cut"][0] == pytest.approx(health_cut, rel=1e-12, abs=1e-12)
    assert table["value_cut"][0] == pytest.approx(value_cut, rel=1e-12, abs=1e-12)
    assert table["value_segment"].to_list() == _expected(health, value, table["health_cut"][0], table["value_cut"][0])


def test_segment_table_invariants(demo_customers: pl.DataFrame) -> None:
    table = asset_matrix(demo_customers)
    assert table["segment"].to_list() == list(VALUE_SEGMENTS)
    assert table["customers"].sum() == demo_customers.height
    assert table["historical_revenue"].sum() == pytest.approx(demo_customers["total_value"].sum(), rel=1e-9)
    assert table["projected_revenue"].sum() == pytest.approx(demo_customers["clv"].sum(), rel=1e-9)
    assert table["share_customers"].sum() == pytest.approx(1.0)
    assert table["share_projected_revenue"].sum() == pytest.approx(1.0)
    per_customer = value_segments(demo_customers).join(
        demo_customers.select("customer_id", "p_alive"), on="customer_id"
    )
    at_risk = per_customer.filter(pl.col("value_segment") == "At-Risk")
    row = table.filter(pl.col("segment") == "At-Risk").row(0, named=True)
    assert row["mean_p_alive"] == pytest.approx(at_risk["p_alive"].mean())


def test_another_health_score_can_be_plugged_in(demo_customers: pl.DataFrame) -> None:
    scored = demo_customers.with_columns(
        (1.0 - pl.col("p_alive")).alias("churn_safety"), pl.col("total_value").alias("history")
    )
    table = value_segments(scored, health="churn_safety", value="history")
    assert table["health"].to_list() == scored["churn_safety"].to_list()
    assert table["value"].to_list() == scored["history"].to_list()


def test_bad_thresholds_and_columns() -> None:
    with pytest.raises(ClvlensError, match="value quantile"):
        Thresholds(value=1.5)
    with pytest.raises(ClvlensError, match="health_kind"):
        Thresholds(health_kind="percent")  # type: ignore[arg-type]
    frame = pl.DataFrame({"customer_id": ["a", "b"], "p_alive": [0.2, None], "clv": [1.0, 2.0]})
    with pytest.raises(ClvlensError, match="'p_alive'"):
        value_segments(frame)
    with pytest.raises(ClvlensError, match="'clv'"):
        value_segments(frame.drop("clv"))


def test_figures_have_data(demo_customers: pl.DataFrame) -> None:
    assert len(plot_asset_matrix(asset_matrix(demo_customers)).data) == 4
    assert len(plot_value_health(value_segments(demo_customers), max_points=500).data) >= 1


kinds = st.sampled_from(["absolute", "quantile"])


@st.composite
def thresholds_strategy(draw: st.DrawFn) -> Thresholds:
    health_kind, value_kind = draw(kinds), draw(kinds)
    health = draw(st.floats(0.0, 1.0))
    value = draw(st.floats(0.0, 1.0)) if value_kind == "quantile" else draw(st.floats(-10.0, 2000.0))
    return Thresholds(health=health, health_kind=health_kind, value=value, value_kind=value_kind)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(thresholds=thresholds_strategy())
def test_changing_thresholds_never_loses_or_duplicates_a_customer(
    demo_customers: pl.DataFrame, demo_transactions: pl.DataFrame, thresholds: Thresholds
) -> None:
    customers = demo_customers.head(800)
    ids = set(customers["customer_id"])
    table = value_segments(customers, thresholds)
    assert table.height == customers.height and set(table["customer_id"]) == ids
    assert table["value_segment"].null_count() == 0
    assert asset_matrix(customers, thresholds)["customers"].sum() == customers.height
    tables = strategy_tables(demo_transactions.head(2000), customers, thresholds=thresholds)
    columns = tables.customer_columns
    assert columns.height == customers.height and columns["customer_id"].n_unique() == customers.height
    for kind in ("value", "rfm"):
        assert tables.segments.filter(pl.col("segment_type") == kind)["customers"].sum() == customers.height
