"""Pareto/NBD's fast path (a subsample's fit polished by quasi-Newton steps on all rows) converges on a store like
the 100k-customer demo store, to the optimum of the careful path (L-BFGS-B on every row from the first start)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from clvlens.data import load_source
from clvlens.data.demo import generate_demo_store
from clvlens.models import ParetoNBD
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
