"""The dashboard's pages in menu order and their address slugs (`?page=SLUG`), importable without streamlit."""

from __future__ import annotations

PAGE_NAMES = (
    "Overview",
    "Asset matrix",
    "Segments and playbooks",
    "What-if CLV",
    "Cohorts",
    "Regions",
    "Market basket",
    "Models",
    "Customer",
    "Data quality",
    "Upload and run",
)
SLUGS = {name: name.lower().replace(" and ", "-").replace(" ", "-") for name in PAGE_NAMES}
