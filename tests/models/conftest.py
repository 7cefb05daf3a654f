"""Shared fixtures: the CDNOW data in ../shared/datasets relative to the repository root."""

from __future__ import annotations

import gzip
from datetime import date
from pathlib import Path

import numpy as np
import pytest

DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
CDNOW = DATASETS / "cdnow"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"reference data {path} is absent (expected ../shared/datasets next to the repository)")
    return path


def _read_csv(path: Path) -> dict[str, np.ndarray]:
    rows = np.genfromtxt(_need(path), delimiter=",", names=True)
    return {name: np.asarray(rows[name], dtype=float) for name in rows.dtype.names}


@pytest.fixture(scope="session")
def cdnow() -> dict[str, np.ndarray]:
    return _read_csv(CDNOW / "cdnow_customers_summary.csv")


@pytest.fixture(scope="session")
def cdnow_spend() -> dict[str, np.ndarray]:
    return _read_csv(CDNOW / "cdnow_customers_summary_with_transactions.csv")


@pytest.fixture(scope="session")
def cdnow_holdout() -> dict[str, np.ndarray]:
    """Per-customer holdout repeat transactions (1997-10-01 .. 1998-06-30, same-day purchases merged),
    ordered by sample id (= ID in the summary files), plus first-purchase and repeat-purchase weeks."""
    days: dict[int, set[int]] = {}
    origin = date(1997, 1, 1).toordinal()
    with gzip.open(_need(CDNOW / "CDNOW_sample.txt.gz"), "rt") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) < 3:
                continue
            d = parts[2]
            day = date(int(d[:4]), int(d[4:6]), int(d[6:8])).toordinal() - origin
            days.setdefault(int(parts[1]), set()).add(day)
    cal_end = date(1997, 9, 30).toordinal() - origin
    hold_end = date(1998, 6, 30).toordinal() - origin
    ids = sorted(days)
    hold = np.array([sum(cal_end < d <= hold_end for d in days[i]) for i in ids], dtype=float)
    first = np.array([min(days[i]) for i in ids], dtype=float)
    repeats = np.array([d for i in ids for d in sorted(days[i])[1:] if d <= hold_end], dtype=float)
    return {"id": np.array(ids, dtype=float), "holdout": hold, "first_week": first / 7.0,
            "repeat_week": repeats / 7.0}  # start of the purchase day, like first_week
