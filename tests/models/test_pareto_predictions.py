"""Pareto/NBD P(X(t) = n) for a new customer: identities, simulation, and the frequency diagnostic it feeds."""

from __future__ import annotations

import numpy as np
import pytest

from clvlens.errors import ClvlensError
from clvlens.models import ParetoNBD
from clvlens.models.diagnostics import frequency_pmf

PARAMS = [
    {"r": 0.55, "alpha": 10.5, "s": 0.6, "beta": 11.7},  # CDNOW-like
    {"r": 3.0, "alpha": 200.0, "s": 0.01, "beta": 1e4},  # almost no dropout
    {"r": 0.8, "alpha": 2.0, "s": 1.0, "beta": 2.0},  # alpha = beta, s = 1
    {"r": 0.3, "alpha": 0.5, "s": 5.0, "beta": 40.0},  # alpha much smaller than beta
]



@pytest.mark.parametrize("params", PARAMS)
@pytest.mark.parametrize("t", [0.5, 39.0, 78.0])
def test_probabilities_sum_to_one_and_match_the_closed_form_mean(params, t):
    model = ParetoNBD.from_params(params)
    n = np.arange(0, 4000)
    probs = model.probability_of_n_purchases_up_to_time(t, n)
    assert np.all(probs >= 0)
    assert probs.sum() == pytest.approx(1.0, abs=1e-12)
    # E[X(t)] = r beta / (alpha (s-1)) [1 - (beta/(beta+t))^(s-1)], FH05 eq. (17), computed independently
    assert n @ probs == pytest.approx(float(model.expected_number_of_purchases_up_to_time(t)), rel=1e-10)


def test_probabilities_match_a_simulation():
    params = PARAMS[0]
    rng = np.random.default_rng(12)
    size, t = 400_000, 39.0
    lam = rng.gamma(params["r"], 1.0 / params["alpha"], size)
    mu = rng.gamma(params["s"], 1.0 / params["beta"], size)
    lifetime = rng.exponential(1.0 / mu)
    counts = rng.poisson(lam * np.minimum(lifetime, t))
    empirical = np.bincount(counts, minlength=12)[:12] / size
    expected = ParetoNBD.from_params(params).probability_of_n_purchases_up_to_time(t, np.arange(12))
    np.testing.assert_allclose(empirical, expected, atol=0.003)


def test_frequency_diagnostic_now_covers_pareto_nbd():
    model = ParetoNBD.from_params(PARAMS[0])
    frequency = np.array([0, 0, 1, 3, 9, 0, 2])
    T = np.array([10.0, 20.0, 30.0, 30.0, 40.0, 50.0, 60.0])
    pmf = frequency_pmf(model, frequency, T)
    # expected customers with k repeat purchases: the model's P(X(T_i) = k) summed customer by customer
    direct = [sum(float(model.probability_of_n_purchases_up_to_time(t, k)) for t in T) for k in range(7)]
    np.testing.assert_allclose(pmf["expected"][:7], direct, rtol=1e-12)
    assert pmf["expected"][7] == pytest.approx(frequency.size - sum(direct))  # the pooled 7+ bin
    assert pmf["observed"].tolist() == [3, 1, 1, 1, 0, 0, 0, 1]


@pytest.mark.parametrize(("t", "n", "field"), [(10.0, -1, "n"), (10.0, 1.5, "n"), (0.0, 1, "t")])
def test_bad_arguments_are_one_line_errors(t, n, field):
    with pytest.raises(ClvlensError, match=field):
        ParetoNBD.from_params(PARAMS[0]).probability_of_n_purchases_up_to_time(t, n)
