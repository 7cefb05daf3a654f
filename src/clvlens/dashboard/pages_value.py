"""Pages on value: Overview (KPIs, insights), Asset matrix, Segments and playbooks, What-if CLV."""

from __future__ import annotations

from typing import Any

import polars as pl
import streamlit as st

from clvlens.charts import asset_matrix, headline, insights, lorenz, segment_roadmap
from clvlens.dashboard.common import chart, fmt, kpi_cards, table
from clvlens.workspace import Workspace
from clvlens.workspace.views import asset_points, filtered_totals, totals_by
from clvlens.workspace.whatif import what_if

MATRIX_POINTS = 5000
WHAT_IF_CUSTOMERS = 50_000  # rescored per slider move; larger workspaces are sampled and the sums scaled


def overview(ws: Workspace, where: dict[str, list[str]]) -> None:
    st.header("Overview")
    info = ws.run_info
    st.caption(f"Source {info.source or 'unknown'} · observed to {info.observation_end} · horizon {info.horizon} · "
               f"model {info.model or 'none'} · currency {ws.currency.code or 'unknown'} ({ws.currency.decided_by})")
    f = fmt(ws)
    if where:
        totals = filtered_totals(ws, where)
        st.subheader("The filtered customers")
        cards = [("Customers", f.count(totals["customers"] or 0), "customers matching the filters"),
                 ("Historical revenue", f.money(totals["historical_revenue"] or 0),
                  "what they spent up to the observation end")]
        if totals["projected_revenue"] is not None:
            band = ""
            if totals["projected_lower"] is not None and totals["projected_upper"] is not None:
                band = f" (interval sums {f.money(totals['projected_lower'])} to {f.money(totals['projected_upper'])})"
            cards.append(("Projected revenue (CLV)", f.money(totals["projected_revenue"]),
                          f"expected spend over the next {info.horizon}{band}"))
        cards.append(("One-time buyers", f.percent(totals["one_time_buyer_share"] or 0),
                      "customers who bought on a single day only"))
        kpi_cards(cards)
        st.subheader("Whole workspace")
    kpi_cards([(k.label, k.shown, k.definition) for k in headline(ws)])
    found = insights(ws)
    if found:
        st.subheader("What the numbers say")
        for insight in found:
            st.markdown(f"- {insight.text}")
    with st.expander("KPI table with the workspace's own definitions"):
        table(ws.kpis(), "kpis")
    chart(lorenz(ws.lorenz(), f, ws.kpi("top_10pct_share")), "lorenz")


def matrix(ws: Workspace, where: dict[str, list[str]]) -> None:
    st.header("Asset matrix")
    st.caption("Each dot is a customer: projected value against health. Select dots (box or lasso) to list them "
               "below; the dashed lines are the cuts between the four value segments.")
    points = asset_points(ws, where, MATRIX_POINTS)
    figure = asset_matrix(points, fmt(ws), health_label="health" if ws.health_column == "health" else "P(alive)")
    figure.update_layout(dragmode="select")  # dragging selects customers; zoom stays in the mode bar
    event = chart(figure, "asset_matrix", on_select="rerun", selection_mode=("points", "box", "lasso"))
    if points is None or points.is_empty():
        return
    picked = _selected_customers(figure, event)
    if picked:
        st.write(f"{len(picked):,} customers selected in the chart")
        rows = ws.customers(where={**where, "customer_id": picked}, order_by=ws.value_column, limit=MATRIX_POINTS)
    else:
        segments = sorted(points.get_column("value_segment").unique().to_list())
        chosen = st.multiselect("Or pick segments", segments, key="matrix_segments", placeholder="all")
        narrowed = {**where, "value_segment": chosen} if chosen else where
        rows = ws.customers(where=narrowed, order_by=ws.value_column, limit=500)
        st.caption("the 500 most valuable customers matching the filters")
    wanted = [c for c in ("customer_id", "value_segment", "rfm_segment", "region", "clv", "clv_lower", "clv_upper",
                          "p_alive", "health", "frequency", "total_value", "last_purchase") if c in rows.columns]
    table(rows.select(wanted), "asset_matrix_customers")


def _selected_customers(figure: Any, event: Any) -> list[str]:
    """Customer ids of the selected points (each trace's hover text is the customer id)."""
    try:
        points = event.selection.points if event else []
    except AttributeError:
        return []
    picked = []
    for point in points or []:
        curve, index = point.get("curve_number"), point.get("point_index", point.get("point_number"))
        if curve is None or index is None or curve >= len(figure.data):
            continue
        text = figure.data[curve].text
        if text is not None and index < len(text):
            picked.append(str(text[index]))
    return picked


def segments(ws: Workspace, where: dict[str, list[str]]) -> None:
    st.header("Segments and playbooks")
    f = fmt(ws)
    all_segments = ws.segments()
    if all_segments is None:
        st.warning("This workspace has no segments (the model or strategy stage was skipped: "
                   f"{ws.run_info.skipped.get('models') or ws.run_info.skipped.get('strategy') or 'no reason'}).")
    left, right = st.columns(2)
    with left:
        chart(segment_roadmap(all_segments, f, "value"), "roadmap_value")
    with right:
        chart(segment_roadmap(all_segments, f, "rfm"), "roadmap_rfm")
    if all_segments is not None:
        st.subheader("Playbooks")
        for kind, label in (("value", "Value quadrants"), ("rfm", "RFM segments")):
            part = all_segments.filter(pl.col("segment_type") == kind)
            if part.is_empty():
                continue
            st.markdown(f"**{label}**")
            for row in part.iter_rows(named=True):
                st.markdown(f"- **{row['segment']}** ({f.count(row['customers'])} customers, "
                            f"{f.money(row['money_at_stake'])} at stake): *{row['action']}*. {row['rationale']}")
        table(all_segments, "segments")
    if where:
        st.subheader("Segments among the filtered customers")
        for column in ("value_segment", "rfm_segment"):
            if column in ws.columns("customers"):
                table(totals_by(ws, column, where), f"filtered_{column}")


def whatif(ws: Workspace, where: dict[str, list[str]]) -> None:
    st.header("What-if CLV")
    st.caption("Rescore projected value with the saved models under another horizon, discount rate or margin; "
               "nothing is refitted.")
    info = ws.run_info
    left, middle, right = st.columns(3)
    months = left.slider("Horizon (months)", 1, 60, _months(info.horizon), key="whatif_horizon")
    rate = middle.slider("Annual discount rate", 0.0, 0.5, float(info.discount_rate or 0.1), 0.01,
                         key="whatif_rate")
    margin = right.slider("Margin (share of revenue that is profit)", 0.05, 1.0, float(info.margin or 1.0), 0.05,
                          key="whatif_margin")
    result = _what_if(str(ws.folder), ws.run_info.created_at, f"{months}M", rate, margin,
                      tuple((k, tuple(v)) for k, v in sorted(where.items())))
    if result is None:
        st.warning("This workspace has no saved models to rescore (the model stage was skipped).")
        return
    f = fmt(ws)
    change = "" if result.change is None else f"{result.change:+.1%}"
    kpi_cards([
        ("Projected value as saved", f.money(result.saved_total),
         f"horizon {info.horizon}, discount {info.discount_rate}, margin {info.margin}"),
        ("Projected value, what-if", f.money(result.what_if_total), f"horizon {months}M, discount {rate:.2f}, "
         f"margin {margin:.2f}"),
        ("Change", change or "n/a", "what-if against the saved projection"),
        ("Customers rescored", f.count(result.scored), f"of {f.count(result.customers)} matching the filters"),
    ])
    if result.scored < result.customers:
        st.caption(f"rescored on a reproducible sample of {f.count(result.scored)} of {f.count(result.customers)} "
                   "customers; both totals are the sample's sums scaled to every customer")
    if result.note:
        st.caption(result.note)
    table(result.by_segment, "what_if_by_segment")


@st.cache_data(max_entries=64, show_spinner=False)
def _what_if(folder: str, created: str | None, horizon: str, rate: float, margin: float,
             where: tuple[tuple[str, tuple[str, ...]], ...]) -> Any:  # the run's time keys the cache
    from clvlens.dashboard.common import workspace_by_path

    return what_if(workspace_by_path(folder), horizon=horizon, discount_rate=rate, margin=margin,
                   where={k: list(v) for k, v in where} or None, max_customers=WHAT_IF_CUSTOMERS)


def _months(horizon: str) -> int:
    from clvlens.models import parse_horizon

    try:
        return max(1, min(60, round(parse_horizon(horizon, "M"))))
    except Exception:  # an unreadable saved horizon falls back to a year
        return 12
