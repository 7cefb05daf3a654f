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
from clvlens.dashboard.common import chart, describe_filters, fmt, not_filtered, table, where_key
from clvlens.workspace import Workspace, model_diagnostics
from clvlens.workspace.views import (
    bundles_among,
    cohort_cliff_rows,
    cohort_rows,
    customer_matches,
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


def basket(ws: Workspace, where: dict[str, list[str]]) -> None:
    st.header("Market basket")
    ranges = rule_ranges(ws)
    if not ranges:
        st.info("No basket rules in this workspace "
                f"({ws.run_info.skipped.get('basket', 'no rule met the thresholds')}).")
        return
    not_filtered(where, "the rules are mined once over every order in the store, so their support, confidence "
                        "and lift describe all customers; mining again for each filter is a job for a run.")
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
    _bundles(ws, where)
    _offers(ws, where)


@st.cache_data(max_entries=16, show_spinner=False)
def _filtered_bundles(folder: str, created: str | None, key: tuple[Any, ...]) -> Any:
    from clvlens.dashboard.common import workspace_by_path

    return bundles_among(workspace_by_path(folder), {column: list(values) for column, values in key})


def _bundles(ws: Workspace, where: dict[str, list[str]]) -> None:
    st.subheader("Bundles")
    if not where:
        bundles = ws.bundles(limit=200)
        chart(bundles_bar(bundles), "bundles_bar")
        table(bundles, "bundles")
        return
    found, counted, matching = _filtered_bundles(str(ws.folder), ws.run_info.created_at, where_key(where))
    if found is None:
        st.caption("No bundles in this workspace.")
        return
    sample = ""
    if counted < matching:
        sample = (f" (counted on a reproducible sample of {counted:,} of them, chosen by a hash of the customer id; "
                  f"filtered_count scaled up by {matching / counted:.2f})")
    st.caption("The bundles were found over every order; their count, support and lift are recounted here on the "
               f"orders of the {matching:,} customers matching the filters{sample}: filtered_count, "
               "filtered_support and filtered_lift, beside the store-wide figures.")
    recounted = found.filter(found["filtered_count"] > 0).with_columns(
        found["filtered_support"].alias("support"), found["filtered_lift"].alias("lift"))
    chart(bundles_bar(recounted), "bundles_bar")
    table(found, "bundles")


def _offers(ws: Workspace, where: dict[str, list[str]]) -> None:
    st.subheader("Next-best offer")
    known = offer_customers(ws, where or None)
    if where:
        st.caption(f"Lookup among the customers matching the filters ({len(known):,} listed with offers).")
    typed = st.text_input("Customer id", key="offer_customer_typed")
    picked = st.selectbox("or one of the customers with the strongest offers", known, key="offer_customer",
                          index=0 if known else None)
    customer = typed.strip() or picked
    if not customer:
        if where:
            st.write("No customer matching the filters has an offer.")
        return
    if where and typed.strip() and not customer_matches(ws, str(customer), where):
        st.warning(f"Customer {customer} does not match the filters ({describe_filters(where)}).")
        return
    offers = ws.next_best_offer(customer_id=str(customer))
    if offers is None or offers.is_empty():
        st.write(f"No offer for customer {customer}.")
    else:
        table(offers.select([c for c in ("rank", "item", "item_name", "score", "confidence", "lift", "rule")
                             if c in offers.columns]), "next_best_offer")


@st.cache_data(max_entries=16, show_spinner=False)
def _diagnostics(folder: str, created: str | None, key: tuple[Any, ...]) -> Any:  # the run's time keys the cache
    from clvlens.dashboard.common import workspace_by_path

    return model_diagnostics(workspace_by_path(folder), {column: list(values) for column, values in key} or None)


def models(ws: Workspace, where: dict[str, list[str]]) -> None:
    st.header("Models")
    info = ws.run_info
    st.caption(f"Chosen transaction model: {info.model or 'none'} (by {info.model_criterion or 'n/a'}); "
               f"{info.raw.get('spend_model', '')}")
    diagnostics = _diagnostics(str(ws.folder), info.created_at, where_key(where))
    if where and diagnostics is not None:
        st.caption(f"Tracking and repeat purchases: the {diagnostics.sampled:,} of {diagnostics.customers:,} "
                   f"customers matching the filters ({describe_filters(where)}); the model's expectation is for "
                   "the same customers.")
    elif where and ws.customer_count(where) == 0:
        st.info("No customer matches the filters.")
    if diagnostics is not None and diagnostics.tracking_note:
        st.caption(f"Tracking: {diagnostics.tracking_note}.")
    left, right = st.columns(2)
    with left:
        chart(tracking(diagnostics), "tracking")
    with right:
        chart(frequency_histogram(diagnostics), "frequency_histogram")
    not_filtered(where, "the holdout calibration, the gain chart, the scorecard, the model selection and the health "
                        "validation below describe every customer: each model was refitted before a holdout period "
                        "and scored on it during the run, which the dashboard does not redo for a subset.")
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
