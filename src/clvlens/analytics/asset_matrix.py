"""The value x health asset matrix: four quadrants from projected value and probability of being active.

A customer is **healthy** when ``health >= health cut`` and **high-value** when ``value > value cut`` (strictly
above, so that with the default median cut the customers sitting at the median, and a crowd of zero-value
customers, never count as high-value). The quadrants:

==================  ===========  =========
segment             value        health
==================  ===========  =========
High-Value          high         healthy
Growth              low          healthy
At-Risk             high         unhealthy
Critical Churn      low          unhealthy
==================  ===========  =========

The cuts come from `Thresholds`: each is either an absolute number or a quantile (0-1) of the column over the
customers given (quantiles interpolate linearly between order statistics, as numpy's default).
Defaults: health cut 0.5 (absolute), value cut the median of the value column.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import polars as pl

from clvlens.analytics._common import (
    as_polars,
    require_columns,
    require_numeric,
    require_unique,
    resolve_health,
    safe_ratio,
)
from clvlens.errors import ClvlensError

HIGH_VALUE, GROWTH, AT_RISK, CRITICAL_CHURN = "High-Value", "Growth", "At-Risk", "Critical Churn"
VALUE_SEGMENTS: tuple[str, ...] = (HIGH_VALUE, GROWTH, AT_RISK, CRITICAL_CHURN)
UNHEALTHY_SEGMENTS: tuple[str, ...] = (AT_RISK, CRITICAL_CHURN)

Kind = Literal["absolute", "quantile"]


@dataclass(frozen=True)
class Thresholds:
    """Where the asset matrix splits health and value.

    ``health`` / ``value`` are absolute cuts when their kind is "absolute" and quantiles in [0, 1] when it is
    "quantile". Default: healthy at health >= 0.5 (more likely than not to buy in the health window when health
    is the run's score), high value above the median value.
    """

    health: float = 0.5
    health_kind: Kind = "absolute"
    value: float = 0.5
    value_kind: Kind = "quantile"

    def __post_init__(self) -> None:
        for name, cut, kind in (("health", self.health, self.health_kind), ("value", self.value, self.value_kind)):
            if kind not in ("absolute", "quantile"):
                raise ClvlensError(f"thresholds: {name}_kind must be 'absolute' or 'quantile', got {kind!r}")
            if not isinstance(cut, int | float) or cut != cut or cut in (float("inf"), float("-inf")):
                raise ClvlensError(f"thresholds: {name} must be a finite number, got {cut!r}")
            if kind == "quantile" and not 0.0 <= cut <= 1.0:
                raise ClvlensError(f"thresholds: {name} quantile must be within 0-1, got {cut}")

    def cuts(self, health_values: pl.Series, value_values: pl.Series) -> tuple[float, float]:
        """The absolute (health cut, value cut) for these customers."""
        return _cut(health_values, self.health, self.health_kind), _cut(value_values, self.value, self.value_kind)


def _cut(values: pl.Series, cut: float, kind: Kind) -> float:
    if kind == "absolute":
        return float(cut)
    if values.len() == 0:
        return 0.0
    return float(values.cast(pl.Float64).quantile(cut, interpolation="linear"))  # type: ignore[arg-type]


def value_segments(
    customers: Any,
    thresholds: Thresholds | None = None,
    *,
    health: str | None = None,
    value: str = "clv",
    customer_id: str = "customer_id",
) -> pl.DataFrame:
    """One row per customer: customer_id, health, value, healthy, high_value, value_segment, health_cut, value_cut.

    `health` defaults to the customers' `health` column (the run's validated score) when present, else p_alive.
    """
    frame = as_polars(customers, "customers")
    health = resolve_health(frame, health)
    require_columns(frame, [customer_id, health, value], "customers")
    require_numeric(frame, [health, value], "customers")
    require_unique(frame, customer_id, "customers")
    thresholds = thresholds or Thresholds()
    health_cut, value_cut = thresholds.cuts(frame.get_column(health), frame.get_column(value))
    healthy = pl.col("health") >= health_cut
    high = pl.col("value") > value_cut
    return frame.select(
        pl.col(customer_id).alias("customer_id"),
        pl.col(health).cast(pl.Float64).alias("health"),
        pl.col(value).cast(pl.Float64).alias("value"),
    ).with_columns(
        healthy.alias("healthy"),
        high.alias("high_value"),
        pl.when(healthy & high).then(pl.lit(HIGH_VALUE))
        .when(healthy).then(pl.lit(GROWTH))
        .when(high).then(pl.lit(AT_RISK))
        .otherwise(pl.lit(CRITICAL_CHURN))
        .alias("value_segment"),
        pl.lit(health_cut).alias("health_cut"),
        pl.lit(value_cut).alias("value_cut"),
    )


def segment_summary(
    frame: pl.DataFrame,
    segment: str,
    order: list[str] | tuple[str, ...],
    *,
    health: str | None = None,
    value: str = "clv",
    historical: str = "total_value",
    alive: str = "p_alive",
) -> pl.DataFrame:
    """Per segment (every name in `order`, empty ones included): customers, historical_revenue,
    projected_revenue, mean_health (of `health`), mean_p_alive (of `alive` when the frame has it, else of
    `health`), share_customers, share_projected_revenue."""
    health = resolve_health(frame, health)
    require_columns(frame, [segment, health, value, historical], "customers")
    alive_column = alive if alive in frame.columns else health
    stats = frame.group_by(pl.col(segment).alias("segment")).agg(
        pl.len().cast(pl.Int64).alias("customers"),
        pl.col(historical).cast(pl.Float64).sum().alias("historical_revenue"),
        pl.col(value).cast(pl.Float64).sum().alias("projected_revenue"),
        pl.col(health).cast(pl.Float64).mean().alias("mean_health"),
        pl.col(alive_column).cast(pl.Float64).mean().alias("mean_p_alive"),
    )
    names = list(order) + [s for s in stats.get_column("segment").to_list() if s not in order]
    skeleton = pl.DataFrame({"segment": names, "rank": list(range(len(names)))}, schema_overrides={"rank": pl.Int64})
    table = skeleton.join(stats, on="segment", how="left").sort("rank").drop("rank")
    table = table.with_columns(
        pl.col("customers").fill_null(0),
        pl.col("historical_revenue").fill_null(0.0),
        pl.col("projected_revenue").fill_null(0.0),
    )
    return table.with_columns(
        safe_ratio(pl.col("customers").cast(pl.Float64), pl.col("customers").sum().cast(pl.Float64))
        .alias("share_customers"),
        safe_ratio(pl.col("projected_revenue"), pl.col("projected_revenue").sum()).alias("share_projected_revenue"),
    )


def asset_matrix(
    customers: Any,
    thresholds: Thresholds | None = None,
    *,
    health: str | None = None,
    value: str = "clv",
    historical: str = "total_value",
    customer_id: str = "customer_id",
) -> pl.DataFrame:
    """One row per quadrant (all four, in the order High-Value, Growth, At-Risk, Critical Churn): segment,
    customers, historical_revenue (sum of `historical`), projected_revenue (sum of `value`), mean_health (mean
    of `health`), mean_p_alive (of p_alive when present), share_customers, share_projected_revenue, health_cut
    and value_cut."""
    frame = as_polars(customers, "customers")
    health = resolve_health(frame, health)
    require_columns(frame, [historical], "customers")
    require_numeric(frame, [historical], "customers")
    segments = value_segments(frame, thresholds, health=health, value=value, customer_id=customer_id)
    joined = segments.select("value_segment", "health", "value", "health_cut", "value_cut").with_columns(
        frame.get_column(historical).cast(pl.Float64).alias("historical"),
        frame.get_column("p_alive" if "p_alive" in frame.columns else health).cast(pl.Float64).alias("_alive"),
    )
    table = segment_summary(
        joined, "value_segment", VALUE_SEGMENTS, health="health", value="value", historical="historical",
        alive="_alive",
    )
    cuts = thresholds or Thresholds()
    health_cut, value_cut = cuts.cuts(frame.get_column(health), frame.get_column(value))
    return table.with_columns(pl.lit(health_cut).alias("health_cut"), pl.lit(value_cut).alias("value_cut"))


def plot_asset_matrix(table: pl.DataFrame) -> Any:
    """The 2 x 2 matrix as a grid of squares sized by projected revenue, from `asset_matrix` output (or a
    per-customer `value_segments` table, which is summarised first)."""
    import plotly.graph_objects as go

    if "value_segment" in table.columns:
        # a value_segments table names the value `value`; the workspace's customers table names it `clv`
        value = "value" if "value" in table.columns else "clv"
        require_columns(table, [value], "asset matrix")
        table = table.group_by(pl.col("value_segment").alias("segment")).agg(
            pl.len().alias("customers"), pl.col(value).sum().alias("projected_revenue")
        )
    require_columns(table, ["segment", "customers", "projected_revenue"], "asset matrix")
    positions = {HIGH_VALUE: (1, 1), GROWTH: (0, 1), AT_RISK: (1, 0), CRITICAL_CHURN: (0, 0)}
    colours = {HIGH_VALUE: "#2a9d8f", GROWTH: "#8ab17d", AT_RISK: "#f4a261", CRITICAL_CHURN: "#e76f51"}
    rows = [r for r in table.iter_rows(named=True) if r["segment"] in positions]
    total = sum(r["projected_revenue"] for r in rows) or 1.0
    fig = go.Figure()
    for row in rows:
        x, y = positions[row["segment"]]
        share = row["projected_revenue"] / total
        fig.add_trace(
            go.Scatter(
                x=[x], y=[y], mode="markers+text", name=row["segment"],
                marker={"size": 30 + 120 * share**0.5, "color": colours[row["segment"]], "symbol": "square"},
                text=[f"{row['segment']}<br>{row['customers']:,} customers<br>{share:.0%} of projected value"],
                textposition="middle center",
            )
        )
    fig.update_layout(
        title="Value x health asset matrix",
        xaxis={"tickvals": [0, 1], "ticktext": ["low value", "high value"], "range": [-0.6, 1.6]},
        yaxis={"tickvals": [0, 1], "ticktext": ["unhealthy", "healthy"], "range": [-0.6, 1.6]},
        showlegend=False,
    )
    return fig


def plot_value_health(segments: pl.DataFrame, max_points: int = 5000) -> Any:
    """Scatter of value against health per customer (a sample of `max_points`), coloured by quadrant, with the
    cut lines; takes `value_segments` output."""
    import plotly.express as px

    require_columns(segments, ["value", "health", "value_segment", "health_cut", "value_cut"], "value segments")
    sample = segments if segments.height <= max_points else segments.sample(max_points, seed=0)
    fig = px.scatter(
        sample.to_pandas(), x="value", y="health", color="value_segment", hover_data=["customer_id"],
        title="Projected value against health", category_orders={"value_segment": list(VALUE_SEGMENTS)},
    )
    if segments.height:
        fig.add_hline(y=float(segments["health_cut"][0]), line_dash="dash")
        fig.add_vline(x=float(segments["value_cut"][0]), line_dash="dash")
    return fig
