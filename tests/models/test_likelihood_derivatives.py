"""The BG/NBD and MBG/NBD analytic gradient and Hessian, the blocked evaluation and the large-data fit path."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

from clvlens.models import BetaGeo, ModifiedBetaGeo
from clvlens.models._bgnbd_likelihood import log_likelihood_derivatives
from clvlens.models.simulate import simulate_bgnbd

THETA = np.array([0.3, 5.0, 0.9, 2.1])


@pytest.fixture(scope="module")
def rows() -> list[np.ndarray]:
    # more rows than one evaluation block (65,536), so that the block sums are exercised
    d = simulate_bgnbd(150_000, r=0.24, alpha=4.4, a=0.79, b=2.43, T_max=78.0, seed=11)
    return [d["frequency"], d["recency"], d["T"]]


def _total(model: BetaGeo, theta: np.ndarray, data: dict) -> float:
    return float(np.sum(data["w"] * model._loglik(theta, data)))


@pytest.mark.parametrize("cls", [BetaGeo, ModifiedBetaGeo])
def test_gradient_and_hessian_equal_finite_differences(cls, rows):
    model = cls()
    weights = np.random.default_rng(0).integers(1, 4, rows[0].size).astype(float)
    data = model._prepare(rows, weights)
    ll, g, H = log_likelihood_derivatives(THETA, data, model._shift, hessian=True)
    assert ll == pytest.approx(_total(model, THETA, data), rel=1e-12)
    eps = 1e-6
    unit = np.eye(4) * eps
    g_fd = np.array([(_total(model, THETA + u, data) - _total(model, THETA - u, data)) / (2 * eps) for u in unit])
    np.testing.assert_allclose(g, g_fd, rtol=1e-6)
    H_fd = np.array([(model._loglik_grad(THETA + u, data)[1] - model._loglik_grad(THETA - u, data)[1]) / (2 * eps)
                     for u in unit])
    np.testing.assert_allclose(H, H_fd, rtol=1e-6, atol=1e-3)
    np.testing.assert_array_equal(H, H.T)


def test_row_order_and_grouping_do_not_change_the_sums(rows):
    model = BetaGeo()
    n = rows[0].size
    ones = np.ones(n)
    base = log_likelihood_derivatives(THETA, model._prepare(rows, ones), 0, hessian=True)
    perm = np.random.default_rng(1).permutation(n)
    shuffled = log_likelihood_derivatives(THETA, model._prepare([c[perm] for c in rows], ones), 0, hessian=True)
    # every row twice, against every row once with weight 2
    doubled = log_likelihood_derivatives(
        THETA, model._prepare([np.concatenate([c, c]) for c in rows], np.ones(2 * n)), 0, hessian=True
    )
    weighted = log_likelihood_derivatives(THETA, model._prepare(rows, 2 * ones), 0, hessian=True)
    for a, b in ((base, shuffled), (doubled, weighted)):
        assert a[0] == pytest.approx(b[0], rel=1e-12)
        np.testing.assert_allclose(a[1], b[1], rtol=1e-10)
        np.testing.assert_allclose(a[2], b[2], rtol=1e-10)


def test_huge_frequencies_give_finite_derivatives():
    x = np.array([0.0, 1.0, 10_000.0, 50_000.0])
    tx = np.array([0.0, 3.0, 70.0, 77.9])
    T = np.full(4, 78.0)
    for cls in (BetaGeo, ModifiedBetaGeo):
        model = cls()
        ll, g, H = log_likelihood_derivatives(THETA, model._prepare([x, tx, T], np.ones(4)), cls._shift, True)
        assert np.isfinite(ll) and np.all(np.isfinite(g)) and np.all(np.isfinite(H))


class _FiniteDifferenceHessian(BetaGeo):
    _analytic_hessian: ClassVar[bool] = False


class _NoSubsample(BetaGeo):
    _subsample_above: ClassVar[int] = 10**9


def test_standard_errors_from_the_analytic_hessian_match_finite_differences(rows):
    analytic = BetaGeo().fit(*rows)
    numeric = _FiniteDifferenceHessian().fit(*rows)
    for name in analytic.params_:
        assert analytic.params_[name] == pytest.approx(numeric.params_[name], rel=1e-9)
        se_a = analytic.fit_result_.standard_errors[name]
        se_n = numeric.fit_result_.standard_errors[name]
        assert se_a is not None and se_n is not None
        assert se_a == pytest.approx(se_n, rel=1e-4)


def test_subsample_and_newton_reach_the_full_data_optimum():
    d = simulate_bgnbd(260_000, r=0.24, alpha=4.4, a=0.79, b=2.43, T_max=78.0, seed=5)
    cols = [d["frequency"], d["recency"], d["T"]]
    fast = BetaGeo().fit(*cols)
    assert fast.fit_result_.optimizer == "L-BFGS-B (subsample) + Newton"
    full = _NoSubsample().fit(*cols)
    assert full.fit_result_.optimizer == "L-BFGS-B"
    assert fast.fit_result_.log_likelihood == pytest.approx(full.fit_result_.log_likelihood, abs=1e-4)
    for name in fast.params_:
        assert fast.params_[name] == pytest.approx(full.params_[name], rel=1e-5)


def test_fits_limit_blas_threads_only_while_they_run_even_when_concurrent():
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_info

    def blas_threads() -> list[int]:
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    before = blas_threads()
    d = simulate_bgnbd(3_000, r=0.24, alpha=4.4, a=0.79, b=2.43, T_max=52.0, seed=3)
    with ThreadPoolExecutor(4) as pool:
        fits = list(pool.map(lambda s: BetaGeo(penalizer_coef=s).fit(d), [0.0, 0.001, 0.002, 0.003] * 2))
    assert all(np.isfinite(f.fit_result_.log_likelihood) for f in fits)
    assert blas_threads() == before
