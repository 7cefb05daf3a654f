"""Shared plumbing of the LTV estimators: parameters, the feature matrix encoding, bias correction and metadata files.

No pickle anywhere: every saved model is a folder holding ``metadata.json`` and the model's own text files.
"""

from __future__ import annotations

import inspect
import json
import math
import os
import platform
from collections.abc import Mapping
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from clvlens.data.readers import frame_to_polars
from clvlens.errors import ClvlensError

FORMAT = "clvlens-ltv"
FORMAT_VERSION = 1
METADATA_FILE = "metadata.json"
BIAS_CORRECTIONS = ("smearing", "ratio", "none")


class ParamsMixin:
    """scikit-learn's ``get_params``/``set_params`` without importing scikit-learn (read off ``__init__``)."""

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor arguments and their current values."""
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {name: getattr(self, name) for name in names}

    def set_params(self, **params: Any) -> ParamsMixin:
        """Set constructor arguments; unknown names raise."""
        valid = self.get_params()
        for name, value in params.items():
            if name not in valid:
                raise ClvlensError(f"{name}: not a parameter of {type(self).__name__}")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


def feature_frame(X: Any) -> pl.DataFrame:
    """The features as Polars, without a customer_id column."""
    if X is None:
        raise ClvlensError("X: no feature table given")
    frame = frame_to_polars(X)
    return frame.drop("customer_id") if "customer_id" in frame.columns else frame


def learn_levels(frame: pl.DataFrame) -> dict[str, list[str]]:
    """Sorted levels of every string (categorical) column."""
    levels: dict[str, list[str]] = {}
    for name, dtype in frame.schema.items():
        if dtype in (pl.String, pl.Categorical, pl.Enum):
            values = frame.get_column(name).cast(pl.String).drop_nulls().unique().sort()
            levels[name] = values.to_list()
    return levels


def encode(frame: pl.DataFrame, names: list[str], levels: Mapping[str, list[str]], unknown: float) -> np.ndarray:
    """A float64 matrix in ``names`` order; categorical columns become level codes, unseen levels ``unknown``."""
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise ClvlensError(f"X: missing feature column '{missing[0]}'")
    columns = []
    for name in names:
        series = frame.get_column(name)
        if name in levels:
            known = list(levels[name])
            codes = series.cast(pl.String).replace_strict(
                known, [float(i) for i in range(len(known))], default=None, return_dtype=pl.Float64
            )
            columns.append(codes.fill_null(unknown).to_numpy().astype(np.float64))
        else:
            if not series.dtype.is_numeric() and series.dtype != pl.Boolean:
                raise ClvlensError(f"X: feature column '{name}' must be numeric, got {series.dtype}")
            columns.append(series.cast(pl.Float64).fill_null(np.nan).to_numpy().astype(np.float64))
    if not columns:
        raise ClvlensError("X: no feature columns")
    return np.column_stack(columns)


#: rows from which LightGBM uses every core (below, one thread: starting threads costs more than it saves, and on
#: a shared machine an idle-waiting second thread slows the first)
PARALLEL_ROWS = 200_000


def thread_count(n_jobs: int, rows: int) -> int:
    """LightGBM threads: ``n_jobs`` when positive; -1 (auto) = every core for at least PARALLEL_ROWS rows, else 1."""
    if n_jobs >= 1:
        return int(n_jobs)
    if rows < PARALLEL_ROWS:
        return 1
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def check_target(y: Any, n_rows: int) -> np.ndarray:
    """The value label as a float array: finite, >= 0 and one per row."""
    if y is None:
        raise ClvlensError("y: no label given")
    if hasattr(y, "to_numpy"):
        y = y.to_numpy()
    arr = np.asarray(y, dtype=np.float64).ravel()
    if arr.size != n_rows:
        raise ClvlensError(f"y: has {arr.size} values but X has {n_rows} rows")
    if arr.size < 2:
        raise ClvlensError("y: need at least two customers to train on")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ClvlensError("y: values must be finite and >= 0 (customer value in currency)")
    return arr


def bias_factor(method: str, log_pred: np.ndarray, log_true: np.ndarray) -> float:
    """Factor turning expm1(prediction on the log1p scale) into a mean prediction.

    ``smearing``: Duan's (1983) smearing estimate mean(exp(residual)) of the in-sample log1p residuals, applied as
    ``(1 + y) = exp(prediction) * factor``; ``ratio``: sum(1 + y) / sum(exp(prediction)), which makes the in-sample
    total match exactly; ``none``: 1.
    """
    if method not in BIAS_CORRECTIONS:
        raise ClvlensError(f"bias_correction: {method!r} is not one of {', '.join(BIAS_CORRECTIONS)}")
    if method == "none" or log_true.size == 0:
        return 1.0
    if method == "smearing":
        return float(np.mean(np.exp(log_true - log_pred)))
    return float(np.sum(np.exp(log_true)) / np.sum(np.exp(log_pred)))


def from_log(log_pred: np.ndarray, factor: float) -> np.ndarray:
    """Currency predictions from log1p-scale predictions and a bias factor, floored at 0."""
    return np.maximum(np.exp(log_pred) * factor - 1.0, 0.0)


def library_versions() -> dict[str, str]:
    """Versions of the libraries a saved model depends on."""
    out = {"python": platform.python_version()}
    for name in ("clvlens", "lightgbm", "scikit-learn", "numpy", "polars"):
        try:
            out[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def write_metadata(path: Path, kind: str, payload: Mapping[str, Any]) -> Path:
    """Create the model folder and write ``metadata.json`` (format, kind, versions and ``payload``)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    data = {"format": FORMAT, "format_version": FORMAT_VERSION, "kind": kind, "versions": library_versions()}
    data.update(payload)
    (path / METADATA_FILE).write_text(json.dumps(_jsonable(data), indent=2, allow_nan=True), encoding="utf-8")
    return path


def read_metadata(path: Path, kind: str | None = None) -> dict[str, Any]:
    """Read and check ``metadata.json`` of a saved model folder."""
    file = Path(path) / METADATA_FILE
    if not file.exists():
        raise ClvlensError(f"{path}: not a saved clvlens LTV model (no {METADATA_FILE})")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ClvlensError(f"{file}: unreadable metadata ({exc.msg} at line {exc.lineno})") from None
    if data.get("format") != FORMAT:
        raise ClvlensError(f"{file}: format is {data.get('format')!r}, expected {FORMAT!r}")
    if kind is not None and data.get("kind") != kind:
        raise ClvlensError(f"{file}: holds a {data.get('kind')!r} model, not {kind!r}")
    return data


def read_text(path: Path, name: str) -> str:
    """Read one of a saved model's text files."""
    file = Path(path) / name
    if not file.exists():
        raise ClvlensError(f"{path}: missing model file {name}")
    return file.read_text(encoding="utf-8")


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return value
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    return value
