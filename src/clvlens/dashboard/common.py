"""What every page shares: the open workspace (cached per file version), the global filters, downloadable
tables, plotly charts with the offline map configuration, and KPI cards."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import polars as pl
import streamlit as st

from clvlens.charts import Formatter, formatter_for
from clvlens.errors import ClvlensError
from clvlens.workspace import Workspace
from clvlens.workspace.safe_csv import safe_csv_bytes
from clvlens.workspace.views import FILTER_COLUMNS, filter_choices, filter_where, workspace_version

WORKSPACE_ENV = "CLVLENS_WORKSPACE"
# plotly fetches a base topojson for geo maps; static/world_110m.json is an empty one served by Streamlit
PLOTLY_CONFIG = {"topojsonURL": "app/static/", "displaylogo": False}
MAX_TABLE_ROWS = 5000


def initial_folder() -> str | None:
    """The workspace folder in CLVLENS_WORKSPACE (set by `clvlens dashboard`), else the one given on the command
    line (`streamlit run app.py -- DIR`)."""
    if os.environ.get(WORKSPACE_ENV):
        return os.environ[WORKSPACE_ENV]
    if Path(sys.argv[0]).name == "app.py" and len(sys.argv) > 1:
        return sys.argv[1]
    return None


def current_folder() -> str | None:
    if "workspace_dir" not in st.session_state:
        st.session_state["workspace_dir"] = initial_folder()
    return st.session_state["workspace_dir"]


@st.cache_resource(max_entries=8, show_spinner=False)
def _open(folder: str, version: float) -> Workspace:  # the version keys the cache
    return Workspace.open(folder)


def workspace() -> Workspace | None:
    """The workspace this session shows (None with a message when there is none)."""
    folder = current_folder()
    if not folder:
        st.info("No workspace yet: upload a file on the **Upload and run** page, or start with "
                "`clvlens dashboard DIR`.")
        return None
    try:
        return workspace_by_path(folder)
    except (ClvlensError, OSError) as exc:
        st.error(str(exc))
        return None


def fmt(ws: Workspace) -> Formatter:
    return formatter_for(ws.currency)


KEPT_FILTERS = "kept_filters"  # {"folder": the workspace they were chosen on, "values": {column: [values]}}
FILTERS_RESET = "filters_reset"


def sidebar_filters(ws: Workspace) -> dict[str, list[str]]:
    """The global filters (region, segments, cohort) in the sidebar; the `where` every page applies.

    The choices are kept in the session apart from the widgets (Streamlit drops a widget's value on a run that does
    not draw it, as the Upload page does not), so they survive every page switch; they are reset, with a note,
    only when the session opens a different workspace."""
    folder = str(Path(ws.folder).resolve())
    kept = st.session_state.get(KEPT_FILTERS)
    if kept is None or kept["folder"] != folder:
        if kept is not None and any(kept["values"].values()):
            st.session_state[FILTERS_RESET] = f"Filters reset: a different workspace was opened ({ws.folder})."
        for key in [k for k in st.session_state if str(k).startswith("filter_")]:
            del st.session_state[key]
        kept = {"folder": folder, "values": {}}
    choices = _choices(str(ws.folder), ws.run_info.created_at)
    selected: dict[str, list[str]] = {}
    st.sidebar.markdown("**Filters** (apply to every page)")
    reset_note = st.session_state.pop(FILTERS_RESET, None)
    if reset_note:
        st.sidebar.info(reset_note)
    for column, options in choices.items():
        if not options:
            continue
        key = f"filter_{column}"
        current = st.session_state[key] if key in st.session_state else kept["values"].get(column, [])
        st.session_state[key] = [v for v in current if v in options]  # the widget's state, restored if dropped
        selected[column] = st.sidebar.multiselect(FILTER_COLUMNS[column], options, key=key, placeholder="all")
    kept["values"] = selected
    st.session_state[KEPT_FILTERS] = kept
    where = filter_where(selected)
    if where:
        st.sidebar.caption("Filtered: " + describe_filters(where))
    return where


def describe_filters(where: dict[str, list[str]]) -> str:
    return "; ".join(f"{FILTER_COLUMNS[c]} in {', '.join(v)}" for c, v in where.items())


def kept_filters_caption() -> None:
    """On a page without the filters (Upload and run): which filters the other pages keep applying."""
    kept = st.session_state.get(KEPT_FILTERS)
    where = filter_where(kept["values"]) if kept else {}
    if where:
        st.sidebar.caption("Filters kept for the other pages: " + describe_filters(where)
                           + " (reset when a different workspace is opened)")


def where_key(where: dict[str, list[str]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """A hashable form of a `where`, for cache keys."""
    return tuple(sorted((column, tuple(values)) for column, values in where.items()))


def not_filtered(where: dict[str, list[str]], text: str) -> None:
    """Under active filters, a visible note that `text` (what and why) is not restricted by them."""
    if where:
        st.info(f"Not filtered: {text}")


@st.cache_data(max_entries=16, show_spinner=False)
def _choices(folder: str, created: str | None) -> dict[str, list[str]]:
    return filter_choices(workspace_by_path(folder))


def workspace_by_path(folder: str) -> Workspace:
    return _open(str(Path(folder).resolve()), workspace_version(folder))


def table(frame: pl.DataFrame | None, name: str, *, caption: str | None = None, total: int | None = None,
          height: int | None = None) -> None:
    """A table with a formula-safe CSV download of what it shows."""
    if frame is None or frame.is_empty():
        st.caption(f"{name.replace('_', ' ')}: nothing to show")
        return
    shown = frame.head(MAX_TABLE_ROWS)
    st.dataframe(_displayable(shown), hide_index=True, width="stretch", height=height or "auto")
    note = caption or ""
    if total is not None and total > shown.height:
        note = (note + " " if note else "") + f"showing {shown.height:,} of {total:,} rows"
    if note:
        st.caption(note)
    st.download_button(f"Download {name.replace('_', ' ')} (CSV)", safe_csv_bytes(shown), file_name=f"{name}.csv",
                       mime="text/csv", key=f"download_{name}")


def _displayable(frame: pl.DataFrame) -> pl.DataFrame:
    nested = [n for n, t in frame.schema.items() if isinstance(t, (pl.List, pl.Array))]
    return frame.with_columns(pl.col(c).cast(pl.List(pl.String)).list.join(", ") for c in nested) if nested else frame


def chart(figure: Any, key: str, **kwargs: Any) -> Any:
    return st.plotly_chart(figure, width="stretch", config=PLOTLY_CONFIG, key=key, **kwargs)


def kpi_cards(cards: list[tuple[str, str, str]], per_row: int = 4) -> None:
    """(label, shown value, definition) cards, `per_row` to a row; the definition is the card's help."""
    for start in range(0, len(cards), per_row):
        columns = st.columns(per_row)
        for column, (label, value, definition) in zip(columns, cards[start:start + per_row], strict=False):
            column.metric(label, value, help=definition)
            column.caption(definition)
