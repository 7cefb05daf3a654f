"""Fixtures of the ML tests: a small demo store (fast) and its splits."""

from __future__ import annotations

import polars as pl
import pytest

from clvlens.data.demo import generate_demo_store


@pytest.fixture(scope="session")
def demo_transactions() -> pl.DataFrame:
    """Two years of a 1,500-customer demo store (2023-01-01 to 2024-12-31) as Polars."""
    return pl.from_pandas(generate_demo_store(n_customers=1500, seed=11).clean)


@pytest.fixture(scope="session")
def small_params() -> dict[str, int]:
    """Small, fast LightGBM settings for tests."""
    return {"n_estimators": 40, "num_leaves": 7, "min_child_samples": 10, "n_jobs": 1}
