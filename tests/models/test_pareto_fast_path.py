"""Pareto/NBD's fast path (a subsample's fit polished by quasi-Newton steps on all rows) converges on a store like
the 100k-customer demo store, to the optimum of the careful path (L-BFGS-B on every row from the first start)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from clvlens.data import load_source
from clvlens.data.demo import generate_demo_store
from clvlens.models import ParetoNBD, _engine
from clvlens.models.simulate import in_whole_periods, simulate_paretonbd
from clvlens.summary import rfm_summary


@pytest.fixture(scope="module")
def demo_calibration() -> tuple[np.ndarray, ...]:
    """The demo store's calibration summary (26 weeks held out), as in the model choice of a run."""
    transactions = load_source(generate_demo_store(n_customers=20_000, dirt=False).transactions).transactions
    end = transactions["timestamp"].max()
    summary = rfm_summary(transactions, time_unit="W", observation_end=end, calibration_end=end - timedelta(days=182))
    return tuple(summary[c].to_numpy().astype(float) for c in ("frequency", "recency", "T"))


def _fit(columns: tuple[np.ndarray, ...], subsample_above: int, monkeypatch: pytest.MonkeyPatch) -> ParetoNBD:
    monkeypatch.setattr(ParetoNBD, "_subsample_above", subsample_above)
    monkeypatch.setattr(ParetoNBD, "_subsample_rows", 2_000)
    return ParetoNBD().fit(*columns)


def test_fast_path_converges_to_the_careful_optimum(demo_calibration, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = _fit(demo_calibration, 1_000, monkeypatch)  # ~4,500 distinct rows: the subsample path
    careful = _fit(demo_calibration, 10**9, monkeypatch)  # never subsampled
    attempts = fast.fit_result_.attempts
    assert attempts[0].startswith("L-BFGS-B on a subsample") and len(attempts) == 1, attempts  # no fallback
    assert fast.fit_result_.optimizer == "L-BFGS-B (subsample) + Newton"
    assert careful.fit_result_.attempts[0].startswith("L-BFGS-B from start 1")
    assert fast.fit_result_.gradient_norm < 1e-5
    assert fast.fit_result_.log_likelihood == pytest.approx(careful.fit_result_.log_likelihood, abs=1e-3)
    for name in ParetoNBD._param_names:
        assert fast.params_[name] == pytest.approx(careful.params_[name], rel=1e-3), name


def _near_constant_dropout(n: int, s: float, beta: float, seed: int) -> tuple[np.ndarray, ...]:
    """Customers whose dropout rates barely vary, in whole weeks: the fit runs along the likelihood's ridge
    towards no dropout heterogeneity (s and beta growing together), where a fit's ending depends on its path."""
    d = simulate_paretonbd(n, r=0.9, alpha=50.0, s=s, beta=beta, T_max=100.0, seed=seed)
    return tuple(in_whole_periods(d))


@pytest.mark.parametrize(("s", "beta", "seed", "stops_early"), [(5.0, 500.0, 4, True), (50.0, 5000.0, 7, False)])
def test_subsample_start_stops_early_or_takes_the_strict_path(s, beta, seed, stops_early, monkeypatch) -> None:
    """The subsample's fit first stops at a looser tolerance. Where Newton steps from there converge, that is the
    fit; where they do not (the second store), the fit is the strict start's, to the bit, so the early stop never
    loses a fit."""
    columns = _near_constant_dropout(20_000, s, beta, seed)
    fit = _fit(columns, 1_000, monkeypatch)
    monkeypatch.setattr(_engine, "_WARM_FTOL", _engine._FTOL)  # the strict start alone, as before the early stop
    strict = _fit(columns, 1_000, monkeypatch)
    starts = [a for a in fit.fit_result_.attempts if a.startswith("L-BFGS-B on a subsample")]
    assert "(stopped early)" in starts[0]
    assert not any("(stopped early)" in a for a in strict.fit_result_.attempts)
    if stops_early:
        assert fit.fit_result_.attempts == starts and fit.fit_result_.gradient_norm < 1e-5
        assert fit.fit_result_.log_likelihood == pytest.approx(strict.fit_result_.log_likelihood, abs=0.01)
    else:
        assert fit.fit_result_.attempts[1:] == strict.fit_result_.attempts
        assert fit.params_ == strict.params_
        assert fit.fit_result_.log_likelihood == strict.fit_result_.log_likelihood


def test_likelihood_on_distinct_pairs_equals_the_row_by_row_terms(demo_calibration) -> None:
    """The fit evaluates the hypergeometric terms once per distinct (x, t) pair; the per-row log-likelihood is
    the one computed row by row (FH05 eq. 22)."""
    from scipy import special

    from clvlens.models.paretonbd import _log_terms

    x, tx, T = demo_calibration
    model = ParetoNBD()
    data = model._prepare([x, tx, T], np.ones(x.size))
    assert data["pairs_tx"][0].size < x.size / 2  # daily data: far fewer pairs than customers
    for r, alpha, s, beta in ((0.9, 53.0, 0.8, 65.0), (0.5, 10.0, 3.0, 400.0), (2.0, 1.0, 0.1, 100.0)):
        fast = model._loglik(np.array([r, alpha, s, beta]), data)
        l1, l2 = _log_terms({"r": r, "alpha": alpha, "s": s, "beta": beta}, x[:500], tx[:500], T[:500], exact=False)
        slow = (special.gammaln(r + x[:500]) - special.gammaln(r) + r * np.log(alpha) + s * np.log(beta)
                + np.logaddexp(l1, l2))
        np.testing.assert_allclose(fast[:500], slow, rtol=1e-12, atol=1e-10)
