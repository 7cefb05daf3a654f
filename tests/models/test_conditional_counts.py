"""P(X(t) = n | x, t_x, T) for BG/NBD, MBG/NBD, Pareto/NBD and BG/BB, and p_active.

Checked four ways: the PMF sums to 1 (to truncation); its mean is the model's conditional expectation (FHL 2005
eq. 10, Batislam et al. 2007 eq. 9, FH05 eq. 21, FHS 2010 eq. 13, computed by different code); it agrees with an
importance-sampling integral over the individual-level model (prior draws weighted by each draw's likelihood of
the history), which does not use the posterior-update argument of the implementation; and for BG/BB with a
forward simulation conditioned on the exact history.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize, special, stats

from clvlens.errors import ClvlensError
from clvlens.models import BetaGeo, BetaGeoBetaBinom, ModifiedBetaGeo, ParetoNBD

CDNOW_BGNBD = {"r": 0.2426, "alpha": 4.4136, "a": 0.7929, "b": 2.4259}  # FHL (2005) CDNOW fit
CDNOW_PARETO = {"r": 0.5532, "alpha": 10.5776, "s": 0.6062, "beta": 11.6690}  # FH05 CDNOW fit
FHS_BGBB = {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}  # FHS (2010) donation data

X = np.array([0.0, 1.0, 2.0, 5.0, 20.0, 0.0])
TX = np.array([0.0, 10.0, 30.5, 35.0, 38.0, 0.0])
T = np.array([38.0, 38.0, 39.0, 39.0, 39.0, 2.0])


def _pmf_table(model, t, nmax, x, tx, T):
    return np.array([model.conditional_probability_of_n_purchases_up_to_time(t, k, x, tx, T) for k in range(nmax)])


@pytest.mark.parametrize(
    ("cls", "params"),
    [(BetaGeo, CDNOW_BGNBD), (ModifiedBetaGeo, CDNOW_BGNBD), (ParetoNBD, CDNOW_PARETO)],
)
@pytest.mark.parametrize("t", [1.0, 39.0, 200.0])
def test_pmf_sums_to_one_and_its_mean_is_the_conditional_expectation(cls, params, t):
    model = cls.from_params(params)
    table = _pmf_table(model, t, 600, X, TX, T)
    assert np.all(table >= 0)
    np.testing.assert_allclose(table.sum(axis=0), 1.0, atol=1e-8)
    mean = (np.arange(600)[:, None] * table).sum(axis=0)
    expected = model.conditional_expected_number_of_purchases_up_to_time(t, X, TX, T)
    np.testing.assert_allclose(mean, expected, rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(model.conditional_probability_active(t, X, TX, T), 1.0 - table[0], atol=1e-10)


def test_bgbb_pmf_sums_to_one_and_its_mean_is_fhs_eq_13():
    model = BetaGeoBetaBinom.from_params(FHS_BGBB)
    x, tx, n = np.array([0.0, 1, 3, 6, 2]), np.array([0.0, 1, 4, 6, 2]), np.array([6.0, 6, 6, 6, 6])
    for horizon in (1, 5, 14):
        table = _pmf_table(model, horizon, horizon + 1, x, tx, n)
        np.testing.assert_allclose(table.sum(axis=0), 1.0, atol=1e-12)
        mean = (np.arange(horizon + 1)[:, None] * table).sum(axis=0)
        np.testing.assert_allclose(
            mean, model.conditional_expected_number_of_purchases_up_to_time(horizon, x, tx, n), rtol=1e-9
        )
        # more purchases than opportunities are impossible
        beyond = model.conditional_probability_of_n_purchases_up_to_time(horizon, horizon + 1, x, tx, n)
        np.testing.assert_array_equal(beyond, 0.0)


def _bgnbd_importance(p, t, n, x, tx, T, shift, draws=400_000, seed=1):
    rng = np.random.default_rng(seed)
    lam = rng.gamma(p["r"], 1.0 / p["alpha"], draws)
    q = rng.beta(p["a"], p["b"], draws)
    # individual likelihood split into the alive-at-T and the dropped-out branches (FHL 2005 eq. 3 / Batislam)
    k = x + shift
    alive = (1 - q) ** k * lam**x * np.exp(-lam * T)
    dead = (q * (1 - q) ** (k - 1) * lam**x * np.exp(-lam * tx)) if k > 0 else 0.0 * lam
    # a customer alive at T buys n in t: no dropout before the first purchase, then a coin after each
    pois = stats.poisson.pmf(n, lam * t)
    after_first = q * (1 - q) ** (n - 1) * stats.poisson.sf(n - 1, lam * t) if n > 0 else 0.0
    future = (1 - q) ** n * pois + after_first
    return float((alive * future + (dead if n == 0 else 0.0)).sum() / (alive + dead).sum())


@pytest.mark.parametrize(("cls", "shift"), [(BetaGeo, 0), (ModifiedBetaGeo, 1)])
@pytest.mark.parametrize(("x", "tx", "T"), [(0.0, 0.0, 30.0), (2.0, 12.0, 30.0), (4.0, 29.0, 30.0)])
def test_bgnbd_pmf_matches_an_integral_over_the_individual_model(cls, shift, x, tx, T):
    model = cls.from_params(CDNOW_BGNBD)
    for n in (0, 1, 3):
        ours = float(model.conditional_probability_of_n_purchases_up_to_time(20.0, n, [x], [tx], [T])[0])
        brute = _bgnbd_importance(CDNOW_BGNBD, 20.0, n, x, tx, T, shift)
        assert abs(ours - brute) < 0.006 + 0.02 * brute, (n, ours, brute)


def _pareto_importance(p, t, n, x, tx, T, draws=400_000, seed=2):
    rng = np.random.default_rng(seed)
    lam = rng.gamma(p["r"], 1.0 / p["alpha"], draws)
    mu = rng.gamma(p["s"], 1.0 / p["beta"], draws)
    tot = lam + mu
    alive = lam**x * np.exp(-tot * T)
    dead = lam**x * mu / tot * (np.exp(-tot * tx) - np.exp(-tot * T))
    # alive at T: purchases until an exponential(mu) death; P(n in t) = e^{-mu t} Pois(n; lam t)
    # + int_0^t mu e^{-mu u} Pois(n; lam u) du = ... + mu lam^n / tot^(n+1) P(n+1, tot t)
    future = np.exp(-mu * t) * stats.poisson.pmf(n, lam * t) + mu * np.exp(
        n * np.log(lam) - (n + 1) * np.log(tot)
    ) * special.gammainc(n + 1, tot * t)
    return float((alive * future + (dead if n == 0 else 0.0)).sum() / (alive + dead).sum())


@pytest.mark.parametrize(("x", "tx", "T"), [(0.0, 0.0, 30.0), (2.0, 12.0, 30.0), (4.0, 29.0, 30.0)])
def test_pareto_pmf_matches_an_integral_over_the_individual_model(x, tx, T):
    model = ParetoNBD.from_params(CDNOW_PARETO)
    for n in (0, 1, 3):
        ours = float(model.conditional_probability_of_n_purchases_up_to_time(20.0, n, [x], [tx], [T])[0])
        brute = _pareto_importance(CDNOW_PARETO, 20.0, n, x, tx, T)
        assert abs(ours - brute) < 0.006 + 0.02 * brute, (n, ours, brute)


def test_bgbb_pmf_matches_a_forward_simulation_conditioned_on_the_history():
    p = FHS_BGBB
    rng = np.random.default_rng(3)
    m, horizon, draws = 6, 5, 400_000
    buy_p = rng.beta(p["alpha"], p["beta"], draws)
    drop = rng.beta(p["gamma"], p["delta"], draws)
    total = m + horizon
    # alive at opportunity j if it survived j dropout chances (one before each opportunity)
    survive = rng.random((draws, total)) >= drop[:, None]
    alive = np.cumprod(survive, axis=1).astype(bool)
    buys = alive & (rng.random((draws, total)) < buy_p[:, None])
    past, future = buys[:, :m], buys[:, m:].sum(axis=1)
    x = past.sum(axis=1)
    last = np.where(x > 0, m - np.argmax(past[:, ::-1], axis=1), 0)
    model = BetaGeoBetaBinom.from_params(p)
    for hx, htx in ((0, 0), (2, 3), (4, 6)):
        group = future[(x == hx) & (last == htx)]
        assert group.size > 2_000
        for k in range(3):
            ours = float(model.conditional_probability_of_n_purchases_up_to_time(horizon, k, [hx], [htx], [m])[0])
            simulated = float(np.mean(group == k))
            se = np.sqrt(simulated * (1 - simulated) / group.size)
            assert abs(ours - simulated) < 4 * se + 1e-3, (hx, htx, k, ours, simulated)


def test_extreme_histories_stay_finite():
    """Frequencies in the thousands and long horizons give probabilities in [0, 1], in log space."""
    x, tx, T = np.array([3000.0, 0.0, 500.0]), np.array([99.99, 0.0, 20.0]), np.array([100.0, 100.0, 100.0])
    with np.errstate(over="raise", invalid="raise"):  # underflow to 0 is harmless (and issue 11 elsewhere)
        for cls, params in ((BetaGeo, CDNOW_BGNBD), (ModifiedBetaGeo, CDNOW_BGNBD), (ParetoNBD, CDNOW_PARETO)):
            model = cls.from_params(params)
            for n in (0, 1, 3000):
                values = model.conditional_probability_of_n_purchases_up_to_time(52.0, n, x, tx, T)
                assert np.all(np.isfinite(values)) and np.all((values >= 0) & (values <= 1))
    active = BetaGeo.from_params(CDNOW_BGNBD).conditional_probability_active(52.0, x, tx, T)
    assert active[0] > 0.99 and active[2] < 0.01


def test_bad_counts_are_one_line_errors():
    model = BetaGeo.from_params(CDNOW_BGNBD)
    for bad in (-1, 1.5, "two", float("nan")):
        with pytest.raises(ClvlensError, match="n:"):
            model.conditional_probability_of_n_purchases_up_to_time(10.0, bad, [1.0], [2.0], [3.0])
    with pytest.raises(ClvlensError, match="n:"):
        BetaGeoBetaBinom.from_params(FHS_BGBB).conditional_probability_of_n_purchases_up_to_time(3, 0.5, [1], [1], [2])


def test_horizons_as_lengths():
    model = ParetoNBD.from_params(CDNOW_PARETO)
    a = model.conditional_probability_active("13W", X, TX, T)
    b = model.conditional_probability_active(13.0, X, TX, T)
    np.testing.assert_allclose(a, b)


#: (x, t_x, T, n, t) -> P(X(t) = n | x, t_x, T) from lifetimes 0.11.3's ParetoNBDFitter (Fader & Hardie's note
#: 028, eq. 16, an independent closed form), at the FH05 CDNOW parameters
LIFETIMES_PARETO = {
    (0, 0.0, 38.0, 0, 39.0): 0.9288656281664711,
    (1, 10.0, 38.0, 1, 13.0): 0.08784650928945453,
    (2, 30.5, 39.0, 2, 39.0): 0.151588838781352,
    (5, 35.0, 39.0, 3, 39.0): 0.13317007507890138,
    (20, 38.0, 39.0, 5, 13.0): 0.14254156261617223,
}


def test_pareto_pmf_matches_lifetimes_anchor_values():
    model = ParetoNBD.from_params(CDNOW_PARETO)
    for (x, tx, T, n, t), expected in LIFETIMES_PARETO.items():
        ours = model.conditional_probability_of_n_purchases_up_to_time(t, n, [x], [tx], [T])[0]
        assert ours == pytest.approx(expected, rel=1e-7), (x, tx, T, n, t)


def test_pareto_pmf_matches_lifetimes_on_a_grid():
    """The same against lifetimes itself on a grid of histories (the `bench` extra; skipped without it)."""
    lifetimes = pytest.importorskip("lifetimes", reason="lifetimes (bench extra) not installed")
    import pandas as pd

    fitter = lifetimes.ParetoNBDFitter()
    fitter.params_ = pd.Series(CDNOW_PARETO)
    model = ParetoNBD.from_params(CDNOW_PARETO)
    for x, tx, T in ((0, 0.0, 5.0), (3, 4.0, 70.0), (12, 60.0, 70.0), (40, 69.5, 70.0)):
        for n in (0, 1, 4, 10):
            for t in (0.5, 26.0, 104.0):
                theirs = float(fitter.conditional_probability_of_n_purchases_up_to_time(n, t, x, tx, T))
                ours = float(model.conditional_probability_of_n_purchases_up_to_time(t, n, [x], [tx], [T])[0])
                assert ours == pytest.approx(theirs, rel=1e-6, abs=1e-12), (x, tx, T, n, t)


@pytest.mark.parametrize(
    ("r", "alpha", "beta", "t", "n"),
    [(3000.0, 100.0, 110.0, 52.0, 100), (3000.0, 100.0, 110.0, 52.0, 3000), (0.5, 1e-3, 1e3, 1e4, 1),
     (20.5, 50.0, 52.0, 39.0, 300), (3.5, 40.0, 45.0, 52.0, 0)],
)
def test_pareto_integral_holds_for_thousands_of_purchases(r, alpha, beta, t, n):
    """The Pareto/NBD PMF's integral, in log space, against mpmath with the interval split around the peak."""
    import mpmath as mp

    from clvlens.models.conditional_counts import _pareto_log_integral

    s = 0.6
    mp.mp.dps = 30

    def log_f(tau):
        return n * mp.log(tau) - (r + n) * mp.log(alpha + tau) - (s + 1) * mp.log(beta + tau)

    def slope(tau):
        return n / tau - (r + n) / (alpha + tau) - (s + 1) / (beta + tau)

    peak = optimize.brentq(slope, 1e-12 * t, t) if n and slope(t) < 0 else t
    top = log_f(peak) if n else log_f(1e-300)
    points = sorted({0.0, t, *(min(t, peak * k) for k in (0.25, 0.5, 0.9, 1.0, 1.1, 2.0, 4.0, 10.0))})
    reference = float(top + mp.log(mp.quad(lambda tau: mp.exp(log_f(tau) - top), points)))
    ours = _pareto_log_integral(*(np.array([v]) for v in (r, alpha)), s, np.array([beta]), np.array([t]),
                                np.array([float(n)]))[0]
    assert ours == pytest.approx(reference, abs=1e-8, rel=1e-11)
