"""Fixtures of the ML tests: a small demo store (fast) and its splits, and time splits of the real UCI Online Retail
and CDNOW logs (skipped with a reason where the data sets are absent)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from clvlens.data.demo import generate_demo_store
from clvlens.ml import LTVDataset, time_split


@pytest.fixture(scope="session")
def demo_transactions() -> pl.DataFrame:
    """Two years of a 1,500-customer demo store (2023-01-01 to 2024-12-31) as Polars."""
    return pl.from_pandas(generate_demo_store(n_customers=1500, seed=11).clean)


@pytest.fixture(scope="session")
def small_params() -> dict[str, int]:
    """Small, fast LightGBM settings for tests."""
    return {"n_estimators": 40, "num_leaves": 7, "min_child_samples": 10, "n_jobs": 1}


CDNOW = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "cdnow" / "CDNOW_master.txt.gz"


@pytest.fixture(scope="session")
def uci_split(online_retail) -> tuple[LTVDataset, LTVDataset]:
    """UCI Online Retail: features at 2011-06-08, the value of the six months after it."""
    return time_split(online_retail.transactions, "2011-06-08", "2011-12-09", "6M")


@pytest.fixture(scope="session")
def cdnow_split() -> tuple[LTVDataset, LTVDataset]:
    """CDNOW: features at 1997-06-30, the value of the six months after it."""
    if not CDNOW.exists():
        pytest.skip(f"real data set cdnow/CDNOW_master.txt.gz not found under {CDNOW.parents[1]}")
    from clvlens.data import load_cdnow

    return time_split(load_cdnow(CDNOW).transactions, "1997-06-30", "1997-12-31", "6M")
