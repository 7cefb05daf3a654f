"""Tables written on a second thread: the same rows as an in-line write, and a failed write raised at finish."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from clvlens.pipeline.background import BackgroundTables


def test_background_tables_hold_the_frames_in_order(tmp_path: Path, online_retail) -> None:
    frame = online_retail.transactions
    with duckdb.connect(str(tmp_path / "ws.duckdb")) as connection:
        writer = BackgroundTables(connection, {"transactions": frame, "quarantine": online_retail.quarantine})
        writer.start().finish()
        stored = connection.sql("SELECT * FROM transactions").pl()
        assert connection.execute("SELECT count(*) FROM quarantine").fetchone()[0] == online_retail.quarantine.height
        # every core is DuckDB's again once the writer is done
        assert connection.execute("SELECT current_setting('threads')").fetchone()[0] > 1
    assert_frame_equal(stored, frame, check_dtypes=False)


def test_a_failed_background_write_is_raised_by_finish(tmp_path: Path) -> None:
    with duckdb.connect(str(tmp_path / "ws.duckdb")) as connection:
        writer = BackgroundTables(connection, {"good": pl.DataFrame({"a": [1, 2]}), "bad": object()})  # type: ignore
        writer.start()
        with pytest.raises(duckdb.InvalidInputException, match="not suitable"):
            writer.finish()
        assert connection.execute("SELECT sum(a) FROM good").fetchone()[0] == 3
        writer.finish()  # a second call has nothing left to raise


def test_background_task_returns_its_value_and_raises_its_error(online_retail) -> None:
    from clvlens.errors import ClvlensError
    from clvlens.pipeline.background import BackgroundTask

    frame = online_retail.transactions
    task = BackgroundTask(lambda: frame.group_by("customer_id").len().height, "count").start()
    assert task.result() == frame.get_column("customer_id").n_unique()

    def fails() -> None:
        raise ClvlensError("holdout: too long")

    with pytest.raises(ClvlensError, match="holdout: too long"):
        BackgroundTask(fails, "fails").start().result()


def test_an_abandoned_write_stops_and_raises_nothing(tmp_path: Path) -> None:
    """A failed run abandons the write: DuckDB is interrupted, the writer stops and nothing of it is raised (the
    run's own error is the one to report); the database can then be closed and removed."""
    large = pl.select(a=pl.int_range(0, 20_000_000), b=pl.lit("x" * 20))
    path = tmp_path / "ws.duckdb"
    connection = duckdb.connect(str(path))
    writer = BackgroundTables(connection, {"large": large}).start()
    writer.abandon()
    assert not writer._thread.is_alive()
    writer.finish()  # nothing left to wait for or raise
    # interrupted, not finished: twenty million rows take seconds on one DuckDB thread, the interruption moments
    assert connection.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'large'").fetchone()[0] == 0
    connection.close()
    path.unlink()
