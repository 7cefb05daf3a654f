"""Bounded time and honest answers where the dropout process is barely identified (issue 9).

The reproducer: customers simulated at the parameters of a real one-year retail log (BG/NBD r = 0.88,
alpha = 10.3, a = 0.33, b = 250, 53 weeks), on which the maximum-likelihood fit runs along a ridge toward no
dropout. Its CLV interval used to draw b up to 1e13 and hang in arbitrary precision.
"""

from __future__ import annotations

import itertools

import mpmath
import numpy as np
import pytest

from clvlens.errors import ClvlensError
from clvlens.models import BetaGeo, ModifiedBetaGeo, _hyp2f1, customer_lifetime_value, customer_lifetime_value_interval
from clvlens.models._special import beta_mixture_mean
from clvlens.models.bgnbd import conditional_expected, prob_alive, prob_alive_at
from clvlens.models.selection import fit_candidates, select_model
from clvlens.models.simulate import simulate_bgnbd


def _reference(A: float, B: float, u: float, k: float, kind: str) -> float:
    """The same expectations in closed form (Euler's integral for 2F1), in 30-digit arithmetic."""
    mpmath.mp.dps = 30
    A, B, u, k = (mpmath.mpf(v) for v in (A, B, u, k))
    if kind == "survival":
        return float(mpmath.hyp2f1(k, A, A + B, -u))
    return float((A + B - 1) / (A - 1) * (1 - mpmath.hyp2f1(k, A - 1, A + B - 1, -u)))


@pytest.mark.parametrize("kind", ["purchases", "survival"])
def test_beta_mixture_matches_mpmath_on_a_grid(kind):
    # from a -> 0 to a = 1e6 and b + x from 300 to 1e13: the no-dropout ridge and the draws along it
    grid = list(itertools.product([0.003, 0.33, 1.7, 40.0, 2e3, 1e6], [300.0, 1e4, 1e7, 1e13], [0.01, 0.5],
                                  [0.9, 40.0]))
    A, B, u, k = (np.array(v) for v in zip(*grid, strict=True))
    got = beta_mixture_mean(A, B, u, k, kind)
    want = np.array([_reference(*point, kind) for point in grid])
    np.testing.assert_allclose(got, want, rtol=1e-9)


def test_beta_mixture_large_u_against_mpmath():
    # long horizons for young customers (u up to 60) at moderate b, where mpmath is quick (at b in the millions
    # it takes seconds to minutes a value there, which is the very problem this module solves)
    grid = list(itertools.product([0.33, 1.7, 40.0], [300.0], [4.0, 60.0], [0.9, 40.0, 130.0]))
    A, B, u, k = (np.array(v) for v in zip(*grid, strict=True))
    for kind in ("purchases", "survival"):
        want = np.array([_reference(*point, kind) for point in grid])
        # a probability is wanted to an absolute 1e-15, not relative to values of 1e-54
        np.testing.assert_allclose(beta_mixture_mean(A, B, u, k, kind), want, rtol=1e-8,
                                   atol=1e-15 if kind == "survival" else 0.0)


@pytest.mark.parametrize("shift", [0, 1])
def test_predictions_continuous_across_the_quadrature_threshold(shift):
    # just below the threshold the closed forms serve, just above the quadrature: the two must agree
    rng = np.random.default_rng(0)
    x = rng.integers(0, 60, 200).astype(float)
    T = rng.uniform(1, 53, 200)
    tx = np.where(x > 0, T * rng.uniform(0.1, 1.0, 200), 0.0)
    below = {"r": 0.9, "alpha": 10.0, "a": 0.33, "b": 999.0}
    closed = conditional_expected(below, 52.0, x, tx, T, shift)  # b < 1e3: the closed forms
    quad = beta_mixture_mean(0.33, below["b"] + x + shift, 52.0 / (10.0 + T), 0.9 + x, "purchases")
    np.testing.assert_allclose(closed, quad * prob_alive(below, x, tx, T, shift), rtol=1e-8)
    above = {**below, "b": 1001.0}  # the quadrature
    ratio = conditional_expected(above, 52.0, x, tx, T, shift) / closed
    assert np.all(np.abs(ratio - 1.0) < 0.01)  # b moved by 0.2%: the predictions barely move
    u = 26.0 / (10.0 + T)
    quad_survival = beta_mixture_mean(0.33, below["b"] + x + shift, u, 0.9 + x, "survival")
    np.testing.assert_allclose(prob_alive_at(below, 26.0, x, tx, T, shift),
                               quad_survival * prob_alive(below, x, tx, T, shift), rtol=1e-8, atol=1e-15)
    survival = prob_alive_at(below, 26.0, x, tx, T, shift)
    assert np.all((survival >= 0) & (survival <= 1))


def test_predictions_at_extreme_draws_are_finite_and_take_no_arbitrary_precision():
    before = dict(_hyp2f1.SLOW_PATH)
    x = np.array([0.0, 1.0, 30.0, 125.0])
    T = np.array([5.0, 53.0, 53.0, 53.0])
    tx = np.array([0.0, 10.0, 50.0, 52.0])
    for a, b in [(1e9, 1e13), (0.33, 1e13), (1e-8, 1e13), (5e3, 2.0), (1e9, 1e9)]:
        p = {"r": 0.88, "alpha": 10.3, "a": a, "b": b}
        e = conditional_expected(p, np.array([4.0, 26.0, 52.0])[:, None], x, tx, T, 0)
        assert np.all(np.isfinite(e)) and np.all(e >= 0)
        assert np.all(np.diff(e, axis=0) >= -1e-9)  # cumulative purchases grow with the horizon
        s = prob_alive_at(p, 52.0, x, tx, T, 1)
        assert np.all((s >= 0) & (s <= 1))
    # b -> infinity at fixed a/(a+b): every customer drops out with the same p; E[Y | alive] -> (1-e^-lpt)/p
    p = {"r": 0.88, "alpha": 10.3, "a": 1e8, "b": 1e8 * 99}
    e = conditional_expected(p, 52.0, np.array([0.0]), np.array([0.0]), np.array([20.0]), 0)
    lam = np.random.default_rng(1).gamma(0.88, 1 / 30.3, 400_000)
    limit = np.mean((1 - np.exp(-lam * 0.01 * 52.0)) / 0.01)
    assert e[0] == pytest.approx(limit, rel=1e-2)
    assert before == _hyp2f1.SLOW_PATH


@pytest.fixture(scope="module")
def ridge() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = simulate_bgnbd(4_300, 0.88, 10.3, 0.33, 250.0, T_max=53.0, T_min=1.0, seed=3)
    return d["frequency"], d["recency"], d["T"]


def test_reproducer_interval_finishes_inside_the_plausible_region(ridge):
    x, tx, T = ridge
    model = ModifiedBetaGeo().fit(x, tx, T)
    assert "b" in model.fit_result_.weakly_identified
    assert "no dropout" in model.fit_result_.weakly_identified["b"]
    before = dict(_hyp2f1.SLOW_PATH)
    report: dict = {}
    lower, upper = customer_lifetime_value_interval(model, 30.0, x, tx, T, n_draws=40, report=report)
    clv = customer_lifetime_value(model, 30.0, x, tx, T)
    assert before == _hyp2f1.SLOW_PATH  # no arbitrary precision on this path
    assert report["draws_used"] >= 20 and report["stopped"] is None
    draws = model.draw_report_
    assert draws["outside_box"] + draws["outside_likelihood_region"] > 0  # the ridge's far draws were refused
    assert np.all(np.isfinite(lower)) and np.all(lower >= 0) and np.all(upper >= lower)
    assert np.mean((lower <= clv * 1.001) & (clv <= upper * 1.001)) > 0.9


def test_interval_time_budget_degrades_with_a_reason():
    d = simulate_bgnbd(2_000, 0.5, 6.0, 0.8, 3.0, T_max=78.0, seed=5)
    x, tx, T = d["frequency"], d["recency"], d["T"]
    model = BetaGeo().fit(x, tx, T)
    report: dict = {}
    with pytest.raises(ClvlensError, match="no interval can be given"):
        customer_lifetime_value_interval(model, 30.0, x, tx, T, n_draws=40, time_budget=0.0, report=report)
    assert "time budget" in report["stopped"] and report["draws_used"] == 0
    report = {}
    lower, upper = customer_lifetime_value_interval(model, 30.0, x, tx, T, n_draws=40, report=report)
    assert report["draws_used"] == 40 and report["stopped"] is None and report["draws_outside_region"] == 0
    assert np.all(lower >= 0) and np.all(upper >= lower)


def test_clv_lower_never_negative_on_the_linear_path(ridge):
    x, tx, T = ridge
    model = ModifiedBetaGeo().fit(x, tx, T)
    lower, _ = customer_lifetime_value_interval(model, 30.0, x, tx, T, n_draws=30, method="linear")
    assert np.all(lower >= 0)


def test_well_identified_fit_is_not_flagged():
    d = simulate_bgnbd(6_000, 0.5, 6.0, 0.8, 3.0, T_max=78.0, seed=11)
    model = BetaGeo().fit(d["frequency"], d["recency"], d["T"])
    assert model.fit_result_.weakly_identified == {}
    assert model.fit_result_.hessian_condition is not None
    table = model.summary()
    assert list(table["identification"]) == ["ok"] * 4


def test_weak_identification_shown_in_summary_and_selection(ridge):
    x, tx, T = ridge
    candidates = fit_candidates(x, tx, T, time_unit="W", names=("bgnbd", "mbgnbd"))
    selection = select_model(candidates)
    rows = {row["model"]: row for row in selection.rows()}
    chosen = rows[selection.chosen]
    assert chosen["weakly_identified"] and "b:" in chosen["weakly_identified"]
    summary = selection.model.summary()
    assert "relative standard error" in summary.loc["b", "identification"]


def test_selection_refuses_fits_without_repeat_buyers():
    rng = np.random.default_rng(4)
    n = 400
    T = rng.uniform(5, 52, n)
    x = np.zeros(n)
    x[:3] = [1.0, 2.0, 1.0]
    tx = np.where(x > 0, T * 0.5, 0.0)
    candidates = fit_candidates(x, tx, T, time_unit="W", names=("bgnbd", "mbgnbd"))
    with pytest.raises(ClvlensError, match="no transaction model"):
        select_model(candidates)
    for c in candidates:
        assert c.model is None or (c.refused and "bought more than once" in c.refused)
