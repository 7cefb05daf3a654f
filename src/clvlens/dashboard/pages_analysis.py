"""Pages on patterns: Cohorts, Regions, Market basket, Models."""

from __future__ import annotations

from typing import Any

import streamlit as st

from clvlens.charts import (
    bundles_bar,
    frequency_histogram,
    gains,
    holdout_calibration,
    region_map,
    retention_heatmap,
    revenue_per_cohort_customer,
    rules_scatter,
    scorecard_rows,
    tracking,
)
from clvlens.dashboard.common import chart, fmt, table
from clvlens.workspace import Workspace, model_diagnostics
from clvlens.workspace.views import (
    cohort_cliff_rows,
    cohort_rows,
    offer_customers,
    rule_ranges,
    rules,
    totals_by,
)


def cohorts(ws: Workspace, where: dict[str, list[str]]) -> None:
    st.header("Cohorts")
    chosen = where.get("cohort")
    st.caption("Customers grouped by the month of their first purchase" +
               (f"; showing the {len(chosen)} chosen cohorts" if chosen else ""))
    cliff = ws.month2_cliff()
    if cliff is not None:
        st.metric("Month-2 cliff", fmt(ws).percent(cliff["month2_cliff"]),
                  help="share of a cohort's customers who do not buy again in their second month "
                       f"(customer-weighted over {cliff['cohorts']} cohorts)")
    rows = cohort_rows(ws, chosen)
    chart(retention_heatmap(rows), "retention_heatmap")
    chart(revenue_per_cohort_customer(rows, fmt(ws)), "revenue_per_cohort_customer")
    table(cohort_cliff_rows(ws, chosen), "cohort_cliffs")
    with st.expander("Cohort table"):
        table(rows, "cohorts")


def regions(ws: Workspace, where: dict[str, list[str]]) -> None:
    st.header("Regions")
    if "region" not in ws.columns("customers"):
        st.info("The data have no region column, so there is no regional view.")
        return
    frame = totals_by(ws, "region", where) if where else ws.regions()
    if where:
        st.caption("Projected revenue of the customers matching the filters")
    chart(region_map(frame, fmt(ws)), "region_map")
    table(frame, "regions")


def basket(ws: Workspace, where: dict[str, list[str]]) -> None:  # rules are store-wide
    st.header("Market basket")
    ranges = rule_ranges(ws)
    if not ranges:
        st.info("No basket rules in this workspace "
                f"({ws.run_info.skipped.get('basket', 'no rule met the thresholds')}).")
        return
    c1, c2, c3, c4 = st.columns(4)
    support = c1.slider("Minimum support", 0.0, float(ranges["support"][1]), 0.0, key="basket_support",
                        format="%.3f")
    confidence = c2.slider("Minimum confidence", 0.0, 1.0, 0.0, 0.05, key="basket_confidence")
    lift = c3.slider("Minimum lift", 0.0, float(max(ranges["lift"][1], 1.0)), 0.0, key="basket_lift")
    item = c4.text_input("Item name contains", key="basket_item")
    found, total = rules(ws, min_support=support, min_confidence=confidence, min_lift=lift, item=item or None,
                         limit=500)
    st.caption(f"{total:,} rules match")
    chart(rules_scatter(found), "rules_scatter")
    shown = found.select([c for c in ("rule", "support", "confidence", "lift", "leverage", "conviction", "count")
                          if c in found.columns]) if found is not None else None
    table(shown, "rules", total=total)
    st.subheader("Bundles")
    bundles = ws.bundles(limit=200)
    chart(bundles_bar(bundles), "bundles_bar")
    table(bundles, "bundles")
    st.subheader("Next-best offer")
    known = offer_customers(ws)
    typed = st.text_input("Customer id", key="offer_customer_typed")
    picked = st.selectbox("or one of the customers with the strongest offers", known, key="offer_customer",
                          index=0 if known else None)
    customer = typed.strip() or picked
    if customer:
        offers = ws.next_best_offer(customer_id=str(customer))
        if offers is None or offers.is_empty():
            st.write(f"No offer for customer {customer}.")
        else:
            table(offers.select([c for c in ("rank", "item", "item_name", "score", "confidence", "lift", "rule")
                                 if c in offers.columns]), "next_best_offer")


@st.cache_data(max_entries=8, show_spinner=False)
def _diagnostics(folder: str, created: str | None) -> Any:  # the run's time keys the cache
    from clvlens.dashboard.common import workspace_by_path

    return model_diagnostics(workspace_by_path(folder))


def models(ws: Workspace, where: dict[str, list[str]]) -> None:  # models describe every customer
    st.header("Models")
    info = ws.run_info
    st.caption(f"Chosen transaction model: {info.model or 'none'} (by {info.model_criterion or 'n/a'}); "
               f"{info.raw.get('spend_model', '')}")
    diagnostics = _diagnostics(str(ws.folder), info.created_at)
    left, right = st.columns(2)
    with left:
        chart(tracking(diagnostics), "tracking")
    with right:
        chart(frequency_histogram(diagnostics), "frequency_histogram")
    f = fmt(ws)
    scorecard = ws.scorecard()
    left, right = st.columns(2)
    with left:
        chart(holdout_calibration(scorecard, f), "holdout_calibration")
    with right:
        chart(gains(ws.scorecard_gains()), "gains")
    if scorecard is not None:
        st.subheader("Scorecard on the holdout")
        if info.raw.get("scorecard_holdout"):
            st.caption(f"holdout {info.raw['scorecard_holdout']}")
        rows = scorecard_rows(scorecard, f)
        if len(rows) > 1:
            import polars as pl

            st.dataframe(pl.DataFrame(rows[1:], schema=rows[0], orient="row"), hide_index=True, width="stretch")
        with st.expander("Scorecard with every measure"):
            table(scorecard, "scorecard")
    table(ws.model_selection(), "model_selection", caption="candidate transaction models")
    validation = ws.health_validation()
    if validation is not None:
        st.subheader("Health score validation")
        table(validation, "health_validation")
