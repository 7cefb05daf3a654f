"""Prescriptive playbooks: one action (retain, grow, win back, let go) per value and RFM segment, with its data.

Every segment gets an action and a one-line rationale from the editable tables ``VALUE_PLAYBOOK`` and
``RFM_PLAYBOOK``, plus its size, historical and projected revenue and the **money at stake**, whose meaning
follows the action (v = projected value, h = health, A = historical revenue per year of tenure, tenure floored
at a year, as in :mod:`clvlens.analytics.kpis`):

- retain: sum of v, the projected value that keeping these customers protects;
- grow: sum of max(0, High-Value median v - v), the uplift if each reached the High-Value median;
- win back: sum of (1 - h) x A, the yearly revenue run-rate already slipping away that a win-back can recover;
- let go: sum of v, the (small) projected value given up by not spending on them.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from clvlens.analytics._common import as_polars, require_columns, resolve_health, resolve_unit_days
from clvlens.analytics.asset_matrix import (
    AT_RISK,
    CRITICAL_CHURN,
    GROWTH,
    HIGH_VALUE,
    VALUE_SEGMENTS,
    segment_summary,
)
from clvlens.analytics.kpis import annualised_value
from clvlens.analytics.rfm_segments import CATCH_ALL, RFM_RULES, segment_names

RETAIN, GROW, WIN_BACK, LET_GO = "retain", "grow", "win back", "let go"
ACTIONS: tuple[str, ...] = (RETAIN, GROW, WIN_BACK, LET_GO)

VALUE_PLAYBOOK: dict[str, tuple[str, str]] = {
    HIGH_VALUE: (RETAIN, "Most of the projected value and still active: protect with service and loyalty perks."),
    GROWTH: (GROW, "Active but low value: cross-sell and bundles to lift spend towards the High-Value level."),
    AT_RISK: (WIN_BACK, "Valuable customers whose activity is fading: reach out before they are gone."),
    CRITICAL_CHURN: (LET_GO, "Low value and likely gone: keep to cheap automated touches only."),
}

RFM_PLAYBOOK: dict[str, tuple[str, str]] = {
    "Champions": (RETAIN, "Recent, frequent, big spenders: reward them and ask for referrals."),
    "Loyal Customers": (RETAIN, "Buy often and recently: keep them engaged with loyalty programmes."),
    "Potential Loyalists": (GROW, "Recent repeat buyers: nudge towards a habit with membership offers."),
    "New Customers": (GROW, "Just made a first purchase: onboard well to earn the second order."),
    "Promising": (GROW, "Recent first-time buyers: build awareness of the range with light offers."),
    "Need Attention": (GROW, "Middling recency and frequency: limited-time offers before they cool off."),
    "About to Sleep": (WIN_BACK, "One purchase and fading: reactivate with relevant recommendations."),
    "Cannot Lose Them": (WIN_BACK, "Used to buy often and big, but not lately: personal win-back now."),
    "At Risk": (WIN_BACK, "Repeat buyers gone quiet: personalised reactivation campaigns."),
    "Hibernating": (LET_GO, "One old low purchase: only cheap reminders, no paid acquisition."),
    "Lost": (LET_GO, "Longest gone with little history: stop spending, keep them on the newsletter."),
}

_DEFAULT_PLAY = (LET_GO, "No playbook rule for this segment: treat as low priority until reviewed.")


def playbook_table(
    customers: Any,
    segments: pl.DataFrame,
    *,
    segment_type: str,
    segment: str,
    order: list[str] | tuple[str, ...],
    playbook: dict[str, tuple[str, str]],
    health: str | None = None,
    value: str = "clv",
    historical: str = "total_value",
    T: str = "T",
    time_unit: str | None = None,
    high_value_median: float | None = None,
) -> pl.DataFrame:
    """One row per segment (all of `order`): segment_type, segment, customers, historical_revenue,
    projected_revenue, mean_p_alive, share_customers, share_projected_revenue, action, rationale, money_at_stake.

    `segments` holds customer_id and the `segment` column, row-aligned with or joinable to `customers` on
    customer_id. `high_value_median` is the High-Value median of `value` for the grow stake (0 when None).
    """
    frame = as_polars(customers, "customers")
    health = resolve_health(frame, health)
    require_columns(frame, ["customer_id", health, value, historical, T], "customers")
    require_columns(segments, ["customer_id", segment], "segments")
    unit_days = resolve_unit_days(frame, time_unit)
    keep = ["customer_id", *dict.fromkeys([health, "p_alive"] if "p_alive" in frame.columns else [health]), value,
            historical, T]
    data = frame.select(keep).join(
        segments.select("customer_id", segment), on="customer_id", how="left"
    )
    summary = segment_summary(data, segment, order, health=health, value=value, historical=historical)
    plays = pl.DataFrame(
        {
            "segment": summary.get_column("segment").to_list(),
            "action": [playbook.get(s, _DEFAULT_PLAY)[0] for s in summary.get_column("segment").to_list()],
            "rationale": [playbook.get(s, _DEFAULT_PLAY)[1] for s in summary.get_column("segment").to_list()],
        },
        schema={"segment": pl.String, "action": pl.String, "rationale": pl.String},
    )
    median = float(high_value_median) if high_value_median is not None else 0.0
    annual = annualised_value(pl.col(historical).cast(pl.Float64), pl.col(T).cast(pl.Float64), unit_days)
    parts = data.select(
        pl.col(segment).alias("segment"),
        pl.col(value).cast(pl.Float64).alias("_v"),
        (pl.lit(median) - pl.col(value).cast(pl.Float64)).clip(lower_bound=0.0).alias("_gap"),
        ((1.0 - pl.col(health).cast(pl.Float64)).clip(0.0, 1.0) * annual).alias("_loss"),
    )
    stakes = (
        parts.join(plays.select("segment", "action"), on="segment", how="left")
        .group_by("segment")
        .agg(
            pl.col("_v").sum(),
            pl.col("_gap").sum(),
            pl.col("_loss").sum(),
            pl.col("action").first(),
        )
        .select("segment", pl.coalesce(
            pl.when(pl.col("action") == GROW).then(pl.col("_gap"))
            .when(pl.col("action") == WIN_BACK).then(pl.col("_loss"))
            .otherwise(pl.col("_v")),
            pl.lit(0.0),
        ).alias("money_at_stake"))
    )
    return (
        summary.join(plays, on="segment", how="left", maintain_order="left")
        .join(stakes, on="segment", how="left", maintain_order="left")
        .with_columns(pl.col("money_at_stake").fill_null(0.0), pl.lit(segment_type).alias("segment_type"))
        .select(
            "segment_type", "segment", "customers", "historical_revenue", "projected_revenue", "mean_health",
            "mean_p_alive",
            "share_customers", "share_projected_revenue", "action", "rationale", "money_at_stake",
        )
    )


def value_playbook(
    customers: Any,
    value_segments: pl.DataFrame,
    *,
    health: str | None = None,
    value: str = "clv",
    historical: str = "total_value",
    time_unit: str | None = None,
) -> pl.DataFrame:
    """The playbook of the four value segments; `value_segments` is `asset_matrix.value_segments` output."""
    require_columns(value_segments, ["customer_id", "value_segment", "value"], "value segments")
    median = value_segments.filter(pl.col("value_segment") == HIGH_VALUE).get_column("value").median()
    return playbook_table(
        customers, value_segments, segment_type="value", segment="value_segment", order=VALUE_SEGMENTS,
        playbook=VALUE_PLAYBOOK, health=health, value=value, historical=historical, time_unit=time_unit,
        high_value_median=float(median) if median is not None else None,  # type: ignore[arg-type]
    )


def rfm_playbook(
    customers: Any,
    rfm: pl.DataFrame,
    *,
    value_segments: pl.DataFrame | None = None,
    health: str | None = None,
    value: str = "clv",
    historical: str = "total_value",
    time_unit: str | None = None,
) -> pl.DataFrame:
    """The playbook of the RFM segments (all rule segments, in rule order); `rfm` is `rfm_segments` output.

    The grow stake uses the High-Value median from `value_segments` when given, else no uplift (0).
    """
    require_columns(rfm, ["customer_id", "rfm_segment"], "rfm segments")
    median = None
    if value_segments is not None:
        median = value_segments.filter(pl.col("value_segment") == HIGH_VALUE).get_column("value").median()
    return playbook_table(
        customers, rfm, segment_type="rfm", segment="rfm_segment", order=segment_names(RFM_RULES, CATCH_ALL),
        playbook=RFM_PLAYBOOK, health=health, value=value, historical=historical, time_unit=time_unit,
        high_value_median=float(median) if median is not None else None,  # type: ignore[arg-type]
    )


def plot_playbook(segments: pl.DataFrame) -> Any:
    """Money at stake per segment, coloured by action (from a playbook or the `segments` workspace table)."""
    import plotly.express as px

    require_columns(segments, ["segment", "action", "money_at_stake"], "segments")
    data = segments.to_pandas()
    facet = "segment_type" if "segment_type" in segments.columns else None
    fig = px.bar(data, x="segment", y="money_at_stake", color="action", facet_col=facet,
                 category_orders={"action": list(ACTIONS)}, title="Money at stake per segment and action")
    fig.update_xaxes(matches=None)
    return fig
