"""The customer sample of internal validations: stable, independent of row order, nested; its sampling errors."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy.stats import norm

from clvlens.analytics.sampling import auc_difference, customer_hash, paired_difference, sample_mask


def _ids(n: int) -> pl.Series:
    return pl.Series("customer_id", [f"C{i:06d}" for i in range(n)])


def test_hash_is_fixed_and_independent_of_the_other_ids() -> None:
    ids = _ids(1000)
    h = customer_hash(ids)
    assert np.unique(h).size == 1000
    # the same id hashes the same alone, among others, and as the number it spells
    assert customer_hash(pl.Series(["C000007"]))[0] == h[7]
    assert (customer_hash(pl.Series([12, 345])) == customer_hash(pl.Series(["12", "345"]))).all()
    assert customer_hash(pl.Series(["é", "e"]))[0] != customer_hash(pl.Series(["é", "e"]))[1]
    # a fixed value: the hash must not change between versions (it picks the customers of every run)
    assert int(customer_hash(pl.Series(["C0000000"]))[0]) == 3540483214777063217


def test_sample_is_reproducible_order_free_and_nested() -> None:
    ids = _ids(20_000)
    chosen = set(ids.filter(pl.Series(sample_mask(ids, 3_000))).to_list())
    assert len(chosen) == 3_000
    shuffled = ids.sample(fraction=1.0, shuffle=True, seed=5)
    assert set(shuffled.filter(pl.Series(sample_mask(shuffled, 3_000))).to_list()) == chosen
    assert chosen <= set(ids.filter(pl.Series(sample_mask(ids, 6_000))).to_list())
    assert sample_mask(ids, 20_000) is None and sample_mask(ids, None) is None  # all customers: no sample


def test_paired_difference_standard_error_covers_the_truth() -> None:
    """Over repeated samples the 95% margin holds the population difference about 95% of the time."""
    rng = np.random.default_rng(0)
    population_a = rng.gamma(0.5, 1.0, 200_000)
    population_b = population_a + rng.normal(0.01, 0.2, 200_000)
    truth = float(np.mean(population_a - population_b))
    hits = 0
    for _ in range(200):
        pick = rng.choice(200_000, 2_000, replace=False)
        d = paired_difference(population_a[pick], population_b[pick])
        hits += abs(d.difference - truth) < norm.ppf(0.975) * d.standard_error
    assert 0.90 <= hits / 200 <= 0.99


def test_auc_difference_matches_the_difference_of_aucs() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(1)
    y = rng.random(4_000) < 0.3
    a = y + rng.normal(0.0, 1.0, y.size)
    b = a + rng.normal(0.0, 0.7, y.size)
    d = auc_difference(a, b, y)
    assert d.difference == pytest.approx(roc_auc_score(y, a) - roc_auc_score(y, b), abs=1e-12)
    spread = np.std([auc_difference(a[k], b[k], y[k]).difference
                     for k in (rng.integers(0, y.size, y.size) for _ in range(100))])
    assert d.standard_error == pytest.approx(spread, rel=0.3)  # DeLong against a bootstrap
