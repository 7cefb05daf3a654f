"""The workspace: one DuckDB file that every stage adds tables to and every face reads.

Contract (later stages add tables and columns, never rename them):
- `transactions`: the canonical clean transactions;
- `quarantine`: every rejected input row with its `reason` code;
- `customers`: one row per customer (`customer_id`, `frequency`, `recency`, `T`, `monetary_value`, first/last
  purchase, region, cohort, ...);
- `cleaning_report`: rows and amount per outcome (`kept` and each reason);
- `run_info`: one row per setting of the run (key, value), such as the source, time unit and observation end;
- from the models step: columns `p_alive`, `expected_purchases`, `expected_spend`, `clv`, `clv_lower`,
  `clv_upper` on `customers`, table `model_selection`, and the model JSON files in DIR/models/;
- from the strategy step: columns `rfm_r`, `rfm_f`, `rfm_m`, `rfm_segment`, `value_segment` on `customers`, tables
  `kpis`, `segments`, `cohorts`, `regions`, `lorenz`, `cohort_cliffs`;
- from the basket step: tables `rules`, `bundles`, `next_best_offer`.

Writes are atomic: a run builds `clvlens.duckdb.tmp` beside the target and renames it into place only when every
table is written, so an interrupted run leaves the previous workspace intact.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from clvlens.errors import ClvlensError

WORKSPACE_FILE = "clvlens.duckdb"
MODELS_FOLDER = "models"


def workspace_path(folder: str | Path) -> Path:
    """The DuckDB file of the workspace in `folder`."""
    return Path(folder) / WORKSPACE_FILE


@contextlib.contextmanager
def writing_workspace(folder: str | Path) -> Iterator[tuple[duckdb.DuckDBPyConnection, Path]]:
    """A fresh temporary database and models folder for a run; on success they replace the workspace's own.

    The database file is swapped with one atomic rename; the models folder is swapped right after it.
    """
    target = workspace_path(folder)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ClvlensError(f"{target.parent}: cannot create the output folder ({exc.strerror})") from None
    temporary = target.with_name(target.name + ".tmp")
    models_target = target.parent / MODELS_FOLDER
    models_staging = target.parent / (MODELS_FOLDER + ".tmp")
    for leftover in (temporary, Path(str(temporary) + ".wal")):
        leftover.unlink(missing_ok=True)
    shutil.rmtree(models_staging, ignore_errors=True)
    connection = duckdb.connect(str(temporary))
    try:
        yield connection, models_staging
        connection.close()
        os.replace(temporary, target)
        shutil.rmtree(models_target, ignore_errors=True)
        if models_staging.exists():
            os.replace(models_staging, models_target)
    except BaseException:
        connection.close()
        temporary.unlink(missing_ok=True)
        shutil.rmtree(models_staging, ignore_errors=True)
        raise


@contextlib.contextmanager
def updating_workspace(folder: str | Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """Change an existing workspace atomically: work on a copy, then rename it over the original."""
    target = workspace_path(folder)
    if not target.exists():
        raise ClvlensError(f"{folder}: no workspace here (expected {WORKSPACE_FILE}; create one with clvlens run)")
    temporary = target.with_name(target.name + ".tmp")
    shutil.copyfile(target, temporary)
    connection = duckdb.connect(str(temporary))
    try:
        yield connection
        connection.close()
        os.replace(temporary, target)
    except BaseException:
        connection.close()
        temporary.unlink(missing_ok=True)
        raise


def write_table(connection: duckdb.DuckDBPyConnection, name: str, frame: Any) -> None:
    """Create or replace table `name` from a Polars, pandas or Arrow frame."""
    arrow = frame.to_arrow() if isinstance(frame, pl.DataFrame) else frame
    connection.register("_incoming", arrow)
    try:
        connection.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM _incoming')
    finally:
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
    """One workspace table as a Polars frame."""
    with open_workspace(folder) as connection:
        tables = {row[0] for row in connection.execute("SHOW TABLES").fetchall()}
        if name not in tables:
            raise ClvlensError(f"{workspace_path(folder)}: no table '{name}' (tables: {', '.join(sorted(tables))})")
        return connection.sql(f'SELECT * FROM "{name}"').pl()
