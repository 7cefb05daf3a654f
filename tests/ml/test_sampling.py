"""Reproducible customer samples: the hash is the one documented, the sample ignores row order, and training on a
sample still scores every customer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from clvlens.errors import ClvlensError
from clvlens.ml import BaselineGBR, make_estimator, predict_ltv, train_ltv
from clvlens.ml.sampling import CustomerSample, customer_hash, random_groups, sample_mask, sample_transactions

DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
MASK = (1 << 64) - 1


def _reference_hash(text: str) -> int:
    """FNV-1a over the UTF-8 bytes, then splitmix64's finaliser, one id at a time in plain Python."""
    h = 0xCBF29CE484222325
    for byte in text.encode("utf-8"):
        h = ((h ^ byte) * 0x100000001B3) & MASK
    h = ((h ^ (h >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    h = ((h ^ (h >> 27)) * 0x94D049BB133111EB) & MASK
    return h ^ (h >> 31)


def test_hash_is_the_documented_function_for_ids_of_any_length() -> None:
    ids = ["", "a", "12346", "C0000001", "ééé-北京", "x" * 300, "17850.0"]
    assert customer_hash(pl.Series(ids)).tolist() == [_reference_hash(i) for i in ids]
    # a sliced (offset) Arrow array hashes the same as a fresh one
    assert customer_hash(pl.Series(ids).slice(2, 3)).tolist() == [_reference_hash(i) for i in ids[2:5]]


def test_sample_is_exact_nested_and_independent_of_row_order() -> None:
    ids = pl.Series([f"cust-{i}" for i in range(20_000)])
    small, large = sample_mask(ids, 1_000), sample_mask(ids, 5_000)
    assert small.sum() == 1_000 and large.sum() == 5_000
    assert np.all(large[small])  # a larger sample holds every smaller one
    shuffled = ids.sample(fraction=1.0, shuffle=True, seed=3)
    again = set(shuffled.filter(pl.Series(sample_mask(shuffled, 1_000))).to_list())
    assert again == set(ids.filter(pl.Series(small)).to_list())
    assert sample_mask(ids, None).all() and sample_mask(ids, 50_000).all()
    groups = random_groups(ids, 20)
    assert groups.min() == 0 and groups.max() == 19 and np.bincount(groups).min() > 800
    with pytest.raises(ClvlensError, match="sample size"):
        sample_mask(ids, 0)


def test_sample_transactions_keeps_whole_customers(demo_transactions: pl.DataFrame) -> None:
    kept, sample = sample_transactions(demo_transactions, 200)
    assert sample == CustomerSample(200, demo_transactions["customer_id"].n_unique())
    assert kept["customer_id"].n_unique() == 200
    chosen = kept["customer_id"].unique()
    every_line = demo_transactions.filter(pl.col("customer_id").is_in(chosen.implode()))
    assert kept.height == every_line.height  # all the lines of each chosen customer, nothing else
    reordered, _ = sample_transactions(demo_transactions.reverse(), 200)
    assert set(reordered["customer_id"].unique()) == set(chosen)
    assert "200 of 1,500" in sample.describe() and CustomerSample(5, 5).describe() == "all 5 customers"


def test_training_on_a_sample_still_scores_every_customer(demo_transactions: pl.DataFrame) -> None:
    params = {"n_estimators": 30, "min_child_samples": 10}
    trained = train_ltv(demo_transactions, horizon="6M", sample_size=400, params=params)
    seen = demo_transactions.filter(pl.col("timestamp") < trained.cutoff + pl.duration(days=1))
    assert trained.n_train == 400 and trained.n_population == seen["customer_id"].n_unique() > 400
    assert "400 of" in trained.notes["training_sample"]
    scores = predict_ltv(trained, demo_transactions)
    assert scores.height == demo_transactions["customer_id"].n_unique()
    assert scores["ltv_ml"].null_count() == 0 and np.all(np.isfinite(scores["ltv_ml"].to_numpy()))
    full = train_ltv(demo_transactions, horizon="6M", params=params)
    assert full.n_train == full.n_population == trained.n_population
    assert "all" in full.notes["training_sample"]


def test_the_baseline_keeps_its_scikit_learn_definition() -> None:
    params = make_estimator("baseline_gbr").get_params()
    assert isinstance(make_estimator("baseline_gbr"), BaselineGBR)
    assert {k: params[k] for k in ("n_estimators", "learning_rate", "max_depth", "subsample")} == {
        "n_estimators": 200, "learning_rate": 0.05, "max_depth": 3, "subsample": 1.0}
