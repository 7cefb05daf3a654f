"""Customer-base KPIs, each defined once here and repeated in the `definition` column of `kpi_table`.

Notation, per customer i of the customers table: v_i = projected value (``value``, default ``clv``), h_i = health
(``health``, default the ``health`` column when the table has it, else ``p_alive``),
H_i = historical revenue (``total_value``), x_i = repeat purchase days
(``frequency``), o_i = orders (``orders``), T_i = age at the observation end in the table's time unit. Quadrants
are those of :mod:`clvlens.analytics.asset_matrix` under the given thresholds.

- ``customers``: number of customers n.
- ``historical_revenue``: sum of H_i.
- ``projected_revenue``: sum of v_i.
- ``expected_active_customers``: sum of h_i (with the run's health, the expected number of customers who buy in
  the health window).
- ``revenue_at_risk``: sum over the At-Risk and Critical Churn customers of (1 - h_i) x A_i, where
  A_i = H_i / max(tenure_i in years, 1) is the customer's historical revenue per year of tenure (tenure = T_i; at
  least one year, so that a customer seen for a week is not extrapolated 52-fold) and (1 - h_i) is clipped to
  [0, 1]: the yearly revenue run-rate of unhealthy customers that is expected to be gone. With a
  :class:`ValueBasis` (the pipeline always gives one) it is put on the basis of the projected value: x margin x
  the horizon in years, and capped at ``projected_revenue`` (a loss larger than the whole projected value on the
  same basis would mean the run-rate of the past overstates the base's future, and is reported as that value).
- ``at_risk_projected_value``: sum of v_i over the At-Risk quadrant: projected value of high-value customers
  whose health is below the cut, what a retention campaign protects.
- ``opportunity_gap``: sum over Growth customers of max(0, median of v over High-Value customers - v_i): what
  the Growth segment would add if every customer in it reached the High-Value median projected value (the spend
  rate is the projected value per customer over the horizon). 0 when High-Value is empty.
- ``top_1pct_share``, ``top_10pct_share``, ``top_20pct_share``: share of projected revenue held by the ceil(k n)
  customers with the highest v (k = 1%, 10%, 20%); negative values count as 0.
- ``gini``: Gini coefficient of v (negative values as 0): 2 sum_i i v_(i) / (n sum v) - (n + 1) / n with v
  sorted ascending and i = 1..n; 0 when all values are 0.
- ``one_time_buyer_share``: share of customers with x_i = 0 (a single purchase day).
- ``repeat_rate``: share of customers with x_i >= 1 (bought again on another day) = 1 - one_time_buyer_share.
- ``repeat_order_share``: (sum o_i - n) / sum o_i, the share of orders that are not a customer's first.
- ``average_order_value``: sum H_i / sum o_i.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from clvlens.analytics._common import (
    DAYS_PER_YEAR,
    as_polars,
    require_columns,
    require_numeric,
    resolve_health,
    resolve_unit_days,
)
from clvlens.analytics.asset_matrix import AT_RISK, GROWTH, HIGH_VALUE, UNHEALTHY_SEGMENTS, Thresholds, value_segments

PARETO_TOPS: tuple[float, ...] = (0.01, 0.10, 0.20)
VALUE_KPIS = ("projected_revenue", "revenue_at_risk", "at_risk_projected_value", "opportunity_gap")


@dataclass(frozen=True)
class ValueBasis:
    """What the projected values are: the horizon they cover, the margin applied to spend, the discount rate."""

    horizon: str = "12M"
    horizon_years: float = 1.0
    margin: float = 1.0
    discount_rate: float | None = 0.10

    @property
    def noun(self) -> str:
        """'revenue' at margin 1, else 'margin'."""
        return "revenue" if self.margin == 1 else "margin"

    def describe(self) -> str:
        """E.g. "over 12M, discounted at 10%/yr, margin 0.3 applied"."""
        discount = "undiscounted" if self.discount_rate is None else f"discounted at {self.discount_rate:.0%}/yr"
        applied = "revenue (no margin applied)" if self.margin == 1 else f"margin {self.margin:g} applied"
        return f"over {self.horizon}, {discount}, {applied}"

DEFINITIONS: dict[str, str] = {
    "customers": "number of customers",
    "historical_revenue": "sum of historical revenue (total_value) over customers",
    "projected_revenue": "sum of projected value (clv) over customers",
    "expected_active_customers": "sum of health (P(a purchase in the health window), or P(alive)) over customers",
    "revenue_at_risk": "sum over At-Risk and Critical Churn customers of (1 - health) x historical revenue per "
    "year of tenure (tenure floored at 1 year)",
    "at_risk_projected_value": "sum of projected value over the At-Risk segment (high value, health below cut)",
    "opportunity_gap": "sum over Growth customers of max(0, High-Value median projected value - own projected "
    "value)",
    "top_1pct_share": "share of projected value held by the top 1% of customers (ceil(0.01 n), by projected value)",
    "top_10pct_share": "share of projected value held by the top 10% of customers (ceil(0.10 n))",
    "top_20pct_share": "share of projected value held by the top 20% of customers (ceil(0.20 n))",
    "gini": "Gini coefficient of projected value across customers (0 = equal, 1 = one customer holds all)",
    "one_time_buyer_share": "share of customers with a single purchase day (frequency = 0)",
    "repeat_rate": "share of customers who bought again on another day (frequency >= 1)",
    "repeat_order_share": "(orders - customers) / orders: share of orders that are not a customer's first",
    "average_order_value": "historical revenue / orders",
}


def _nonneg_sorted(customers: Any, value: str) -> np.ndarray:
    frame = as_polars(customers, "customers")
    require_columns(frame, [value], "customers")
    require_numeric(frame, [value], "customers")
    return np.sort(np.clip(frame.get_column(value).cast(pl.Float64).to_numpy(), 0.0, None))


def gini(customers: Any, *, value: str = "clv") -> float:
    """Gini coefficient of `value` (negatives as 0); see the module docstring."""
    v = _nonneg_sorted(customers, value)
    n, total = v.size, float(v.sum())
    if n == 0 or total <= 0:
        return 0.0
    ranks = np.arange(1, n + 1, dtype=float)
    return float(2.0 * (ranks @ v) / (n * total) - (n + 1.0) / n)


def pareto_concentration(
    customers: Any, *, value: str = "clv", tops: tuple[float, ...] = PARETO_TOPS
) -> pl.DataFrame:
    """top_share (e.g. 0.01), customers (ceil(top_share x n), at least 1) and value_share held by them."""
    v = _nonneg_sorted(customers, value)[::-1]
    n, total = v.size, float(v.sum())
    cum = np.concatenate([[0.0], np.cumsum(v)])
    counts = [min(n, max(1, math.ceil(round(top * n, 9)))) if n else 0 for top in tops]
    shares = [float(cum[k] / total) if total > 0 else 0.0 for k in counts]
    return pl.DataFrame({"top_share": list(tops), "customers": counts, "value_share": shares},
                        schema={"top_share": pl.Float64, "customers": pl.Int64, "value_share": pl.Float64})


def lorenz_curve(customers: Any, *, value: str = "clv", points: int = 101) -> pl.DataFrame:
    """The Lorenz curve of `value`: share_customers (poorest first, 0 to 1) and share_value held by them, at
    `points` evenly spaced customer shares (the exact curve when points > n)."""
    v = _nonneg_sorted(customers, value)
    n, total = v.size, float(v.sum())
    cum = np.concatenate([[0.0], np.cumsum(v)])
    if n + 1 <= points:
        positions = np.arange(n + 1)
    else:
        positions = np.unique(np.rint(np.linspace(0, n, max(points, 2))).astype(np.int64))
    share_customers = positions / n if n else np.zeros(1)
    share_value = cum[positions] / total if total > 0 else share_customers.astype(float)
    return pl.DataFrame({"share_customers": share_customers.astype(float), "share_value": share_value})


def annualised_value(historical: pl.Expr, tenure: pl.Expr, unit_days: float) -> pl.Expr:
    """Historical revenue per year of tenure, tenure (in units of `unit_days` days) floored at one year."""
    units_per_year = DAYS_PER_YEAR / unit_days
    return historical / pl.max_horizontal(tenure, pl.lit(units_per_year)) * units_per_year


def kpi_values(
    customers: Any,
    thresholds: Thresholds | None = None,
    *,
    health: str | None = None,
    value: str = "clv",
    historical: str = "total_value",
    frequency: str = "frequency",
    orders: str = "orders",
    T: str = "T",
    time_unit: str | None = None,
    basis: ValueBasis | None = None,
) -> dict[str, float]:
    """Every KPI of the module docstring by name; `time_unit` (D, W, M) is inferred from the table when None.

    `basis` puts revenue at risk on the basis of the projected value (margin, horizon; see the docstring)."""
    frame = as_polars(customers, "customers")
    health = resolve_health(frame, health)
    require_columns(frame, [historical, frequency, orders, T], "customers")
    require_numeric(frame, [historical, frequency, orders, T], "customers")
    unit_days = resolve_unit_days(frame, time_unit)
    segments = value_segments(frame, thresholds, health=health, value=value).select("value_segment")
    data = pl.concat([frame.select(historical, frequency, orders, T), segments], how="horizontal").with_columns(
        pl.Series("_v", frame.get_column(value).cast(pl.Float64)),
        pl.Series("_h", frame.get_column(health).cast(pl.Float64)),
    )
    n = data.height
    median_hv = data.filter(pl.col("value_segment") == HIGH_VALUE).get_column("_v").median()
    annual = annualised_value(pl.col(historical).cast(pl.Float64), pl.col(T).cast(pl.Float64), unit_days)
    unhealthy = pl.col("value_segment").is_in(list(UNHEALTHY_SEGMENTS))
    row = data.select(
        pl.col(historical).cast(pl.Float64).sum().alias("historical_revenue"),
        pl.col("_v").sum().alias("projected_revenue"),
        pl.col("_h").sum().alias("expected_active_customers"),
        ((1.0 - pl.col("_h")).clip(0.0, 1.0) * annual).filter(unhealthy).sum().alias("revenue_at_risk"),
        pl.col("_v").filter(pl.col("value_segment") == AT_RISK).sum().alias("at_risk_projected_value"),
        (pl.lit(float(median_hv) if median_hv is not None else 0.0) - pl.col("_v"))
        .clip(lower_bound=0.0)
        .filter(pl.col("value_segment") == GROWTH)
        .sum()
        .alias("opportunity_gap_raw"),
        (pl.col(frequency) == 0).sum().alias("one_time"),
        pl.col(orders).cast(pl.Float64).sum().alias("orders"),
    ).row(0, named=True)
    orders_total = row["orders"]
    one_time = int(row["one_time"])
    pareto = pareto_concentration(frame, value=value).get_column("value_share").to_list()
    at_risk = row["revenue_at_risk"] or 0.0
    if basis is not None:
        at_risk = min(at_risk * basis.margin * basis.horizon_years, max(row["projected_revenue"] or 0.0, 0.0))
    return {
        "customers": float(n),
        "historical_revenue": row["historical_revenue"] or 0.0,
        "projected_revenue": row["projected_revenue"] or 0.0,
        "expected_active_customers": row["expected_active_customers"] or 0.0,
        "revenue_at_risk": at_risk,
        "at_risk_projected_value": row["at_risk_projected_value"] or 0.0,
        "opportunity_gap": (row["opportunity_gap_raw"] or 0.0) if median_hv is not None else 0.0,
        "top_1pct_share": pareto[0],
        "top_10pct_share": pareto[1],
        "top_20pct_share": pareto[2],
        "gini": gini(frame, value=value),
        "one_time_buyer_share": one_time / n if n else 0.0,
        "repeat_rate": (n - one_time) / n if n else 0.0,
        "repeat_order_share": (orders_total - n) / orders_total if orders_total else 0.0,
        "average_order_value": (row["historical_revenue"] or 0.0) / orders_total if orders_total else 0.0,
    }


def kpi_table(
    customers: Any,
    thresholds: Thresholds | None = None,
    *,
    health: str | None = None,
    value: str = "clv",
    historical: str = "total_value",
    frequency: str = "frequency",
    orders: str = "orders",
    T: str = "T",
    time_unit: str | None = None,
    basis: ValueBasis | None = None,
) -> pl.DataFrame:
    """name, value, definition: one row per KPI of the module docstring, in that order; with a `basis`, the
    definitions of the value KPIs state it (horizon, discounting, margin)."""
    values = kpi_values(
        customers, thresholds, health=health, value=value, historical=historical, frequency=frequency,
        orders=orders, T=T, time_unit=time_unit, basis=basis,
    )
    return pl.DataFrame(
        {
            "name": list(values),
            "value": [float(v) for v in values.values()],
            "definition": [_definition(name, basis) for name in values],
        },
        schema={"name": pl.String, "value": pl.Float64, "definition": pl.String},
    )


def _definition(name: str, basis: ValueBasis | None) -> str:
    if basis is None or name not in VALUE_KPIS:
        return DEFINITIONS[name]
    if name == "revenue_at_risk":
        return (f"sum over At-Risk and Critical Churn customers of (1 - health) x historical revenue per year of "
                f"tenure (tenure floored at 1 year) x margin {basis.margin:g} x {basis.horizon} in years, capped at "
                f"the projected value; {basis.describe()}")
    return f"{DEFINITIONS[name]}; {basis.describe()}"


def plot_lorenz(lorenz: pl.DataFrame) -> Any:
    """The Lorenz curve (from `lorenz_curve`) against the line of equality."""
    import plotly.graph_objects as go

    require_columns(lorenz, ["share_customers", "share_value"], "lorenz curve")
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="equality", line={"dash": "dash"}))
    fig.add_trace(
        go.Scatter(x=lorenz["share_customers"].to_list(), y=lorenz["share_value"].to_list(), mode="lines",
                   name="customers", fill="tonexty")
    )
    fig.update_layout(title="Concentration of projected value (Lorenz curve)",
                      xaxis_title="share of customers (lowest value first)", yaxis_title="share of projected value")
    return fig


def plot_kpis(kpis: pl.DataFrame) -> Any:
    """The KPI table as a plotly table (name, value, definition)."""
    import plotly.graph_objects as go

    require_columns(kpis, ["name", "value", "definition"], "kpis")
    values = [f"{v:,.4g}" if abs(v) < 10 else f"{v:,.0f}" for v in kpis["value"].to_list()]
    return go.Figure(
        go.Table(header={"values": ["KPI", "value", "definition"]},
                 cells={"values": [kpis["name"].to_list(), values, kpis["definition"].to_list()]})
    )
