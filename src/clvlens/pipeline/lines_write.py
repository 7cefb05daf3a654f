"""The cleaned lines go into the new workspace beside the run's last stages.

The transactions table is the workspace's largest: 10M lines for a million customers, 4-5 s of the write step at
the end of a run. It is final as soon as the source is cleaned. A run opens its new workspace database before the
stages, and from the strategy step on (by then the run's memory is below its peak) queues the write of the
transactions and the quarantine there, on one DuckDB thread, as a task of :mod:`clvlens.pipeline.background`,
beside the strategy and basket steps; the write step takes it (or does it, when no worker has), then writes the
other tables. Writing
them from the start instead, beside the summary and the fits, was slower (polars and DuckDB then compete for both
cores) and rose above the run's memory budget. Nothing is committed before the run's end: a run that fails
interrupts the write, waits for it, and the unfinished database is discarded as before.
"""

from __future__ import annotations

import contextlib
import threading

import duckdb

from clvlens.data import CleanedData
from clvlens.pipeline.background import BackgroundTask
from clvlens.pipeline.workspace import write_table

#: the tables a run writes from its cleaned data, before the stages that need them end
LINE_TABLES = ("transactions", "quarantine")
#: DuckDB threads of that write
WRITE_THREADS = 1
#: DuckDB's memory for it: DuckDB otherwise keeps the blocks it has written in memory, about 270 MB for the 10M lines
#: of a million customers against 70 MB with this limit, in about the same time (bench/bench_scale_parts.py); a
#: table whose row groups do not fit is written again without the limit
WRITE_MEMORY = "64MB"


class LinesWrite:
    """Write ``cleaned``'s transactions and quarantine to ``connection``'s database, on a cursor of its own (a
    DuckDB connection serves one thread at a time), beside the caller's work from :meth:`start` on (a task of
    :mod:`clvlens.pipeline.background`, taken at the caller's step ``needed_at``)."""

    def __init__(self, connection: duckdb.DuckDBPyConnection, cleaned: CleanedData, *, needed_at: float = 0) -> None:
        self._connection = connection
        self._needed_at = needed_at
        self._cleaned = cleaned
        self._cursor: duckdb.DuckDBPyConnection | None = None
        self._task: BackgroundTask | None = None

    def start(self) -> None:
        """Start writing (once), on one DuckDB thread: the run's own thread keeps the other core."""
        if self._task is not None:
            return
        self._cursor = self._connection.cursor()
        self._cursor.execute(f"SET threads = {WRITE_THREADS}")
        self._cursor.execute(f"SET memory_limit = '{WRITE_MEMORY}'")
        self._task = BackgroundTask(self._write, "write-lines", needed_at=self._needed_at).start()

    def _write(self, stopping: threading.Event) -> None:
        assert self._cursor is not None
        try:
            for name, frame in zip(LINE_TABLES, (self._cleaned.transactions, self._cleaned.quarantine), strict=True):
                if stopping.is_set():
                    return
                try:
                    write_table(self._cursor, name, frame)
                except duckdb.OutOfMemoryException:
                    self._cursor.execute("RESET memory_limit")
                    write_table(self._cursor, name, frame)
        finally:
            self._cursor.close()

    def wait(self) -> None:
        """Wait for the tables to be written (started here if they were not yet; a failed write raises its error
        here), then give DuckDB back its threads for the tables written after them."""
        self.start()
        assert self._task is not None
        self._task.result()
        self._connection.execute("RESET threads")
        self._connection.execute("RESET memory_limit")

    def abandon(self) -> None:
        """End the write early, for a run that failed: the query under way is interrupted and waited for, so that
        the database can be closed and removed."""
        if self._task is None or self._cursor is None:
            return
        self._task.stop(wait=False)  # a write no worker has started never starts
        # again until the write ends: an interrupt that comes between two queries is lost
        while not self._task.join(0.05):
            with contextlib.suppress(duckdb.Error):  # the write may have ended and closed its cursor already
                self._cursor.interrupt()
        with contextlib.suppress(duckdb.Error):  # closed by the write when it started
            self._cursor.close()
