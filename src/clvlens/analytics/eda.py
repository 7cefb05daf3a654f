"""Customer exploratory tables: order values, purchases per customer, category preferences, inter-purchase gaps.

- An **order value** is the sum of ``amount`` over the lines of one ``order_id`` (per customer).
- **Purchases per customer** counts each customer's distinct orders.
- **Category preferences** share a segment's revenue among categories (missing categories as "(none)").
- **Inter-purchase intervals** are the days between consecutive purchase *days* of a customer (several orders on
  one calendar day are one purchase, as in the RFM summary); customers with one purchase day have none.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from clvlens.analytics._common import as_polars, require_columns, require_numeric

QUANTILES: tuple[float, ...] = (0.0, 0.01, 0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95, 0.99, 1.0)


def order_values(transactions: Any) -> pl.DataFrame:
    """customer_id, order_id, order_value (sum of the order's line amounts), timestamp (of its first line)."""
    frame = as_polars(transactions, "transactions")
    require_columns(frame, ["customer_id", "order_id", "amount", "timestamp"], "transactions")
    require_numeric(frame, ["amount"], "transactions")
    return frame.group_by("customer_id", "order_id").agg(
        pl.col("amount").cast(pl.Float64).sum().alias("order_value"), pl.col("timestamp").min()
    )


def quantile_table(values: pl.Series, name: str, quantiles: tuple[float, ...] = QUANTILES) -> pl.DataFrame:
    """quantile, `name` (linear interpolation), plus the mean as quantile null."""
    rows = [float(values.quantile(q, interpolation="linear")) if values.len() else 0.0 for q in quantiles]  # type: ignore[arg-type]
    mean = float(values.mean()) if values.len() else 0.0  # type: ignore[arg-type]
    return pl.DataFrame(
        {"statistic": [f"p{round(q * 100):g}" for q in quantiles] + ["mean"], "quantile": [*quantiles, None],
         name: [*rows, mean]},
        schema={"statistic": pl.String, "quantile": pl.Float64, name: pl.Float64},
    )


def histogram(values: pl.Series, *, bins: int = 30, clip_quantile: float = 0.99) -> pl.DataFrame:
    """bin, lower, upper, count, share: `bins` equal-width bins from the minimum to the `clip_quantile` quantile,
    the last bin open-ended (upper = +inf) so that the long tail is counted, not drawn."""
    if values.len() == 0:
        return pl.DataFrame(schema={"bin": pl.Int64, "lower": pl.Float64, "upper": pl.Float64, "count": pl.Int64,
                                    "share": pl.Float64})
    low = float(values.min())  # type: ignore[arg-type]
    high = float(values.quantile(clip_quantile, interpolation="linear"))  # type: ignore[arg-type]
    width = (high - low) / bins if high > low else 1.0
    index = ((values.cast(pl.Float64) - low) / width).floor().cast(pl.Int64).clip(0, bins - 1)
    counts = pl.DataFrame({"bin": index}).group_by("bin").agg(pl.len().cast(pl.Int64).alias("count"))
    skeleton = pl.DataFrame({"bin": list(range(bins))}, schema={"bin": pl.Int64})
    return (
        skeleton.join(counts, on="bin", how="left")
        .with_columns(pl.col("count").fill_null(0))
        .with_columns(
            (low + pl.col("bin") * width).alias("lower"),
            pl.when(pl.col("bin") == bins - 1).then(float("inf")).otherwise(low + (pl.col("bin") + 1) * width)
            .alias("upper"),
            (pl.col("count") / values.len()).alias("share"),
        )
        .select("bin", "lower", "upper", "count", "share")
    )


def order_value_distribution(transactions: Any, *, bins: int = 30) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(quantiles, histogram) of order values: see `quantile_table` and `histogram`."""
    values = order_values(transactions).get_column("order_value")
    return quantile_table(values, "order_value"), histogram(values, bins=bins)


def purchases_per_customer(customers: Any, *, orders: str = "orders", cap: int = 20) -> pl.DataFrame:
    """orders (1, 2, ..., `cap`, the last meaning "cap or more"), label, customers, share of customers."""
    frame = as_polars(customers, "customers")
    require_columns(frame, [orders], "customers")
    require_numeric(frame, [orders], "customers")
    n = frame.height
    return (
        frame.select(pl.col(orders).cast(pl.Int64).clip(upper_bound=cap).alias("orders"))
        .group_by("orders")
        .agg(pl.len().cast(pl.Int64).alias("customers"))
        .sort("orders")
        .with_columns(
            pl.when(pl.col("orders") >= cap).then(pl.lit(f"{cap}+")).otherwise(pl.col("orders").cast(pl.String))
            .alias("label"),
            (pl.col("customers") / max(n, 1)).alias("share"),
        )
        .select("orders", "label", "customers", "share")
    )


def category_preferences(
    transactions: Any, segments: pl.DataFrame | None = None, *, by: str = "rfm_segment", top: int | None = None
) -> pl.DataFrame:
    """segment, category, revenue, customers, share_of_segment_revenue (per segment, largest first).

    Without `segments` the single segment is "all customers"; with it (customer_id plus the `by` column, e.g.
    `rfm_segments` or `value_segments` output) each customer's lines count towards their segment. `top` keeps the
    largest categories of each segment.
    """
    frame = as_polars(transactions, "transactions")
    require_columns(frame, ["customer_id", "amount", "category"], "transactions")
    require_numeric(frame, ["amount"], "transactions")
    lines = frame.select("customer_id", pl.col("category").cast(pl.String).fill_null("(none)"),
                         pl.col("amount").cast(pl.Float64))
    if segments is None:
        lines = lines.with_columns(pl.lit("all customers").alias("segment"))
    else:
        require_columns(segments, ["customer_id", by], "segments")
        lines = lines.join(segments.select("customer_id", pl.col(by).alias("segment")), on="customer_id",
                           how="left").with_columns(pl.col("segment").fill_null("(no segment)"))
    table = (
        lines.group_by("segment", "category")
        .agg(pl.col("amount").sum().alias("revenue"), pl.col("customer_id").n_unique().cast(pl.Int64)
             .alias("customers"))
        .with_columns((pl.col("revenue") / pl.col("revenue").sum().over("segment")).alias("share_of_segment_revenue"))
        .sort(["segment", "revenue"], descending=[False, True])
    )
    if top is not None:
        table = table.filter(pl.int_range(pl.len()).over("segment") < top)
    return table


def interpurchase_intervals(transactions: Any) -> pl.DataFrame:
    """Per customer with 2+ purchase days: customer_id, purchase_days, mean_gap_days, median_gap_days,
    min_gap_days, max_gap_days (gaps between consecutive purchase days, in days)."""
    frame = as_polars(transactions, "transactions")
    require_columns(frame, ["customer_id", "timestamp"], "transactions")
    days = frame.select("customer_id", pl.col("timestamp").dt.date().alias("day")).unique().sort("customer_id", "day")
    gaps = days.with_columns(
        (pl.col("day") - pl.col("day").shift(1).over("customer_id")).dt.total_days().cast(pl.Float64).alias("gap")
    )
    return (
        gaps.group_by("customer_id")
        .agg(
            pl.len().cast(pl.Int64).alias("purchase_days"),
            pl.col("gap").mean().alias("mean_gap_days"),
            pl.col("gap").median().alias("median_gap_days"),
            pl.col("gap").min().alias("min_gap_days"),
            pl.col("gap").max().alias("max_gap_days"),
        )
        .filter(pl.col("purchase_days") >= 2)
        .sort("customer_id")
    )


def interpurchase_distribution(intervals: pl.DataFrame, *, bins: int = 30) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(quantiles, histogram) of customers' mean gap in days, from `interpurchase_intervals`."""
    require_columns(intervals, ["mean_gap_days"], "intervals")
    values = intervals.get_column("mean_gap_days").drop_nulls()
    return quantile_table(values, "mean_gap_days"), histogram(values, bins=bins)


def plot_histogram(table: pl.DataFrame, title: str = "Distribution") -> Any:
    """Bar chart of a `histogram` table (order values or gaps); the open last bin is labelled "x+"."""
    import plotly.graph_objects as go

    require_columns(table, ["lower", "upper", "count"], "histogram")
    labels = [f"{lo:,.0f}+" if up == float("inf") else f"{lo:,.0f}-{up:,.0f}"
              for lo, up in zip(table["lower"].to_list(), table["upper"].to_list(), strict=True)]
    fig = go.Figure(go.Bar(x=labels, y=table["count"].to_list()))
    fig.update_layout(title=title, xaxis_title="bin", yaxis_title="count")
    return fig


def plot_purchases_per_customer(table: pl.DataFrame) -> Any:
    """Bar chart of `purchases_per_customer`."""
    import plotly.graph_objects as go

    require_columns(table, ["label", "customers"], "purchases per customer")
    fig = go.Figure(go.Bar(x=table["label"].to_list(), y=table["customers"].to_list()))
    fig.update_layout(title="Orders per customer", xaxis_title="orders", yaxis_title="customers")
    return fig


def plot_category_preferences(table: pl.DataFrame) -> Any:
    """Stacked bars of each segment's revenue share by category, from `category_preferences`."""
    import plotly.express as px

    require_columns(table, ["segment", "category", "share_of_segment_revenue"], "category preferences")
    return px.bar(table.to_pandas(), x="segment", y="share_of_segment_revenue", color="category",
                  title="Category preferences by segment")
