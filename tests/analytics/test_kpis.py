"""Every KPI against its definition recomputed by hand from the customer table; Pareto, Lorenz and Gini."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from clvlens.analytics import (
    DEFINITIONS,
    Thresholds,
    gini,
    kpi_table,
    lorenz_curve,
    pareto_concentration,
    plot_kpis,
    plot_lorenz,
)
from clvlens.analytics._common import infer_unit_days


def _by_hand(customers: pl.DataFrame, health_cut: float, value_cut: float) -> dict[str, float]:
    h = customers["p_alive"].to_numpy()
    v = customers["clv"].to_numpy()
    hist = customers["total_value"].to_numpy()
    x = customers["frequency"].to_numpy()
    orders = customers["orders"].to_numpy().astype(float)
    T = customers["T"].to_numpy()
    n = len(v)
    healthy, high = h >= health_cut, v > value_cut
    weeks_per_year = 365.25 / 7
    annual = hist / np.maximum(T / weeks_per_year, 1.0)
    unhealthy = ~healthy
    hv, growth, at_risk = healthy & high, healthy & ~high, ~healthy & high
    median_hv = np.median(v[hv]) if hv.any() else 0.0
    desc = np.sort(np.clip(v, 0, None))[::-1]

    def top(share: float) -> float:
        return desc[: max(1, math.ceil(share * n))].sum() / desc.sum()

    asc = desc[::-1]
    g = (2 * np.sum(np.arange(1, n + 1) * asc) / (n * asc.sum())) - (n + 1) / n
    return {
        "customers": n,
        "historical_revenue": hist.sum(),
        "projected_revenue": v.sum(),
        "expected_active_customers": h.sum(),
        "revenue_at_risk": np.sum((np.clip(1 - h, 0, 1) * annual)[unhealthy]),
        "at_risk_projected_value": v[at_risk].sum(),
        "opportunity_gap": np.clip(median_hv - v[growth], 0, None).sum() if hv.any() else 0.0,
        "top_1pct_share": top(0.01),
        "top_10pct_share": top(0.10),
        "top_20pct_share": top(0.20),
        "gini": g,
        "one_time_buyer_share": np.mean(x == 0),
        "repeat_rate": np.mean(x >= 1),
        "repeat_order_share": (orders.sum() - n) / orders.sum(),
        "average_order_value": hist.sum() / orders.sum(),
    }


@pytest.mark.parametrize("thresholds", [None, Thresholds(health=0.8, value=0.9)])
def test_every_kpi_equals_its_definition(demo_customers: pl.DataFrame, thresholds: Thresholds | None) -> None:
    used = thresholds or Thresholds()
    health_cut = used.health
    value_cut = float(np.quantile(demo_customers["clv"].to_numpy(), used.value))
    table = kpi_table(demo_customers, thresholds)
    assert table.columns == ["name", "value", "definition"]
    expected = _by_hand(demo_customers, health_cut, value_cut)
    assert table["name"].to_list() == list(expected)
    for name, value in zip(table["name"], table["value"], strict=True):
        assert value == pytest.approx(expected[name], rel=1e-9, abs=1e-9), name
    assert table["definition"].to_list() == [DEFINITIONS[name] for name in expected]
    assert all(len(text) > 10 for text in table["definition"])


def test_time_unit_is_inferred_from_the_table(demo_customers: pl.DataFrame) -> None:
    assert infer_unit_days(demo_customers) == 7.0
    daily = demo_customers.with_columns(pl.col("recency") * 7, pl.col("T") * 7)
    assert infer_unit_days(daily) == 1.0
    weekly = kpi_table(demo_customers).filter(pl.col("name") == "revenue_at_risk")["value"][0]
    explicit = kpi_table(daily, time_unit="D").filter(pl.col("name") == "revenue_at_risk")["value"][0]
    assert explicit == pytest.approx(weekly, rel=1e-9)


def test_pareto_shares_are_monotone_and_gini_bounded(demo_customers: pl.DataFrame) -> None:
    pareto = pareto_concentration(demo_customers)
    shares = pareto["value_share"].to_list()
    assert 0 <= shares[0] <= shares[1] <= shares[2] <= 1
    assert pareto["customers"].to_list() == [50, 500, 1000]
    assert 0 <= gini(demo_customers) <= 1


def test_gini_and_pareto_on_known_values() -> None:
    equal = pl.DataFrame({"clv": [5.0] * 10})
    assert gini(equal) == pytest.approx(0.0, abs=1e-12)
    one_holder = pl.DataFrame({"clv": [0.0] * 9 + [100.0]})
    assert gini(one_holder) == pytest.approx(0.9)
    assert pareto_concentration(one_holder)["value_share"].to_list() == [1.0, 1.0, 1.0]
    assert gini(pl.DataFrame({"clv": [0.0, 0.0]})) == 0.0


def test_lorenz_curve_shape(demo_customers: pl.DataFrame) -> None:
    curve = lorenz_curve(demo_customers, points=101)
    assert curve.height == 101
    assert curve.row(0) == (0.0, 0.0) and curve.row(-1) == pytest.approx((1.0, 1.0))
    assert (curve["share_value"].diff().drop_nulls() >= -1e-15).all()
    assert (curve["share_value"] <= curve["share_customers"] + 1e-12).all()
    exact = lorenz_curve(pl.DataFrame({"clv": [1.0, 3.0]}))
    assert exact.rows() == [(0.0, 0.0), (0.5, 0.25), (1.0, 1.0)]
    area = np.trapezoid(curve["share_value"].to_numpy(), curve["share_customers"].to_numpy())
    assert 1 - 2 * area == pytest.approx(gini(demo_customers), abs=0.01)


def test_kpi_figures(demo_customers: pl.DataFrame) -> None:
    assert len(plot_lorenz(lorenz_curve(demo_customers)).data) == 2
    assert len(plot_kpis(kpi_table(demo_customers)).data) == 1
