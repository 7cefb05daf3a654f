"""Tables written into the run's staging workspace on a second thread while the run computes.

The cleaned transactions are final once loaded, and storing them is the largest write of a run (ten million lines
for a million customers). The model fits that follow mostly keep one core busy, so the table is written on the
other meanwhile: DuckDB and the Arrow hand-over leave Python's lock, and the writer uses one DuckDB thread so that
it takes the idle core rather than competing for both. The run waits for the writer before it writes anything else
and before the workspace is committed; a failed write is raised there, as if it had happened in line.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping
from typing import Any

import duckdb
import polars as pl

from clvlens.pipeline.workspace import write_table


class BackgroundTables:
    """Write ``tables`` (name -> frame) through a cursor of ``connection`` on a thread; :meth:`finish` waits."""

    def __init__(self, connection: duckdb.DuckDBPyConnection, tables: Mapping[str, pl.DataFrame]) -> None:
        self._cursor = connection.cursor()
        self._tables = dict(tables)
        self._error: BaseException | None = None
        self._open = True
        self._abandoned = False
        self._thread = threading.Thread(target=self._write, name="clvlens-writer", daemon=True)

    def start(self) -> BackgroundTables:
        """Start writing; returns self."""
        self._cursor.execute("SET threads = 1")
        self._thread.start()
        return self

    def _write(self) -> None:
        try:
            for name, frame in self._tables.items():
                if self._abandoned:
                    break
                write_table(self._cursor, name, frame)
        except BaseException as exc:  # re-raised on the run's thread by finish()
            self._error = exc
        finally:
            self._tables.clear()

    def finish(self) -> None:
        """Wait for the writer, give DuckDB back every core, and raise what the write raised (if anything).
        Calling it again does nothing. A Ctrl-C or SIGTERM that arrives while it waits is raised once the writer
        has stopped, so that the caller's clean-up never removes files the writer still has open."""
        self._wait()
        if self._open:
            self._open = False
            try:
                self._cursor.execute("RESET threads")
            finally:
                self._cursor.close()
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def abandon(self) -> None:
        """The run failed: stop the write at once (DuckDB interrupts it), wait for the writer and close, raising
        nothing of the writer's (the run's own error is the one to report)."""
        self._abandoned = True
        self._wait(interrupting=True)
        if self._open:
            self._open = False
            with contextlib.suppress(duckdb.Error):
                self._cursor.close()
        self._error = None

    def _wait(self, *, interrupting: bool = False) -> None:
        """Join the writer; a signal that arrives meanwhile interrupts DuckDB's write and is raised once the writer
        has stopped. ``interrupting``: interrupt it from the start, again until it ends (an interruption that comes
        before a query begins does not stop that query)."""
        interrupted: BaseException | None = None
        while self._thread.ident is not None and self._thread.is_alive():
            try:
                if interrupting:
                    self._cursor.interrupt()
                self._thread.join(timeout=0.05 if interrupting else None)
            except BaseException as exc:  # a signal while waiting: stop the write, wait on, then raise it
                interrupted, interrupting = exc, True
        if interrupted is not None:
            self._error = None
            if self._open:
                self._open = False
                with contextlib.suppress(duckdb.Error):
                    self._cursor.close()
            raise interrupted


class BackgroundTask:
    """Run ``work()`` on a thread from :meth:`start`; :meth:`result` waits for it and returns its value or raises
    its error. Used for a stage that needs nothing the stages before it produce (the scorecard), so that it fills
    the core the model fits leave idle. A task whose result is never asked for (the run failed) ends on its own."""

    def __init__(self, work: Callable[[], Any], name: str) -> None:
        self._work = work
        self._value: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"clvlens-{name}", daemon=True)

    def start(self) -> BackgroundTask:
        """Start the work; returns self."""
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self._value = self._work()
        except BaseException as exc:  # re-raised on the run's thread by result()
            self._error = exc

    def result(self) -> Any:
        """The work's value, once it is done (its error is raised instead)."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value
