"""BG/BB predictive quantities: P(X(t) = n) for a new customer and P(alive at n + t | x, t_x, n)."""

from __future__ import annotations

import numpy as np
import pytest

from clvlens.errors import ClvlensError
from clvlens.models import BetaGeoBetaBinom

DONATIONS = {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}
PARAM_SETS = [
    DONATIONS,
    {"alpha": 0.1, "beta": 5.0, "gamma": 3.0, "delta": 0.2},
    {"alpha": 8.0, "beta": 0.3, "gamma": 0.05, "delta": 12.0},
    {"alpha": 1.0, "beta": 1.0, "gamma": 1.5, "delta": 1.0},
]



@pytest.mark.parametrize("params", PARAM_SETS)
@pytest.mark.parametrize("t", [1, 6, 11])
def test_pmf_sums_to_one_and_matches_the_mean(params: dict[str, float], t: int) -> None:
    model = BetaGeoBetaBinom.from_params(params)
    n = np.arange(t + 1)
    pmf = model.probability_of_n_purchases_up_to_time(t, n)
    assert pmf.shape == n.shape
    assert np.all(pmf >= 0)
    assert abs(pmf.sum() - 1.0) < 1e-10
    mean = float(model.expected_number_of_purchases_up_to_time(t))
    assert float(np.sum(n * pmf)) == pytest.approx(mean, rel=1e-9)


@pytest.mark.parametrize("gamma", [1.0, 1.0 + 5e-8, 1.0 - 2e-7, 1.0 + 4e-4, 1.0 + 2e-3])
def test_mean_at_and_near_gamma_one_matches_the_pmf(gamma: float) -> None:
    # the closed forms divide by gamma - 1; the pmf has no such division, so it is an independent check
    model = BetaGeoBetaBinom.from_params({"alpha": 1.0, "beta": 1.0, "gamma": gamma, "delta": 1.0})
    n = np.arange(7)
    mean = float(np.sum(n * model.probability_of_n_purchases_up_to_time(6, n)))
    assert float(model.expected_number_of_purchases_up_to_time(6)) == pytest.approx(mean, rel=1e-10)


def test_conditional_expectation_is_continuous_through_gamma_one() -> None:
    x, tx, n = np.array([0.0, 2.0, 5.0]), np.array([0.0, 4.0, 6.0]), np.full(3, 6.0)

    def value(gamma: float) -> np.ndarray:
        params = {"alpha": 1.2, "beta": 0.8, "gamma": gamma, "delta": 2.0}
        return BetaGeoBetaBinom.from_params(params).conditional_expected_number_of_purchases_up_to_time(5, x, tx, n)

    at_one = value(1.0)
    assert np.all(at_one > 0)
    for h in (1e-9, 1e-5, 1e-3, 2e-3):  # both sides of the series/direct switch at |gamma - 1| = 1e-3
        np.testing.assert_allclose((value(1.0 + h) + value(1.0 - h)) / 2.0, at_one, rtol=max(h, 1e-10))


def test_pmf_broadcasts_and_is_zero_above_t() -> None:
    model = BetaGeoBetaBinom.from_params(DONATIONS)
    t = np.array([[0], [3], [6]])
    n = np.arange(8)[None, :]
    pmf = model.probability_of_n_purchases_up_to_time(t, n)
    assert pmf.shape == (3, 8)
    assert np.all(pmf[t[:, 0][:, None] < n] == 0.0)
    assert pmf[0, 0] == pytest.approx(1.0, abs=1e-14)  # no opportunities: no purchases
    for row, tt in zip(pmf, t[:, 0], strict=True):
        want = model.probability_of_n_purchases_up_to_time(int(tt), np.arange(tt + 1))
        np.testing.assert_allclose(row[: tt + 1], want, rtol=1e-14)


def _simulate_counts(params: dict[str, float], t: int, size: int, seed: int) -> np.ndarray:
    """Frequencies over t opportunities: before each opportunity 1 .. t an alive customer drops out with
    probability theta (the acquisition is opportunity 0); an alive customer then buys with probability p."""
    rng = np.random.default_rng(seed)
    p = rng.beta(params["alpha"], params["beta"], size)
    theta = rng.beta(params["gamma"], params["delta"], size)
    alive = np.ones(size, dtype=bool)
    counts = np.zeros(size, dtype=int)
    for _ in range(t):
        alive &= rng.random(size) >= theta
        counts += alive & (rng.random(size) < p)
    return counts


@pytest.mark.parametrize("params", [DONATIONS, PARAM_SETS[1]])
def test_pmf_matches_monte_carlo(params: dict[str, float]) -> None:
    t = 6
    counts = _simulate_counts(params, t, 200_000, seed=20100601)
    empirical = np.bincount(counts, minlength=t + 1) / counts.size
    pmf = BetaGeoBetaBinom.from_params(params).probability_of_n_purchases_up_to_time(t, np.arange(t + 1))
    np.testing.assert_allclose(empirical, pmf, rtol=0, atol=0.005)


ROWS = {"x": np.array([0.0, 2.0, 5.0, 6.0]), "tx": np.array([0.0, 4.0, 5.0, 6.0]), "n": np.full(4, 6.0)}


@pytest.mark.parametrize("params", PARAM_SETS)
def test_alive_at_one_equals_conditional_probability_alive(params: dict[str, float]) -> None:
    model = BetaGeoBetaBinom.from_params(params)
    at1 = model.conditional_probability_alive_at(1, ROWS["x"], ROWS["tx"], ROWS["n"])
    np.testing.assert_allclose(at1, model.conditional_probability_alive(ROWS["x"], ROWS["tx"], ROWS["n"]), rtol=1e-14)


@pytest.mark.parametrize("params", PARAM_SETS)
def test_alive_at_is_a_non_increasing_probability(params: dict[str, float]) -> None:
    model = BetaGeoBetaBinom.from_params(params)
    path = np.array([model.conditional_probability_alive_at(t, ROWS["x"], ROWS["tx"], ROWS["n"]) for t in range(11)])
    assert np.all((path >= 0) & (path <= 1))
    assert np.all(np.diff(path, axis=0) <= 0)
    x = n = tx = np.array([6.0])  # bought at every opportunity, so alive at opportunity n
    at0, at1 = (model.conditional_probability_alive_at(t, x, tx, n)[0] for t in (0, 1))
    assert at0 >= at1


def test_alive_at_broadcasts_t_against_customers() -> None:
    model = BetaGeoBetaBinom.from_params(DONATIONS)
    t = np.array([0.0, 1.0, 3.0, 10.0])
    got = model.conditional_probability_alive_at(t, ROWS["x"], ROWS["tx"], ROWS["n"])
    want = [model.conditional_probability_alive_at(tt, ROWS["x"][i], ROWS["tx"][i], ROWS["n"][i])[0]
            for i, tt in enumerate(t)]
    np.testing.assert_allclose(got, want, rtol=1e-14)


@pytest.mark.parametrize(("t", "n", "name"), [(1.5, 1, "t"), (-1, 0, "t"), (6, -1, "n"), (6, 0.5, "n"),
                                              (np.nan, 0, "t")])
def test_pmf_rejects_bad_counts(t: float, n: float, name: str) -> None:
    with pytest.raises(ClvlensError, match=rf"^{name}: "):
        BetaGeoBetaBinom.from_params(DONATIONS).probability_of_n_purchases_up_to_time(t, n)


@pytest.mark.parametrize("t", [1.5, -1, np.inf])
def test_alive_at_rejects_bad_t(t: float) -> None:
    with pytest.raises(ClvlensError, match=r"^t: "):
        BetaGeoBetaBinom.from_params(DONATIONS).conditional_probability_alive_at(t, [1.0], [1.0], [6.0])


def test_unfitted_model_raises() -> None:
    with pytest.raises(ClvlensError, match="not fitted"):
        BetaGeoBetaBinom().probability_of_n_purchases_up_to_time(6, 0)
    with pytest.raises(ClvlensError, match="not fitted"):
        BetaGeoBetaBinom().conditional_probability_alive_at(1, [1.0], [1.0], [6.0])
