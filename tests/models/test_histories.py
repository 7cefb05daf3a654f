"""Predictions evaluated once per distinct (frequency, recency, T) history equal the per-customer evaluation (real
data: the whole CDNOW master log, 23,570 customers, daily purchase dates), and the Pareto/NBD likelihood's
grouping into distinct triples leaves every row's value (hence the fit) unchanged to the bit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from clvlens.models import BetaGeo, GammaGamma, ModifiedBetaGeo, ParetoNBD, customer_lifetime_value
from clvlens.models import paretonbd as pareto_module
from clvlens.models._base import BaseModel
from clvlens.models._pareto_likelihood import pair_terms
from clvlens.models.clv import Histories, _discounted_purchases, _grid, alive_and_expected

REL = 1e-12
END = "1998-06-30"


@pytest.fixture(scope="module")
def master(cdnow_master: Path) -> dict[str, np.ndarray]:
    from clvlens.data import load_source
    from clvlens.pipeline.run import build_customer_table

    customers = build_customer_table(load_source(str(cdnow_master), format="cdnow").transactions, "W", END)
    return {c: customers[c].to_numpy().astype(float) for c in ("frequency", "recency", "T", "monetary_value")}


@pytest.fixture(scope="module")
def fitted(master) -> dict[str, BaseModel]:
    cols = (master["frequency"], master["recency"], master["T"])
    return {cls.__name__: cls().fit(*cols) for cls in (BetaGeo, ModifiedBetaGeo, ParetoNBD)}


def _cols(master):
    return master["frequency"], master["recency"], master["T"]


def _close(got: np.ndarray, want: np.ndarray, rel: float = REL) -> None:
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=rel, atol=0.0)


def _per_customer_value(model, params, cols, ends, factors):
    """sum_k factors_k (E[X(t_k)] - E[X(t_k-1)]) per customer from the public prediction at each time point."""
    saved = model.params_
    model.params_ = dict(zip(model._param_names, params, strict=True))
    try:
        cum = np.column_stack([model.conditional_expected_number_of_purchases_up_to_time(t, *cols) for t in ends])
    finally:
        model.params_ = saved
    return np.diff(cum, axis=1, prepend=0.0) @ factors


def test_histories_group_cdnow_and_scatter_back_exactly(master):
    cols = _cols(master)
    hist = Histories(*cols)
    assert hist.inverse is not None and hist.size < 0.5 * hist.n  # the grouping is real on this log
    for grouped, original in zip(hist.cols, cols, strict=True):
        assert np.array_equal(hist.scatter(grouped), original)
    (ux, uT), at = hist.pairs("T")
    assert np.array_equal(ux[at], hist.cols[0]) and np.array_equal(uT[at], hist.cols[2])


@pytest.mark.parametrize("name", ["BetaGeo", "ModifiedBetaGeo", "ParetoNBD"])
def test_alive_and_expected_per_history_equal_per_customer(master, fitted, name):
    model = fitted[name]
    cols = _cols(master)
    alive, expected = alive_and_expected(model, 39.0, Histories(*cols))
    _close(alive, model.conditional_probability_alive(*cols))
    _close(expected, model.conditional_expected_number_of_purchases_up_to_time(39.0, *cols))


@pytest.mark.parametrize("name", ["BetaGeo", "ModifiedBetaGeo", "ParetoNBD"])
@pytest.mark.parametrize("discounting", ["period", "continuous"])
def test_discounted_purchases_per_history_equal_per_customer(master, fitted, name, discounting):
    model = fitted[name]
    cols = _cols(master)
    hist = Histories(*cols)
    ends, factors = _grid(model, "12M", "1M", discounting, 0.1)
    theta = model._pvec()
    # at the estimate and at a step along each parameter, as the linearised interval evaluates them
    for params in [theta, *(theta * np.exp(1e-4 * e) for e in np.eye(theta.size))]:
        p = dict(zip(model._param_names, params, strict=True))
        got = hist.scatter(_discounted_purchases(model, p, hist, ends, factors))
        _close(got, _per_customer_value(model, params, cols, ends, factors))


def test_clv_with_gamma_gamma_per_history_equals_per_customer(master, fitted):
    model = fitted["ParetoNBD"]
    cols = _cols(master)
    x, m = master["frequency"], master["monetary_value"]
    repeat = (x > 0) & (m > 0)
    spend = GammaGamma().fit(x[repeat], m[repeat])
    clv = customer_lifetime_value(model, spend, *cols, monetary_value=m, horizon="12M", discount_rate=0.1,
                                  margin=0.3)
    ends, factors = _grid(model, "12M", "1M", "period", 0.1)
    want = 0.3 * spend.conditional_expected_average_profit(x, m) * _per_customer_value(
        model, model._pvec(), cols, ends, factors)
    _close(clv, want)


def test_pareto_likelihood_grouped_into_triples_is_the_same_to_the_bit(master, fitted, monkeypatch):
    model = fitted["ParetoNBD"]
    cols = list(_cols(master))
    weights = np.ones(cols[0].size)
    grouped = model._prepare(cols, weights)
    assert grouped["at_unit"] is not None and grouped["units"][0].size < 0.5 * cols[0].size
    monkeypatch.setattr(pareto_module, "_GROUP_SHARE", 0.0)  # the same preparation without the grouping
    rows = model._prepare(cols, weights)
    assert rows["at_unit"] is None
    theta = model._pvec()
    for params in (theta, theta * np.array([1.3, 0.8, 1.1, 0.7])):
        assert np.array_equal(model._loglik(params, grouped), model._loglik(params, rows))


@pytest.mark.parametrize("name", ["ParetoNBD", "GammaGamma"])
def test_cheaper_total_loglik_equals_the_row_sum(master, fitted, name):
    if name == "GammaGamma":
        x, m = master["frequency"], master["monetary_value"]
        model: BaseModel = GammaGamma().fit(x[(x > 0) & (m > 0)], m[(x > 0) & (m > 0)])
    else:
        model = fitted[name]
    data = model._fit_data
    theta = model._pvec()
    rng = np.random.default_rng(5)
    for params in [theta, *(theta * np.exp(rng.normal(0.0, 0.2, theta.size)) for _ in range(5))]:
        assert model._total_loglik(params, data) == pytest.approx(BaseModel._total_loglik(model, params, data),
                                                                  rel=1e-13)


def test_pareto_terms_of_both_pair_kinds_at_once_are_the_same_to_the_bit(master, fitted):
    """The likelihood evaluates the terms of the (x, t_x) and (x, T) pairs together, once per distinct pair of
    either kind: each term is computed element by element, so it is the one each kind would get alone."""
    model = fitted["ParetoNBD"]
    data = model._prepare(list(_cols(master)), np.ones(master["frequency"].size))
    assert data["pairs"][0].size < data["pairs_tx"][0].size + data["pairs_T"][0].size
    theta = model._pvec()
    for params in (theta, theta * np.array([0.5, 2.0, 3.0, 0.3])):
        together = pair_terms(*params, data["pairs"])
        union = {(a, b): i for i, (a, b) in enumerate(zip(*data["pairs"], strict=True))}
        for kind in ("tx", "T"):
            alone = pair_terms(*params, data[f"pairs_{kind}"])
            ux, ut = data[f"pairs_{kind}"]
            # each distinct pair of this kind, found in the union
            where = np.array([union[(a, b)] for a, b in zip(ux, ut, strict=True)])
            assert np.array_equal(together[where], alone)

