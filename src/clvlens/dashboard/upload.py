"""The Upload and run page: the user's CSV, Parquet or Excel file, a column-mapping step, a size limit, a
progress bar, and a pipeline run into a new workspace folder that the dashboard then shows."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import streamlit as st

from clvlens.errors import ClvlensError

UPLOAD_DIR_ENV = "CLVLENS_UPLOAD_DIR"
MAX_UPLOAD_MB = 200
NONE = "(none)"


def upload_root() -> Path:
    """Where uploads and their workspaces go: CLVLENS_UPLOAD_DIR, else clvlens-uploads/ in the working folder."""
    return Path(os.environ.get(UPLOAD_DIR_ENV) or Path.cwd() / "clvlens-uploads")


def page() -> None:
    from clvlens.pipeline.uploads import REQUIRED_ROLES, ROLES, UPLOAD_SUFFIXES, proposed_mapping, source_columns

    st.header("Upload and run")
    st.caption(f"One file of transactions (CSV, Parquet or Excel; at most {MAX_UPLOAD_MB} MB): one row per order "
               "line with a customer, an order, a time and an amount. The run writes a new workspace that the "
               "dashboard then shows.")
    uploaded = st.file_uploader("Transactions file", type=[s.lstrip(".") for s in UPLOAD_SUFFIXES],
                                key="upload_file")
    if uploaded is None:
        return
    if uploaded.size > MAX_UPLOAD_MB * 1024 * 1024:
        st.error(f"{uploaded.name}: {uploaded.size / 1e6:,.0f} MB is over the {MAX_UPLOAD_MB} MB limit; "
                 "run `clvlens run FILE --out DIR` on large files instead")
        return
    folder = _folder_for(uploaded.name, uploaded.file_id if hasattr(uploaded, "file_id") else uploaded.name)
    source = folder / _safe_name(uploaded.name)
    if not source.exists():
        folder.mkdir(parents=True, exist_ok=True)
        source.write_bytes(uploaded.getvalue())
    try:
        columns = source_columns(source)
    except ClvlensError as exc:
        st.error(str(exc))
        return
    st.subheader("Map the columns")
    st.caption("Each role was guessed from the column names; check every one before running. "
               "Amount may be left empty when quantity and unit price are mapped; order id when each row is an "
               "order.")
    proposal = proposed_mapping(columns)
    mapping: dict[str, str] = {}
    cells = st.columns(3)
    for index, role in enumerate(ROLES):
        options = [NONE, *columns]
        guess = proposal.get(role)
        label = role + (" (required)" if role in REQUIRED_ROLES else "")
        chosen = cells[index % 3].selectbox(label, options, index=options.index(guess) if guess else 0,
                                            key=f"map_{role}")
        if chosen != NONE:
            mapping[role] = chosen
    currency = st.text_input("Currency of the amounts (ISO code, optional)", key="upload_currency", max_chars=3)
    duplicates = {c for c in mapping.values() if list(mapping.values()).count(c) > 1}
    if duplicates:
        st.error(f"column {sorted(duplicates)[0]!r} is mapped to more than one role")
        return
    if not st.button("Run the analysis", key="upload_run", type="primary"):
        return
    _run(source, folder / "workspace", mapping, currency.strip().upper() or None)


def _run(source: Path, out: Path, mapping: dict[str, str], currency: str | None) -> None:
    from clvlens.pipeline import RunSettings, run_pipeline
    from clvlens.pipeline.run import STEPS

    bar = st.progress(0.0, text="starting")
    started = time.monotonic()

    def progress(step: str) -> None:
        done = STEPS.index(step) if step in STEPS else 0
        bar.progress(done / len(STEPS), text=f"{step} ({time.monotonic() - started:.0f} s)")

    try:
        result = run_pipeline(RunSettings(str(source), out, mapping=mapping, currency=currency), progress)
    except ClvlensError as exc:
        bar.empty()
        st.error(str(exc))
        return
    bar.progress(1.0, text=f"done in {time.monotonic() - started:.0f} s")
    for key in [k for k in st.session_state if str(k).startswith(("matrix_", "customer_"))]:
        del st.session_state[key]
    st.session_state["workspace_dir"] = str(out)  # the filters reset when a page opens it (common.sidebar_filters)
    skipped = "; ".join(f"{k}: {v}" for k, v in result.skipped.items())
    st.success(f"Workspace written to {out} ({result.info.get('customers', 0):,} customers"
               + (f"; skipped {skipped}" if skipped else "") + "). The other pages now show it, with the filters "
               "reset.")


def _folder_for(name: str, upload_id: str) -> Path:
    key = f"upload_folder_{upload_id}"
    if key not in st.session_state:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        st.session_state[key] = str(upload_root() / f"{Path(_safe_name(name)).stem}-{stamp}")
    return Path(st.session_state[key])


def _safe_name(name: str) -> str:
    """The upload's base name with anything but letters, digits, dot, dash and underscore replaced."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", Path(name).name).lstrip(".")
    return cleaned or "upload.csv"
