"""The cleaned lines are written to the new workspace beside the run's later stages (pipeline.lines_write): the
tables are the cleaned data's, a table DuckDB cannot write within the write's memory is written without it, and a
run that fails while the write runs leaves neither the write nor any file behind. On UCI Online Retail (skipped
where the data set is absent)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest

from clvlens.data import CleanedData
from clvlens.pipeline import RunSettings, lines_write, read_table, run_pipeline
from clvlens.pipeline.run import STEPS


def _writing() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "clvlens-write-lines" and t.is_alive()]


@pytest.fixture
def attempts(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """(table, outcome) of every write the lines' writer tries, through the real write_table."""
    seen: list[tuple[str, str]] = []
    real = lines_write.write_table

    def recorded(connection: duckdb.DuckDBPyConnection, name: str, frame: object) -> None:
        try:
            real(connection, name, frame)
        except duckdb.Error as exc:
            seen.append((name, type(exc).__name__))
            raise
        seen.append((name, "written"))

    monkeypatch.setattr(lines_write, "write_table", recorded)
    return seen


def test_the_workspace_holds_the_cleaned_lines_also_beyond_the_writes_memory(
    tmp_path: Path, online_retail_csv: Path, monkeypatch: pytest.MonkeyPatch, attempts: list[tuple[str, str]]
) -> None:
    # 1 MB is far too little for the row groups of UCI's 540,000 lines: DuckDB refuses, and the table is written
    # again without the limit
    monkeypatch.setattr(lines_write, "WRITE_MEMORY", "1MB")
    result = run_pipeline(RunSettings(online_retail_csv, tmp_path / "ws", scorecard=False))
    assert attempts[:2] == [("transactions", "OutOfMemoryException"), ("transactions", "written")]
    for name in lines_write.LINE_TABLES:
        written = read_table(tmp_path / "ws", name)
        cleaned = getattr(result.cleaned, name)
        assert written.height == cleaned.height > 0
        assert written.equals(cleaned.select(written.columns)), name
    assert result.cleaned.transactions.height + result.cleaned.quarantine.height == result.info["input_rows"]
    assert _writing() == []


def test_a_run_that_fails_after_the_lines_write_started_leaves_nothing(
    tmp_path: Path, online_retail_csv: Path, attempts: list[tuple[str, str]]
) -> None:
    databases: list[list[str]] = []

    def fail_in_the_basket_step(step: str) -> None:
        if step == STEPS[5]:
            _wait_for_a_write(attempts)
            databases.append([p.name for p in (tmp_path / "ws").glob("*.tmp")])
            raise RuntimeError("stopped by the test")

    out = tmp_path / "ws"
    with pytest.raises(RuntimeError, match="stopped by the test"):
        run_pipeline(RunSettings(online_retail_csv, out, scorecard=False), fail_in_the_basket_step)
    assert ("transactions", "written") in attempts  # the lines were in the unfinished database
    assert any(name.startswith("clvlens.duckdb.") for name in databases[0])
    assert _writing() == []  # the write had ended when the error reached the caller
    assert not out.exists()  # the folder the run created is gone, with the unfinished database


def _wait_for_a_write(attempts: list[tuple[str, str]], seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while ("transactions", "written") not in attempts and time.monotonic() < deadline:
        time.sleep(0.05)


def test_abandon_interrupts_a_write_under_way(tmp_path: Path, online_retail: CleanedData) -> None:
    """Ten copies of UCI's lines take seconds to write on one DuckDB thread: abandoned at once, the write ends
    without the table, and the database can be closed."""
    many = pl.concat([online_retail.transactions] * 10)
    connection = duckdb.connect(str(tmp_path / "w.duckdb"))
    write = lines_write.LinesWrite(connection, CleanedData(many, online_retail.quarantine, online_retail.report))
    write.start()
    write.abandon()
    assert _writing() == []
    tables = {row[0] for row in connection.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert "transactions" not in tables
    connection.close()
