"""Checks made before a run or a workspace step does any work, each failing in one line.

- The output location: `--out` must be a folder (or not exist yet) that this process can really write to (a file
  is created and removed: permission bits say nothing when running as root, and a read-only mount or an immutable
  folder refuses even root), on a disk with room for the result.
- Free space: a run needs FREE_SPACE_FLOOR plus FREE_SPACE_FACTOR times the size of its input; a step on an
  existing workspace needs the floor plus the size of the database (it writes a copy). Measured: the UCI Online
  Retail file (7.6 MB gzip) gives a 15 MB workspace, a 0.46 MB demo CSV a 4.7 MB one (DuckDB's per-table blocks).
- The settings: time unit, observation end, formats and model names are checked before the data are read.
- The holdout: as soon as the data are loaded, a holdout not shorter than the observed span fails the run (it used
  to skip the models and strategy stages silently).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from clvlens.errors import ClvlensError
from clvlens.models import parse_horizon
from clvlens.pipeline.workspace import workspace_path

FREE_SPACE_FLOOR = 64 * 2**20
FREE_SPACE_FACTOR = 4
_PROBE_BYTES = b"clvlens write probe\n"


def check_output_folder(out: str | Path, needed_bytes: int) -> None:
    """Refuse in one line an output folder that is a file, cannot be created or written, or lacks free space."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ClvlensError(f"{out}: the output must be a folder, and this is a file")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ClvlensError(f"{out}: cannot create the output folder ({exc.strerror})") from None
    probe = out / f".clvlens-write-probe.{os.getpid()}-{secrets.token_hex(4)}"
    try:
        descriptor = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(descriptor, _PROBE_BYTES)
        finally:
            os.close(descriptor)
        probe.unlink()
    except OSError as exc:
        with contextlib.suppress(OSError):
            probe.unlink()
        raise ClvlensError(f"{out}: cannot write to the output folder ({exc.strerror})") from None
    free = shutil.disk_usage(out).free
    if free < needed_bytes:
        raise ClvlensError(
            f"{out}: not enough free disk space: {_size(free)} free, this needs about {_size(needed_bytes)} "
            f"({_size(FREE_SPACE_FLOOR)} plus {FREE_SPACE_FACTOR} times the input size)"
        )


def run_space_needed(source: Any) -> int:
    """Free bytes a run on `source` needs in its output folder (see the module docstring)."""
    return FREE_SPACE_FLOOR + FREE_SPACE_FACTOR * input_bytes(source)


def update_space_needed(folder: str | Path) -> int:
    """Free bytes a step on an existing workspace needs: the floor plus a copy of the database."""
    path = workspace_path(folder)
    return FREE_SPACE_FLOOR + (path.stat().st_size if path.exists() else 0)


def check_workspace_step(folder: str | Path) -> None:
    """Before a step on an existing workspace (fit, score, evaluate, ml): it exists and can be rewritten."""
    if not workspace_path(folder).exists():
        raise ClvlensError(f"{folder}: no workspace here (expected {workspace_path(folder).name}; create one with "
                           f"clvlens run)")
    check_output_folder(folder, update_space_needed(folder))


def check_run_settings(settings: Any) -> None:
    """Settings that can be judged without the data: time unit, observation end, format, ML model, basket."""
    from clvlens.data.transactions import FORMATS
    from clvlens.ml.api import MODELS
    from clvlens.summary.rfm import resolve_period

    if settings.format not in FORMATS:
        raise ClvlensError(f"format: unknown format '{settings.format}' (choose from {', '.join(FORMATS)})")
    unit = str(settings.time_unit).upper()
    if unit not in ("D", "W", "M"):
        raise ClvlensError(f"time unit must be D, W or M, got '{settings.time_unit}'")
    if settings.observation_end is not None:
        resolve_period(None, unit, settings.observation_end, None, None)
    if settings.ml_model not in MODELS:
        raise ClvlensError(f"ML model: {settings.ml_model!r} is not one of {', '.join(MODELS)}")
    for name, value, low_open in (
        ("basket minimum support", settings.basket_min_support, True),
        ("basket minimum confidence", settings.basket_min_confidence, False),
    ):
        if not (0 < value <= 1 if low_open else 0 <= value <= 1):
            raise ClvlensError(f"{name} must be a share between 0 and 1, got {value}")


def check_holdout(holdout: str | None, transactions: pl.DataFrame, observation_end: datetime) -> None:
    """A holdout must be shorter than the observed span, or there is nothing left to fit the models on."""
    if holdout is None or transactions.is_empty():
        return
    first = transactions.get_column("timestamp").min()
    span_days = (observation_end - first).days  # type: ignore[operator]
    holdout_days = parse_horizon(holdout, "D")
    if holdout_days >= span_days:
        raise ClvlensError(
            f"holdout {holdout} ({holdout_days:.0f} days) is not shorter than the data, which span {span_days} days "
            f"({first:%Y-%m-%d} to {observation_end:%Y-%m-%d}); choose a shorter --holdout"
        )


def input_bytes(source: Any) -> int:
    """The size on disk of a file or folder source (0 for a frame or a source that cannot be read)."""
    if not isinstance(source, str | Path):
        return 0
    path = Path(source)
    try:
        if path.is_dir():
            return sum(child.stat().st_size for child in path.iterdir() if child.is_file())
        return path.stat().st_size
    except OSError:
        return 0  # a missing source is reported by the reader, with its own message


def _size(count: int) -> str:
    for unit, scale in (("TB", 2**40), ("GB", 2**30), ("MB", 2**20)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count / 2**10:.0f} KB"
