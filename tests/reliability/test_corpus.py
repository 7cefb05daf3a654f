"""Every file of the bad-input corpus (generate_corpus.py) either reads correctly or stops with one line, exit 2.

Each file goes through the command line in a subprocess, so a traceback anywhere would be seen. `clvlens summary`
runs on every file: exit 0 with row accounting (input rows = kept + quarantined, `source_row` covering 1..n) and
no NaN, inf or negative number in the output, or exit 2 with exactly one stderr line naming the file; never a
traceback. The full `clvlens run` (models, ML, scorecard: tens of seconds per file) runs on the files named in
RUN_FILES, and on every file when CLVLENS_CORPUS_RUN_ALL=1.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from generate_corpus import cases, generate  # type: ignore[import-not-found]

CASES = cases()
RUN_FILES = {"quote_unbalanced_mid.csv", "num_1e308.csv", "date_iso_z.csv"}
# Defects of the models stage (not the data layer), left to its owners and recorded in docs/reliability.md
MODEL_STAGE_DEFECTS: dict[str, str] = {}
RUN_ALL = os.environ.get("CLVLENS_CORPUS_RUN_ALL") == "1"
TIMEOUT = 300


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    generate(folder)
    return folder


def _clvlens(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "400", "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "clvlens", *args], capture_output=True, text=True, timeout=TIMEOUT, env=env
    )


def _check_refusal(done: subprocess.CompletedProcess[str], name: str) -> None:
    assert done.returncode == 2, f"{name}: exit {done.returncode}: {done.stderr[-2000:]}"
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"{name}: stderr is not one line: {done.stderr[-2000:]}"
    assert name in lines[0], f"{name}: the error does not name the file: {lines[0]}"


def _check_numbers(frame: pl.DataFrame, name: str, what: str) -> None:
    for column, dtype in frame.schema.items():
        if not dtype.is_numeric():
            continue
        values = frame.get_column(column).cast(pl.Float64).drop_nulls()
        bad = values.filter(~values.is_finite() | (values < 0))
        assert bad.is_empty(), f"{name}: {what}.{column} holds {bad.head(3).to_list()}"


def _check_accounting(path: Path, name: str) -> None:
    from clvlens.data import load_source

    cleaned = load_source(path)
    n = cleaned.report.input_rows
    expected = CASES[name][2]
    assert expected is None or n == expected, f"{name}: {n} input rows, the file holds {expected} records"
    assert n == cleaned.transactions.height + cleaned.quarantine.height
    rows = pl.concat([cleaned.transactions["source_row"], cleaned.quarantine["source_row"]]).sort()
    assert rows.to_list() == list(range(1, n + 1)), f"{name}: source_row does not cover 1..{n}"
    for frame, what in ((cleaned.quarantine, "quarantine"), (cleaned.report.to_frame(), "cleaning_report")):
        for column in ("amount", "quantity", "unit_price"):
            if column in frame.columns:
                values = frame[column].drop_nulls()
                assert values.is_finite().all(), f"{name}: {what}.{column} holds inf or NaN"


@pytest.mark.parametrize("name", sorted(CASES))
def test_summary_on_corpus_file(corpus: Path, tmp_path: Path, name: str) -> None:
    path = corpus / name
    out = tmp_path / "summary.csv"
    done = _clvlens("summary", str(path), "--out", str(out))
    assert "Traceback" not in done.stderr, f"{name}: {done.stderr[-3000:]}"
    expect = CASES[name][1]
    if done.returncode != 0 or expect == "refused":
        assert expect != "ok", f"{name} must read: exit {done.returncode}: {done.stderr[-2000:]}"
        _check_refusal(done, name)
        return
    _check_accounting(path, name)
    summary = pl.read_csv(out, infer_schema_length=None)
    assert summary.height > 0
    if name == "formula_cells.csv":  # item 16: no cell a spreadsheet would run as a formula
        ids = pl.read_csv(out, infer_schema=False)["customer_id"]
        assert not ids.str.contains(r"^[=+@\-]").any(), ids.filter(ids.str.contains(r"^[=+@\-]")).to_list()
        assert ids.str.starts_with("'=").any()
    _check_numbers(summary.drop("customer_id"), name, "summary")


def _run_params() -> list[object]:
    names = sorted(CASES) if RUN_ALL else sorted(RUN_FILES)
    return [
        pytest.param(n, marks=pytest.mark.xfail(reason=MODEL_STAGE_DEFECTS[n], strict=False))
        if n in MODEL_STAGE_DEFECTS else n
        for n in names
    ]


@pytest.mark.parametrize("name", _run_params())
def test_run_on_corpus_file(corpus: Path, tmp_path: Path, name: str) -> None:
    path = corpus / name
    workspace = tmp_path / "ws"
    done = _clvlens("run", str(path), "--out", str(workspace))
    assert "Traceback" not in done.stderr, f"{name}: {done.stderr[-3000:]}"
    if done.returncode != 0:
        assert CASES[name][1] != "ok", f"{name} must run: exit {done.returncode}: {done.stderr[-2000:]}"
        _check_refusal(done, name)
        return
    with duckdb.connect(str(workspace / "clvlens.duckdb"), read_only=True) as connection:
        kept = connection.sql("select source_row from transactions").pl()
        quarantined = connection.sql("select source_row from quarantine").pl()
        customers = connection.sql("select * from customers").pl()
        report = connection.sql("select * from cleaning_report").pl()
    rows = pl.concat([kept["source_row"], quarantined["source_row"]]).sort().to_list()
    assert rows == list(range(1, len(rows) + 1))
    assert report["rows"].sum() == len(rows)
    assert all(v is None or math.isfinite(v) for v in report["amount"].to_list())
    _check_numbers(customers.drop("customer_id"), name, "customers")
