"""Pages on single records: Customer (history, P(alive) over time, CLV with its interval, offers) and Data
quality (the cleaning report and a paged quarantine)."""

from __future__ import annotations

import streamlit as st

from clvlens.charts import cleaning_report
from clvlens.charts.customer import alive_history as alive_history_chart
from clvlens.dashboard.common import chart, fmt, kpi_cards, not_filtered, table
from clvlens.workspace import Workspace
from clvlens.workspace.views import FILTER_COLUMNS, alive_history, customer_orders, customer_record, top_customers

QUARANTINE_PAGE = 100


def customer(ws: Workspace, where: dict[str, list[str]]) -> None:
    st.header("Customer")
    candidates = top_customers(ws, where or None, limit=200)
    typed = st.text_input("Customer id", key="customer_typed", placeholder="type an id, or pick one below")
    picked = st.selectbox("Most valuable customers matching the filters", candidates, key="customer_pick",
                          index=0 if candidates else None)
    customer_id = typed.strip() or picked
    if not customer_id:
        st.info("No customer matches the filters.")
        return
    record = customer_record(ws, str(customer_id))
    if record is None:
        st.warning(f"No customer {customer_id!r} in this workspace.")
        return
    f = fmt(ws)
    cards = [("Segment", f"{record.get('value_segment') or '-'} / {record.get('rfm_segment') or '-'}",
              "value quadrant / RFM segment")]
    if record.get("clv") is not None:
        interval = ""
        if record.get("clv_lower") is not None and record.get("clv_upper") is not None:
            interval = f"interval {f.money(record['clv_lower'])} to {f.money(record['clv_upper'])}"
        cards.append((f"CLV ({ws.run_info.horizon})", f.money(record["clv"]), interval or "projected value"))
    if record.get("p_alive") is not None:
        cards.append(("P(alive)", f"{record['p_alive']:.2f}", "probability the customer still buys (model)"))
    for column, label, note in (("p_active", "p_active", "machine-learned probability of buying again"),
                                ("health", "Health", "health score"),
                                ("ltv_ml", "ML LTV", "machine-learned value over the horizon")):
        if record.get(column) is not None:
            shown = f.money(record[column]) if column == "ltv_ml" else f"{record[column]:.2f}"
            cards.append((label, shown, note))
    cards += [("Orders", f.count(record.get("orders") or 0), "orders up to the observation end"),
              ("Historical value", f.money(record.get("total_value") or 0), "what the customer spent"),
              ("Region", str(record.get("region") or "-"), "from the customer's orders")]
    kpi_cards(cards)
    orders = customer_orders(ws, str(customer_id))
    chart(alive_history_chart(alive_history(ws, str(customer_id)), orders, f, str(customer_id)), "alive_history")
    table(orders, "customer_orders")
    offers = ws.next_best_offer(customer_id=str(customer_id))
    if offers is not None and not offers.is_empty():
        st.subheader("Next-best offers")
        table(offers.select([c for c in ("rank", "item", "item_name", "score", "confidence", "lift", "rule")
                             if c in offers.columns]), "customer_offers")


def quality(ws: Workspace, where: dict[str, list[str]]) -> None:
    st.header("Data quality")
    info = ws.run_info
    f = fmt(ws)
    not_filtered(where, "the row counts and the cleaning report describe the whole input file, before any row became "
                        "a customer.")
    kpi_cards([("Input rows", f.count(info.input_rows or 0), "rows read from the source"),
               ("Kept rows", f.count(info.kept_rows or 0), "rows that became clean transactions"),
               ("Quarantined rows", f.count(info.quarantined_rows or 0),
                "rows set aside with a reason (input = kept + quarantined)")])
    report = ws.cleaning_report()
    chart(cleaning_report(report), "cleaning_report")
    table(report, "cleaning_report")
    st.subheader("Quarantine")
    first = ws.quarantine(page=1, page_size=QUARANTINE_PAGE)
    if first.total == 0:
        st.write("No row was quarantined.")
        return
    regions = _quarantine_regions(ws, where)
    reasons = ["all"] + ([r for r in report.get_column("outcome").to_list() if r != "kept"]
                         if report is not None and "outcome" in report.columns else [])
    left, right = st.columns(2)
    reason = left.selectbox("Reason", reasons, key="quarantine_reason")
    chosen = None if reason == "all" else reason
    pages = ws.quarantine(page=1, page_size=QUARANTINE_PAGE, reason=chosen, regions=regions).pages
    page = right.number_input(f"Page (of {pages:,})", 1, pages, 1, key="quarantine_page")
    shown = ws.quarantine(page=int(min(page, pages)), page_size=QUARANTINE_PAGE, reason=chosen, regions=regions)
    table(shown.rows, "quarantine", total=shown.total,
          caption=f"page {shown.page:,} of {shown.pages:,}, {QUARANTINE_PAGE} rows a page"
                  + (f"; {shown.total:,} of the {first.total:,} quarantined rows are in region "
                     f"{', '.join(regions)}" if regions else ""))


def _quarantine_regions(ws: Workspace, where: dict[str, list[str]]) -> list[str] | None:
    """The region filter for the quarantine (its rows carry their own region), with a note on what does not apply."""
    others = [FILTER_COLUMNS[c] for c in where if c != "region"]
    if others:
        not_filtered(where, f"the {' and '.join(others).lower()} filters do not apply to the quarantine: its rows "
                            "were rejected before any customer summary, so they have no segment or cohort.")
    if "region" not in where:
        return None
    if "region" not in ws.columns("quarantine"):
        not_filtered(where, "the quarantine has no region column, so the region filter cannot apply to it.")
        return None
    st.caption(f"Quarantined rows whose own region is {', '.join(where['region'])} (compared ignoring case and "
               "spaces, as the rows are as read).")
    return where["region"]
