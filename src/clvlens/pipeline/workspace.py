"""The workspace: one DuckDB file that every stage adds tables to and every face reads.

Contract (later stages add tables and columns, never rename them):
- `transactions`: the canonical clean transactions;
- `quarantine`: every rejected input row with its `reason` code;
- `customers`: one row per customer (`customer_id`, `frequency`, `recency`, `T`, `monetary_value`, first/last
  purchase, region, cohort, ...);
- `cleaning_report`: rows and amount per outcome (`kept` and each reason);
- `run_info`: one row per setting of the run (key, value), such as the source, time unit and observation end, the
  `run_id` of the run that wrote the workspace and the `models_id` of the write that last replaced the models;
- from the models step: columns `p_alive`, `expected_purchases`, `expected_spend`, `clv`, `clv_lower`,
  `clv_upper` on `customers`, table `model_selection`, and the model JSON files in DIR/models/;
- from the strategy step: columns `rfm_r`, `rfm_f`, `rfm_m`, `rfm_segment`, `value_segment` on `customers`, tables
  `kpis`, `segments`, `cohorts`, `regions`, `lorenz`, `cohort_cliffs`;
- from the basket step: tables `rules`, `bundles`, `next_best_offer`;
- `model_files` (`name`, `content`): every file of DIR/models/, so that tables and models change as one unit.

Writes are atomic and exclusive. A writer holds an advisory lock on DIR/.clvlens.lock (a second writer refuses in
one line naming the holder's pid, or waits up to CLVLENS_LOCK_WAIT seconds), builds the new database under a name
unique to it (`clvlens.duckdb.<pid>-<random>.tmp`) with the model files inside it, and renames it over
`clvlens.duckdb`: that one rename is the commit point. DIR/models/ is then swapped for a mirror of `model_files`
stamped with the `models_id` (file `models/.models_id`). A reader that finds the stamp missing or different (a
crash between the rename and the swap, or a folder edited by hand) restores the folder from the database, or reads
a private copy when another process holds the lock. An interrupted or killed run leaves the previous workspace as
it was; its leftovers are removed by the next writer.

CLVLENS_FAULT_AT=<point> (tests only; inert when unset) makes the process SIGKILL itself (or send itself the
signal CLVLENS_FAULT_SIGNAL names: INT, TERM) at that point of a run: one of the run's step names or
`before-commit`, `after-commit`, `models-swapped-out`.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from clvlens.data.schema import SOURCE_ROW
from clvlens.errors import ClvlensError

try:  # advisory locks are POSIX; elsewhere writers are not serialised (documented in docs/reliability.md)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

WORKSPACE_FILE = "clvlens.duckdb"
MODELS_FOLDER = "models"
MODEL_FILES_TABLE = "model_files"
MODELS_STAMP = ".models_id"
LOCK_FILE = ".clvlens.lock"
LOCK_WAIT_ENV = "CLVLENS_LOCK_WAIT"
FAULT_ENV = "CLVLENS_FAULT_AT"
FAULT_SIGNAL_ENV = "CLVLENS_FAULT_SIGNAL"

_held_locks: dict[tuple[int, Path], int] = {}


def workspace_path(folder: str | Path) -> Path:
    """The DuckDB file of the workspace in `folder`."""
    return Path(folder) / WORKSPACE_FILE


def fault_point(name: str) -> None:
    """Signal this process when CLVLENS_FAULT_AT names this point (a test hook, inert by default).

    The signal is SIGKILL, or the one named by CLVLENS_FAULT_SIGNAL (INT or TERM).
    """
    if os.environ.get(FAULT_ENV) == name:
        chosen = os.environ.get(FAULT_SIGNAL_ENV, "KILL").upper()
        os.kill(os.getpid(), {"INT": signal.SIGINT, "TERM": signal.SIGTERM}.get(chosen, signal.SIGKILL))


def new_run_id() -> str:
    """A run id unique across processes: UTC time, pid and random bits."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{os.getpid()}-{secrets.token_hex(3)}"


@contextlib.contextmanager
def workspace_lock(folder: str | Path, wait: float | None = None) -> Iterator[None]:
    """Hold the exclusive writer lock of a workspace folder (re-entrant within a thread).

    A second writer refuses at once with one line naming the folder and the holder's pid; with `wait` seconds
    (default: the CLVLENS_LOCK_WAIT environment variable, else 0) it polls for that long first. The lock is an
    advisory flock, so it is released by the kernel when the holder dies, even by SIGKILL.
    """
    folder = Path(folder)
    key = (threading.get_ident(), folder.resolve())
    if key in _held_locks or fcntl is None:
        yield
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise ClvlensError(f"{folder}: cannot lock the workspace folder ({exc.strerror})") from None
    try:
        _acquire(descriptor, folder, _lock_wait() if wait is None else wait)
    except BaseException:
        os.close(descriptor)
        raise
    _held_locks[key] = descriptor
    try:
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
        _remove_leftovers(folder)
        yield
    finally:
        del _held_locks[key]
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        os.close(descriptor)


def remove_unused_folder(folder: str | Path) -> None:
    """Remove a folder a failed run created, when it holds nothing but the lock file (else leave it)."""
    folder = Path(folder)
    with contextlib.suppress(OSError):
        if {child.name for child in folder.iterdir()} <= {LOCK_FILE}:
            (folder / LOCK_FILE).unlink(missing_ok=True)
            folder.rmdir()


def _lock_wait() -> float:
    value = os.environ.get(LOCK_WAIT_ENV, "0")
    try:
        seconds = float(value)
    except ValueError:
        raise ClvlensError(f"{LOCK_WAIT_ENV}: {value!r} is not a number of seconds") from None
    return min(max(seconds, 0.0), 24 * 3600.0)


def _acquire(descriptor: int, folder: Path, wait: float) -> None:
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                holder = os.pread(descriptor, 32, 0).decode(errors="replace").strip() or "unknown"
                waited = f" after waiting {wait:g} s" if wait > 0 else ""
                raise ClvlensError(
                    f"{folder}: another clvlens process (pid {holder}) is writing this workspace{waited}; "
                    f"wait for it to finish or choose another output folder"
                ) from None
            time.sleep(min(0.2, max(deadline - time.monotonic(), 0.01)))


def _remove_leftovers(folder: Path) -> None:
    """Temporary files of writers that died (only called while holding the lock, so none is in use)."""
    patterns = (f"{WORKSPACE_FILE}.*tmp*", f"{MODELS_FOLDER}.*.tmp", f"{MODELS_FOLDER}.*.old", f"{MODELS_FOLDER}.tmp")
    for pattern in patterns:
        for leftover in folder.glob(pattern):
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)


def _unique_name(folder: Path, stem: str, suffix: str) -> Path:
    return folder / f"{stem}.{os.getpid()}-{secrets.token_hex(4)}.{suffix}"


@contextlib.contextmanager
def writing_workspace(folder: str | Path) -> Iterator[tuple[duckdb.DuckDBPyConnection, Path]]:
    """A fresh temporary database and models folder for a run; on success they replace the workspace's own.

    The caller writes tables to the connection and model files to the folder. On success the model files are
    stored in the database, the database is renamed over the workspace's (the commit point) and the folder
    becomes DIR/models/, stamped with the new run id.
    """
    folder = Path(folder)
    with workspace_lock(folder):
        temporary = _unique_name(folder, WORKSPACE_FILE, "tmp")
        staging = _unique_name(folder, MODELS_FOLDER, "tmp")
        with _discarded_on_failure(lambda: duckdb.connect(str(temporary)), folder, temporary, staging) as connection:
            yield connection, staging
            run_id = new_run_id()
            _store_models(connection, staging, run_id, run_id=run_id)
            connection.close()
            _commit(temporary, folder, staging)


@contextlib.contextmanager
def updating_workspace(folder: str | Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """Change an existing workspace's tables atomically: work on a copy, then rename it over the original."""
    with updating_models(folder, models=False) as (connection, _):
        yield connection


@contextlib.contextmanager
def updating_models(
    folder: str | Path, *, models: bool = True
) -> Iterator[tuple[duckdb.DuckDBPyConnection, Path]]:
    """Change an existing workspace's tables and models as one unit.

    Yields a connection to a copy of the database and a folder holding a copy of the current model files (taken
    from the database, the source of truth); on success both replace the workspace's own in one commit.
    """
    folder = Path(folder)
    target = workspace_path(folder)
    if not target.exists():
        raise ClvlensError(f"{folder}: no workspace here (expected {WORKSPACE_FILE}; create one with clvlens run)")
    with workspace_lock(folder):
        temporary = _unique_name(folder, WORKSPACE_FILE, "tmp")
        staging = _unique_name(folder, MODELS_FOLDER, "tmp")

        def copy_and_open() -> duckdb.DuckDBPyConnection:
            try:
                shutil.copyfile(target, temporary)
            except OSError as exc:
                raise ClvlensError(f"{folder}: cannot copy the workspace to update it ({exc.strerror})") from None
            return duckdb.connect(str(temporary))

        with _discarded_on_failure(copy_and_open, folder, temporary, staging) as connection:
            if models:
                _extract_models(connection, folder / MODELS_FOLDER, staging)
            yield connection, staging
            if models:
                _store_models(connection, staging, new_run_id())
            connection.close()
            _commit(temporary, folder, staging if models else None)


@contextlib.contextmanager
def _discarded_on_failure(
    open_database: Callable[[], duckdb.DuckDBPyConnection], folder: Path, temporary: Path, staging: Path
) -> Iterator[duckdb.DuckDBPyConnection]:
    """The write's database, which ``open_database`` creates at ``temporary``; on any failure of the write, from
    that creation on, close it, remove its files, and turn an I/O error into one line.

    The database is opened here, inside the clean-up's reach: opened by the caller, a Ctrl-C or SIGTERM that came
    between its creation and this block left the temporary file behind.
    """
    connection: duckdb.DuckDBPyConnection | None = None
    try:
        connection = open_database()
        fault_point("database-created")
        yield connection
    except (OSError, duckdb.IOException) as exc:
        _close_and_discard(connection, temporary, staging)
        raise _write_failed(folder, exc) from None
    except BaseException:
        _close_and_discard(connection, temporary, staging)
        raise


def _close_and_discard(connection: duckdb.DuckDBPyConnection | None, temporary: Path, staging: Path) -> None:
    if connection is not None:
        connection.close()
    _discard(temporary, staging)


def _write_failed(folder: Path, exc: BaseException) -> ClvlensError:
    """A failed write (a disk that filled up during the run, a folder that became read-only) in one line."""
    reason = getattr(exc, "strerror", None) or " ".join(str(exc).split())[:200] or type(exc).__name__
    return ClvlensError(f"{folder}: could not write the workspace ({reason}); the previous workspace is unchanged")


def _store_models(
    connection: duckdb.DuckDBPyConnection, staging: Path, models_id: str, run_id: str | None = None
) -> None:
    """Copy every file of the staging folder into `model_files`, record the ids in `run_info`, stamp the folder."""
    staging.mkdir(parents=True, exist_ok=True)
    rows = [
        (path.relative_to(staging).as_posix(), path.read_bytes())
        for path in sorted(staging.rglob("*"))
        if path.is_file() and path.name != MODELS_STAMP
    ]
    connection.execute(f"CREATE OR REPLACE TABLE {MODEL_FILES_TABLE} (name VARCHAR, content BLOB)")
    if rows:
        connection.executemany(f"INSERT INTO {MODEL_FILES_TABLE} VALUES (?, ?)", rows)
    connection.execute("CREATE TABLE IF NOT EXISTS run_info (key VARCHAR, value VARCHAR)")
    ids = {"models_id": models_id} if run_id is None else {"run_id": run_id, "models_id": models_id}
    connection.execute(f"DELETE FROM run_info WHERE key IN ({', '.join('?' * len(ids))})", list(ids))
    connection.executemany("INSERT INTO run_info VALUES (?, ?)", list(ids.items()))
    (staging / MODELS_STAMP).write_text(models_id + "\n")


def _extract_models(connection: duckdb.DuckDBPyConnection, models_folder: Path, staging: Path) -> None:
    """The current model files into `staging`: from the database, or from the folder of an older workspace."""
    if _has_table(connection, MODEL_FILES_TABLE):
        _write_files(staging, connection.execute(f"SELECT name, content FROM {MODEL_FILES_TABLE}").fetchall())
    elif models_folder.is_dir():
        shutil.copytree(models_folder, staging)
    else:
        staging.mkdir(parents=True)


def _write_files(folder: Path, rows: list[tuple[str, bytes]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    root = folder.resolve()
    for name, content in rows:
        path = (folder / name).resolve()
        if root not in path.parents:  # never write outside the folder, whatever the table holds
            raise ClvlensError(f"{MODEL_FILES_TABLE}: file name {name!r} points outside the models folder")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(bytes(content))


def _commit(temporary: Path, folder: Path, staging: Path | None) -> None:
    """Rename the finished database into place (the commit point), then swap in the models mirror.

    Ctrl-C and SIGTERM are held back until both are done, so that they never split the database from its models
    (SIGKILL cannot be held back: readers then restore the models folder from the database).
    """
    _fsync(temporary)
    with _signals_held():
        fault_point("before-commit")
        os.replace(temporary, workspace_path(folder))
        _fsync(folder)
        fault_point("after-commit")
        if staging is not None:
            # committed already: should the swap fail, the folder is a mirror that readers restore from the database
            with contextlib.suppress(OSError):
                _swap_models(staging, folder / MODELS_FOLDER)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Defer SIGINT and SIGTERM: they are recorded, and raised again once the block is done.

    Handlers, not a signal mask: Python runs its handlers in the main thread whichever thread the kernel picked,
    so masking the main thread alone would not hold them back while worker threads exist.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.getsignal(signum) for signum in held}
    for signum in held:
        signal.signal(signum, lambda number, _frame: received.append(number))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for signum in dict.fromkeys(received):
            signal.raise_signal(signum)


def _swap_models(staging: Path, models_folder: Path) -> None:
    retired = _unique_name(models_folder.parent, MODELS_FOLDER, "old")
    if models_folder.is_dir():
        os.replace(models_folder, retired)
    elif models_folder.exists():
        models_folder.unlink()
    fault_point("models-swapped-out")
    os.replace(staging, models_folder)
    shutil.rmtree(retired, ignore_errors=True)


def _fsync(path: Path) -> None:
    """Flush a file or folder to disk, so that a rename after it never exposes an incomplete file after a crash."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass  # some file systems cannot fsync a folder; the rename is still atomic
    finally:
        os.close(descriptor)


def _discard(temporary: Path, staging: Path) -> None:
    """Remove a failed write's files; what cannot be removed now is removed by the next writer."""
    for leftover in (temporary, Path(f"{temporary}.wal")):
        with contextlib.suppress(OSError):
            leftover.unlink(missing_ok=True)
    shutil.rmtree(staging, ignore_errors=True)


def _has_table(connection: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(
        connection.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]).fetchone()[0]
    )


def models_stamp(models_folder: Path) -> str | None:
    """The `models_id` a models folder was mirrored from, or None when it has no stamp."""
    try:
        return (Path(models_folder) / MODELS_STAMP).read_text().strip() or None
    except OSError:
        return None


def synced_models_folder(models_folder: str | Path) -> Path:
    """A models folder that matches its workspace's database: DIR/models/ itself, restored first when needed.

    A folder that is not a workspace's DIR/models/, or a workspace written before the models were stored in the
    database, is returned as it is. When the folder's stamp is missing or differs from the database's
    `models_id`, the folder is restored from `model_files` under the lock; if another process holds the lock (or
    the folder cannot be written), the files are extracted to a private temporary folder instead, returned.
    """
    models_folder = Path(models_folder)
    folder = models_folder.parent
    if models_folder.name != MODELS_FOLDER or not workspace_path(folder).exists():
        return models_folder
    expected, rows = _stored_models(folder)
    if expected is None or models_stamp(models_folder) == expected:
        return models_folder
    try:
        with workspace_lock(folder, wait=0):
            expected, rows = _stored_models(folder)
            if models_stamp(models_folder) != expected:
                staging = _unique_name(folder, MODELS_FOLDER, "tmp")
                _write_files(staging, rows)
                (staging / MODELS_STAMP).write_text(f"{expected}\n")
                _swap_models(staging, models_folder)
            return models_folder
    except (ClvlensError, OSError):
        private = Path(tempfile.mkdtemp(prefix="clvlens-models-"))
        atexit.register(shutil.rmtree, private, True)
        _write_files(private, rows)
        (private / MODELS_STAMP).write_text(f"{expected}\n")
        return private


def _stored_models(folder: Path) -> tuple[str | None, list[tuple[str, bytes]]]:
    """The database's `models_id` and model files (None when the workspace predates `model_files`)."""
    with open_workspace(folder) as connection:
        if not _has_table(connection, MODEL_FILES_TABLE):
            return None, []
        found = connection.execute("SELECT value FROM run_info WHERE key = 'models_id'").fetchone()
        if found is None:
            return None, []
        return found[0], connection.execute(f"SELECT name, content FROM {MODEL_FILES_TABLE}").fetchall()


def write_table(connection: duckdb.DuckDBPyConnection, name: str, frame: Any) -> None:
    """Create or replace table `name` from a Polars, pandas or Arrow frame (Polars strings go to DuckDB as Arrow
    string views, without a copy of the text: the transactions of a million customers would take 0.7 GB more).

    A frame with a `source_row` column is stored in any order (DuckDB need not keep it: half the CPU for the
    10M lines of a million customers when they come in many chunks, about the same in one chunk);
    :func:`read_table` restores the order from that column.
    """
    arrow = frame.to_arrow(compat_level=pl.CompatLevel.newest()) if isinstance(frame, pl.DataFrame) else frame
    columns = arrow.column_names if hasattr(arrow, "column_names") else list(arrow.columns)
    keep_order = SOURCE_ROW not in columns
    connection.register("_incoming", arrow)
    try:
        if not keep_order:
            connection.execute("SET preserve_insertion_order = false")
        connection.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM _incoming')
    finally:
        if not keep_order:
            connection.execute("RESET preserve_insertion_order")
        connection.unregister("_incoming")


def write_run_info(connection: duckdb.DuckDBPyConnection, info: Mapping[str, Any]) -> None:
    """Store the run's settings as a key/value table."""
    frame = pl.DataFrame({"key": list(info), "value": [None if v is None else str(v) for v in info.values()]})
    write_table(connection, "run_info", frame)


def open_workspace(folder: str | Path) -> duckdb.DuckDBPyConnection:
    """Open an existing workspace read-only; a one-line error when there is none."""
    path = workspace_path(folder)
    if not path.exists():
        raise ClvlensError(f"{folder}: no workspace here (expected {WORKSPACE_FILE}; create one with clvlens run)")
    return duckdb.connect(str(path), read_only=True)


def read_table(folder: str | Path, name: str) -> pl.DataFrame:
    """One workspace table as a Polars frame (in the source's order when it has a `source_row` column)."""
    with open_workspace(folder) as connection:
        tables = {row[0] for row in connection.execute("SHOW TABLES").fetchall()}
        if name not in tables:
            raise ClvlensError(f"{workspace_path(folder)}: no table '{name}' (tables: {', '.join(sorted(tables))})")
        ordered = SOURCE_ROW in {row[0] for row in connection.execute(f'DESCRIBE "{name}"').fetchall()}
        return connection.sql(f'SELECT * FROM "{name}"' + (f" ORDER BY {SOURCE_ROW}" if ordered else "")).pl()
