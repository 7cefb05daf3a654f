"""The hypergeometric evaluations behind the Pareto/NBD likelihood, against arbitrary precision (mpmath)."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

from clvlens.models._special import hyp2f1_one_continued_fraction, log_hyp2f1_one


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
