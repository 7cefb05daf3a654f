"""Acquisition-month cohorts from the transaction log: retention, revenue per customer, cumulative LTV, the cliff.

A customer's **cohort** is the calendar month (YYYY-MM) of their first transaction; **period** N is the number of
calendar months between the cohort month and the month of a transaction (N = 0 is the acquisition month). For
each cohort and every period from 0 to the last month of the log (months with no activity included):

- ``customers``: the cohort's size (customers acquired that month);
- ``active_customers``: cohort customers with at least one transaction in period N;
- ``retention`` = active_customers / customers (1 at N = 0 by construction);
- ``revenue``: the cohort's revenue in period N; ``revenue_per_customer`` = revenue / customers (per *original*
  cohort customer, so churned customers keep counting in the denominator);
- ``cumulative_ltv``: the running sum of revenue_per_customer over periods 0..N.

The **month-2 cliff** (`cohort_cliffs`) counts a customer's months from 1, as the phrase does: month 1 is the
acquisition month (period 0) and month 2 the next calendar month (period 1). The cliff is the fall in retention
between them, ``month2_cliff = retention(0) - retention(1) = 1 - retention(1)``, in retention points: the share
of the cohort that does not buy again in its second month. ``follow_on_drop = retention(1) - retention(2)`` is the
next step (period 1 to 2), and ``steepest_period`` the period N >= 1 with the largest fall in retention points from
N - 1; ``cliff_at_month2`` says that this largest fall is the month-2 cliff. Under the demo store's BG/NBD process
most customers never buy again, so retention falls from 100% to a few percent at month 2 and then declines slowly
(dropout after repeat purchases), which is what these columns find.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from clvlens.analytics._common import as_polars, require_columns, require_numeric
from clvlens.errors import ClvlensError


def _month_index(column: str) -> pl.Expr:
    return pl.col(column).dt.year().cast(pl.Int32) * 12 + pl.col(column).dt.month().cast(pl.Int32) - 1


def _month_label(index: pl.Expr) -> pl.Expr:
    year = (index // 12).cast(pl.String)
    month = (index % 12 + 1).cast(pl.String).str.zfill(2)
    return pl.concat_str([year, month], separator="-")


def cohort_table(
    transactions: Any,
    *,
    customer_id: str = "customer_id",
    timestamp: str = "timestamp",
    amount: str = "amount",
) -> pl.DataFrame:
    """Tidy cohort table: cohort, period, customers, active_customers, retention, revenue,
    revenue_per_customer, cumulative_ltv (see the module docstring), sorted by cohort and period."""
    frame = as_polars(transactions, "transactions")
    require_columns(frame, [customer_id, timestamp, amount], "transactions")
    require_numeric(frame, [amount], "transactions")
    schema = {
        "cohort": pl.String, "period": pl.Int32, "customers": pl.Int64, "active_customers": pl.Int64,
        "retention": pl.Float64, "revenue": pl.Float64, "revenue_per_customer": pl.Float64,
        "cumulative_ltv": pl.Float64,
    }
    if frame.is_empty():
        return pl.DataFrame(schema=schema)
    if not frame.schema[timestamp].is_temporal():
        raise ClvlensError(f"transactions: column '{timestamp}' must be a datetime, got {frame.schema[timestamp]}")
    # one row per customer and active month first: every later count is then a row count, not a distinct count
    monthly = (
        frame.lazy()
        .group_by(pl.col(customer_id).alias("customer_id"), _month_index(timestamp).alias("month"))
        .agg(pl.col(amount).cast(pl.Float64).sum().alias("amount"))
        .with_columns(pl.col("month").min().over("customer_id").alias("cohort_month"))
        .with_columns((pl.col("month") - pl.col("cohort_month")).alias("period"))
    )
    activity = (
        monthly.group_by("cohort_month", "period")
        .agg(pl.len().cast(pl.Int64).alias("active_customers"), pl.col("amount").sum().alias("revenue"))
        .collect()
        .lazy()
    )
    last_month = frame.select(_month_index(timestamp).max()).item()
    # every customer buys in their acquisition month: the cohort's size is its period-0 activity
    sizes = activity.filter(pl.col("period") == 0).select("cohort_month", pl.col("active_customers").alias("customers"))
    grid = sizes.with_columns(
        pl.int_ranges(0, pl.lit(last_month) - pl.col("cohort_month") + 1, dtype=pl.Int32).alias("period")
    ).explode("period")
    table = (
        grid.join(activity, on=["cohort_month", "period"], how="left")
        .with_columns(pl.col("active_customers").fill_null(0), pl.col("revenue").fill_null(0.0))
        .sort("cohort_month", "period")
        .with_columns(
            (pl.col("active_customers") / pl.col("customers")).alias("retention"),
            (pl.col("revenue") / pl.col("customers")).alias("revenue_per_customer"),
        )
        .with_columns(pl.col("revenue_per_customer").cum_sum().over("cohort_month").alias("cumulative_ltv"))
        .with_columns(_month_label(pl.col("cohort_month")).alias("cohort"))
        .select(list(schema))
        .collect()
    )
    return table.cast(schema)  # type: ignore[arg-type]


def retention_matrix(cohorts: pl.DataFrame, value: str = "retention") -> pl.DataFrame:
    """The wide cohort x period matrix of `value` (retention by default): one row per cohort, one column per
    period ("0", "1", ...); null where the period is beyond the end of the log."""
    require_columns(cohorts, ["cohort", "period", value], "cohorts")
    wide = cohorts.select("cohort", pl.col("period").cast(pl.String), value).pivot(
        on="period", index="cohort", values=value, sort_columns=False
    )
    periods = sorted((c for c in wide.columns if c != "cohort"), key=int)
    return wide.select("cohort", *periods).sort("cohort")


def cohort_cliffs(cohorts: pl.DataFrame) -> pl.DataFrame:
    """Per cohort observed for at least two periods: cohort, customers, retention_m1 and retention_m2 (periods 1
    and 2), month2_cliff (retention(0) - retention(1)), follow_on_drop (retention(1) - retention(2), null when
    period 2 is not observed yet), steepest_period (the period N >= 1 with the largest fall in retention points
    from N - 1, the earliest on ties) and cliff_at_month2 (steepest_period == 1); see the module docstring."""
    require_columns(cohorts, ["cohort", "period", "customers", "retention"], "cohorts")
    ordered = cohorts.sort("cohort", "period")
    steepest = (
        ordered.with_columns((pl.col("retention").shift(1).over("cohort") - pl.col("retention")).alias("_fall"))
        .filter(pl.col("period") >= 1)
        .sort("cohort", "_fall", "period", descending=[False, True, False], nulls_last=True)
        .group_by("cohort", maintain_order=True)
        .agg(pl.col("period").first().alias("steepest_period"))
    )
    at = {n: pl.col("retention").filter(pl.col("period") == n).first() for n in (0, 1, 2)}
    wide = ordered.group_by("cohort", maintain_order=True).agg(
        pl.col("customers").first(),
        at[0].alias("_m0"),
        at[1].alias("retention_m1"),
        at[2].alias("retention_m2"),
    )
    return (
        wide.filter(pl.col("retention_m1").is_not_null())
        .with_columns(
            (pl.col("_m0") - pl.col("retention_m1")).alias("month2_cliff"),
            (pl.col("retention_m1") - pl.col("retention_m2")).alias("follow_on_drop"),
        )
        .join(steepest, on="cohort", how="left")
        .with_columns((pl.col("steepest_period") == 1).alias("cliff_at_month2"))
        .drop("_m0")
        .sort("cohort")
    )


def cliff_summary(cliffs: pl.DataFrame) -> dict[str, float]:
    """Customer-weighted month2_cliff and follow_on_drop over the assessed cohorts, and the share of cohorts whose
    steepest fall is the month-2 cliff."""
    require_columns(cliffs, ["customers", "month2_cliff", "follow_on_drop", "cliff_at_month2"], "cohort cliffs")
    if cliffs.is_empty():
        return {"month2_cliff": 0.0, "follow_on_drop": 0.0, "share_cohorts_cliff_at_month2": 0.0}
    with_m2 = cliffs.filter(pl.col("follow_on_drop").is_not_null())
    weights = pl.col("customers").cast(pl.Float64)
    cliff = cliffs.select((pl.col("month2_cliff") * weights).sum() / weights.sum()).item()
    follow = 0.0
    if with_m2.height:
        follow = with_m2.select((pl.col("follow_on_drop") * weights).sum() / weights.sum()).item()
    share = cliffs.select(pl.col("cliff_at_month2").cast(pl.Float64).mean()).item()
    return {"month2_cliff": float(cliff), "follow_on_drop": float(follow or 0.0),
            "share_cohorts_cliff_at_month2": float(share)}


def plot_retention_heatmap(cohorts: pl.DataFrame) -> Any:
    """Heatmap of retention by cohort (rows) and months since acquisition (columns), from `cohort_table`."""
    import plotly.graph_objects as go

    wide = retention_matrix(cohorts)
    periods = [c for c in wide.columns if c != "cohort"]
    z = wide.select(periods).to_numpy()
    fig = go.Figure(
        go.Heatmap(z=z, x=[int(p) for p in periods], y=wide["cohort"].to_list(), colorscale="Blues",
                   zmin=0, zmax=1, colorbar={"title": "retention", "tickformat": ".0%"},
                   hovertemplate="cohort %{y}, month %{x}: %{z:.1%}<extra></extra>")
    )
    fig.update_layout(title="Retention by acquisition cohort", xaxis_title="months since acquisition",
                      yaxis_title="cohort", yaxis={"autorange": "reversed"})
    return fig


def plot_cumulative_ltv(cohorts: pl.DataFrame) -> Any:
    """One cumulative revenue-per-customer curve per cohort, from `cohort_table`."""
    import plotly.express as px

    require_columns(cohorts, ["cohort", "period", "cumulative_ltv"], "cohorts")
    return px.line(cohorts.sort("cohort", "period").to_pandas(), x="period", y="cumulative_ltv", color="cohort",
                   title="Cumulative revenue per original cohort customer",
                   labels={"period": "months since acquisition", "cumulative_ltv": "cumulative LTV"})
