"""The clvlens dashboard (run by `clvlens dashboard DIR`, i.e. `streamlit run app.py -- DIR`).

Pages are chosen in the sidebar (and by `?page=NAME` in the address, so every page has a link); the global filters
below them restrict every page's customer queries (kept across page switches; reset when another workspace opens).
"""

from __future__ import annotations

import streamlit as st

from clvlens.dashboard import common, pages_analysis, pages_customer, pages_value, upload
from clvlens.dashboard.navigation import PAGE_NAMES, SLUGS

PAGES = {
    "Overview": pages_value.overview,
    "Asset matrix": pages_value.matrix,
    "Segments and playbooks": pages_value.segments,
    "What-if CLV": pages_value.whatif,
    "Cohorts": pages_analysis.cohorts,
    "Regions": pages_analysis.regions,
    "Market basket": pages_analysis.basket,
    "Models": pages_analysis.models,
    "Customer": pages_customer.customer,
    "Data quality": pages_customer.quality,
    "Upload and run": None,
}
assert tuple(PAGES) == PAGE_NAMES


def main() -> None:
    st.set_page_config(page_title="clvlens", layout="wide")
    by_slug = {slug: name for name, slug in SLUGS.items()}
    if "page" not in st.session_state:
        st.session_state["page"] = by_slug.get(str(st.query_params.get("page", "")), "Overview")
    st.sidebar.title("clvlens")
    chosen = st.sidebar.radio("Page", list(PAGES), key="page")
    st.query_params["page"] = SLUGS[chosen]
    if chosen == "Upload and run":
        common.kept_filters_caption()
        upload.page()
        return
    ws = common.workspace()
    if ws is None:
        return
    st.sidebar.caption(f"Workspace: {ws.folder}")
    where = common.sidebar_filters(ws)
    PAGES[chosen](ws, where)  # type: ignore[misc]


main()
