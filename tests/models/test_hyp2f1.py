"""The hypergeometric evaluations behind the Pareto/NBD likelihood, against arbitrary precision (mpmath)."""

from __future__ import annotations

import itertools

import mpmath
import numpy as np
import pytest

from clvlens.models import _hyp2f1
from clvlens.models._hyp2f1 import _near_one, hyp2f1_one_continued_fraction, log_hyp2f1_one


def _reference(b: np.ndarray, c: np.ndarray, z: np.ndarray) -> np.ndarray:
    mpmath.mp.dps = 30
    return np.array([float(mpmath.log(mpmath.hyp2f1(1, bi, ci, zi))) for bi, ci, zi in zip(b, c, z, strict=True)])


@pytest.mark.parametrize(
    ("z_low", "z_high"),
    [(0.0, 0.3), (0.3, 0.75), (0.75, 0.99), (0.99, 0.99995)],  # series, series, continued fraction, near 1
)
def test_log_hyp2f1_one_matches_mpmath(z_low, z_high):
    rng = np.random.default_rng(3)
    n = 60
    b = np.exp(rng.uniform(np.log(1e-3), np.log(300.0), n))
    c = b + np.exp(rng.uniform(np.log(1e-3), np.log(50.0), n))  # c > b > 0, as in the Pareto/NBD likelihood
    z = rng.uniform(z_low, z_high, n)
    np.testing.assert_allclose(log_hyp2f1_one(b, c, z), _reference(b, c, z), rtol=1e-11, atol=1e-13)


def test_continued_fraction_reports_what_it_could_not_reach():
    b, c = np.array([2.0, 2.0]), np.array([3.5, 3.5])
    z = np.array([0.5, 1.0 - 1e-12])
    values, converged = hyp2f1_one_continued_fraction(b, c, z, max_terms=500)
    assert converged.tolist() == [True, False]
    assert np.log(values[0]) == pytest.approx(_reference(b[:1], c[:1], z[:1])[0], rel=1e-13)


@pytest.mark.parametrize("block_elements", [1, 7, 300, 2**14])  # one level a block, uneven blocks, one block
def test_continued_fraction_in_blocks_rounds_as_the_level_at_a_time_loop(monkeypatch, block_elements):
    """The blocked evaluation (few elements, the factors of each distinct (b, c) computed once) gives the in-place
    loop's values to the bit, so that a fit does not depend on how many elements a call happens to get."""
    monkeypatch.setattr(_hyp2f1, "BLOCK_ELEMENTS", block_elements)
    rng = np.random.default_rng(17)
    for n in (1, 2, 5, 108, 513):
        b = np.exp(rng.uniform(np.log(1e-3), np.log(300.0), n))
        c = b + np.exp(rng.uniform(np.log(1e-3), np.log(80.0), n))
        z = 1.0 - np.exp(rng.uniform(np.log(1e-5), np.log(0.3), n))
        for depth in (1, 2, 3, 64, 501):
            blocked = _hyp2f1._bottom_up_in_blocks(b, c, z, depth)
            assert np.array_equal(blocked, _hyp2f1._bottom_up_in_place(b, c, z, depth)), (n, depth)
    # as in a Pareto/NBD likelihood: the customers of one frequency share b and c, and their z differ
    b = np.repeat([729.79, 729.79, 3.5], [150, 100, 62])
    c = np.repeat([731.68, 732.68, 9.25], [150, 100, 62])
    z = 1.0 - np.exp(rng.uniform(np.log(1e-4), np.log(0.3), b.size))
    order = rng.permutation(b.size)
    b, c, z = b[order], c[order], z[order]
    order, runs = _hyp2f1._pair_runs(b, c)
    assert runs.tolist() == [0, 62, 212, 312]  # (3.5, 9.25), then 729.79 with its two c
    assert all(len({(b[i], c[i]) for i in order[start:end]}) == 1 for start, end in itertools.pairwise(runs))
    for depth in (2, 501):
        assert np.array_equal(_hyp2f1._bottom_up_in_blocks(b, c, z, depth), _hyp2f1._bottom_up_in_place(b, c, z, depth))
    monkeypatch.setattr(_hyp2f1, "BLOCKS_UP_TO", 0)  # every call in place
    b, c, z = np.array([2.5, 40.0, 0.3]), np.array([7.25, 41.0, 90.0]), np.array([0.9, 0.9999, 0.97])
    in_place = hyp2f1_one_continued_fraction(b, c, z)[0]
    monkeypatch.setattr(_hyp2f1, "BLOCKS_UP_TO", 512)
    assert np.array_equal(hyp2f1_one_continued_fraction(b, c, z)[0], in_place)
    np.testing.assert_allclose(np.log(in_place), _reference(b, c, z), rtol=1e-13)


def test_connection_formula_serves_the_no_dropout_ridge_accurately():
    # Pareto/NBD with s -> 0 and beta >> alpha: b = s + 1, c = r + s + x + 1 and z within 1e-3 of 1, where
    # the continued fraction needs thousands of terms
    rng = np.random.default_rng(5)
    n = 80
    s = np.exp(rng.uniform(np.log(1e-5), np.log(0.3), n))
    r = rng.uniform(0.2, 3.0, n)
    x = rng.integers(0, 300, n).astype(float)
    b, c = s + 1.0, r + s + x + 1.0
    z = 1.0 - np.exp(rng.uniform(np.log(1e-5), np.log(1e-3), n))
    values, served = _near_one(b, c, z)
    assert served.mean() > 0.7  # only c - 1 - b near an integer or in (0, 0.5) is left to the fraction
    np.testing.assert_allclose(np.log(values[served]), _reference(b[served], c[served], z[served]), rtol=1e-12)
    np.testing.assert_allclose(log_hyp2f1_one(b, c, z), _reference(b, c, z), rtol=1e-11, atol=1e-13)


def test_connection_formula_sums_past_the_trough_of_its_terms():
    """With g = c - 1 - b > 1 and z not very near 1 the series in 1 - z falls into a trough before k = g and grows
    again after it, up to k = (b y + g - 1) / (1 - y); stopping in the trough was 1.1% off at (27.8, 85.6, 0.767)."""
    rng = np.random.default_rng(11)
    n = 200
    b = rng.uniform(1.0, 60.0, n)
    c = b + 1.0 + rng.uniform(2.0, 200.0, n)
    z = rng.uniform(0.75, 0.99, n)
    values, served = _near_one(b, c, z)
    assert served.sum() > n / 3
    np.testing.assert_allclose(np.log(values[served]), _reference(b[served], c[served], z[served]), rtol=1e-11)
    np.testing.assert_allclose(log_hyp2f1_one(b, c, z), _reference(b, c, z), rtol=1e-11, atol=1e-13)
    case = np.array([27.79460558893994]), np.array([85.60923052743391]), np.array([0.7673973176563235])
    assert log_hyp2f1_one(*case)[0] == pytest.approx(_reference(*case)[0], rel=1e-12)
