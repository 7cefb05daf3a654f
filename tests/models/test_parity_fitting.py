"""Fitting parity with lifetimes 0.11.3 (issue 11): the "l2" penalizer, fractional weights, the Gamma-Gamma
independence check, time units beyond D/W/M and numpy's strict floating-point mode.

The expected fits are computed here with scipy on an independent transcription of the published likelihoods
(BG/NBD: Fader, Hardie & Lee 2005 eq. 6; Gamma-Gamma: Fader & Hardie 2013 eq. 3) and lifetimes' documented
objective (mean negative log-likelihood on ages divided by the longest age, plus coef * sum(params^2)); when
lifetimes is installed (bench extra) the test compares with it too.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy import optimize, special

from clvlens.data import load_cdnow
from clvlens.errors import ClvlensError, ClvlensWarning
from clvlens.models import BetaGeo, GammaGamma, ModifiedBetaGeo, ParetoNBD, parse_horizon
from clvlens.models.gammagamma import independence_check
from clvlens.summary import rfm_summary


@pytest.fixture(scope="module")
def cdnow_weeks(cdnow_sample: Path) -> dict[str, np.ndarray]:
    table = rfm_summary(load_cdnow(cdnow_sample).transactions, time_unit="W", observation_end="1997-09-30")
    return {c: table[c].to_numpy().astype(float) for c in ("frequency", "recency", "T", "monetary_value")}


def _bgnbd_loglik(r: float, alpha: float, a: float, b: float, x: np.ndarray, tx: np.ndarray,
                  T: np.ndarray) -> np.ndarray:
    """FHL (2005) eq. (6), written from the paper."""
    common = (special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
              + special.betaln(a, b + x) - special.betaln(a, b))
    alive = -(r + x) * np.log(alpha + T)
    dead = np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + tx)
    return common + np.where(x > 0, np.logaddexp(alive, dead), alive)


def _gg_loglik(p: float, q: float, g: float, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Fader & Hardie (2013) eq. (3) integrated over nu (the density of the mean spend m of x purchases)."""
    return (special.gammaln(p * x + q) - special.gammaln(p * x) - special.gammaln(q) + q * np.log(g)
            + p * x * np.log(x) + (p * x - 1) * np.log(m) - (p * x + q) * np.log(g + x * m))


def _lifetimes_bgnbd_fit(data: dict[str, np.ndarray], coef: float, weights: np.ndarray | None = None) -> dict:
    x, tx, T = data["frequency"], data["recency"], data["T"]
    w = np.ones_like(x) if weights is None else weights
    scale = 1.0 / T.max()

    def objective(log_params: np.ndarray) -> float:
        params = np.exp(log_params)
        ll = _bgnbd_loglik(*params, x, tx * scale, T * scale)
        return -float(np.sum(w * ll)) / w.sum() + coef * float(np.sum(params**2))

    best = optimize.minimize(objective, np.zeros(4), method="Nelder-Mead",
                             options={"xatol": 1e-10, "fatol": 1e-14, "maxiter": 20_000, "maxfev": 20_000})
    best = optimize.minimize(objective, best.x, method="BFGS", options={"gtol": 1e-10})
    r, alpha, a, b = np.exp(best.x)
    return {"r": r, "alpha": alpha / scale, "a": a, "b": b}


@pytest.mark.parametrize("coef", [0.01, 0.1])
def test_l2_penalizer_reproduces_lifetimes_objective(cdnow_weeks: dict[str, np.ndarray], coef: float) -> None:
    expected = _lifetimes_bgnbd_fit(cdnow_weeks, coef)
    ours = BetaGeo(time_unit="W", penalizer_coef=coef, penalizer="l2").fit(
        cdnow_weeks["frequency"], cdnow_weeks["recency"], cdnow_weeks["T"]
    )
    for name, value in expected.items():
        assert ours.params_[name] == pytest.approx(value, rel=1e-4), name
    assert ours.fit_result_.penalizer == "l2"
    # the same coefficient in the default (log) form regularises differently: the forms are not interchangeable
    log_form = BetaGeo(time_unit="W", penalizer_coef=coef).fit(
        cdnow_weeks["frequency"], cdnow_weeks["recency"], cdnow_weeks["T"]
    )
    assert abs(log_form.params_["a"] - ours.params_["a"]) > 0.05


def test_l2_penalizer_matches_lifetimes_when_installed(cdnow_weeks: dict[str, np.ndarray]) -> None:
    lifetimes = pytest.importorskip("lifetimes", reason="lifetimes (bench extra) not installed")
    x, tx, T, m = (cdnow_weeks[c] for c in ("frequency", "recency", "T", "monetary_value"))
    pairs = [(BetaGeo, lifetimes.BetaGeoFitter), (ModifiedBetaGeo, lifetimes.ModifiedBetaGeoFitter)]
    for ours_cls, theirs_cls in pairs:
        theirs = theirs_cls(penalizer_coef=0.05).fit(x, tx, T)
        ours = ours_cls(time_unit="W", penalizer_coef=0.05, penalizer="l2").fit(x, tx, T)
        np.testing.assert_allclose([ours.params_[k] for k in ("r", "alpha", "a", "b")],
                                   theirs.params_.to_numpy(), rtol=1e-4)
    theirs = lifetimes.ParetoNBDFitter(penalizer_coef=0.1).fit(x, tx, T)
    ours = ParetoNBD(time_unit="W", penalizer_coef=0.1, penalizer="l2").fit(x, tx, T)
    # lifetimes' Pareto/NBD stops Nelder-Mead at a looser tolerance
    np.testing.assert_allclose(list(ours.params_.values()), theirs.params_.to_numpy(), rtol=2e-3)
    rep = x > 0
    theirs = lifetimes.GammaGammaFitter(penalizer_coef=0.05).fit(x[rep], m[rep])
    ours = GammaGamma(penalizer_coef=0.05, penalizer="l2").fit(x[rep], m[rep])
    np.testing.assert_allclose(list(ours.params_.values()), theirs.params_.to_numpy(), rtol=1e-4)


def test_penalizer_form_is_checked_and_saved(cdnow_weeks: dict[str, np.ndarray]) -> None:
    with pytest.raises(ClvlensError, match="penalizer: 'ridge'"):
        BetaGeo(penalizer_coef=0.1, penalizer="ridge").fit([1, 0], [1, 0], [2, 2])
    from clvlens.models import load_model

    model = BetaGeo(time_unit="W", penalizer_coef=0.01, penalizer="l2").fit(
        cdnow_weeks["frequency"], cdnow_weeks["recency"], cdnow_weeks["T"]
    )
    assert load_model(model.to_json()).penalizer == "l2"


def test_fractional_weights_maximise_the_weighted_likelihood(cdnow_weeks: dict[str, np.ndarray]) -> None:
    data = {name: values.copy() for name, values in cdnow_weeks.items()}  # nothing shared with other tests
    x, tx, T = data["frequency"], data["recency"], data["T"]
    # fractional weights that lean on the repeat buyers and vary smoothly with age: a real shift of the optimum,
    # the same on every platform (no random stream)
    weights = np.where(x > 0, 2.5, 0.75) * (0.5 + T / T.max())
    ours = BetaGeo(time_unit="W").fit(x, tx, T, weights=weights)
    expected = _lifetimes_bgnbd_fit(data, 0.0, weights)
    for name, value in expected.items():
        assert ours.params_[name] == pytest.approx(value, rel=1e-4), name
    unweighted = BetaGeo(time_unit="W").fit(x, tx, T)
    assert ours.params_["r"] != pytest.approx(unweighted.params_["r"], rel=1e-2)

    def weighted_loglik(params: dict[str, float]) -> float:
        return float(np.sum(weights * _bgnbd_loglik(params["r"], params["alpha"], params["a"], params["b"], x, tx, T)))

    assert weighted_loglik(ours.params_) > weighted_loglik(unweighted.params_) + 1.0


def test_integer_weights_equal_repeated_rows(cdnow_weeks: dict[str, np.ndarray]) -> None:
    rows = np.column_stack([cdnow_weeks["frequency"], np.ceil(cdnow_weeks["recency"]), np.ceil(cdnow_weeks["T"])])
    unique, counts = np.unique(rows, axis=0, return_counts=True)
    x, tx, T = unique.T
    assert counts.max() > 50  # real grouping: many customers share a history
    grouped = BetaGeo().fit(x, tx, T, weights=counts)
    repeated = BetaGeo().fit(np.repeat(x, counts), np.repeat(tx, counts), np.repeat(T, counts))
    for name in grouped.params_:
        assert grouped.params_[name] == pytest.approx(repeated.params_[name], rel=1e-6)
    assert grouped.data_hash_ == repeated.data_hash_ and grouped.n_customers_ == counts.sum()
    halves = BetaGeo().fit(x, tx, T, weights=counts / 2)  # the objective is a weighted mean: scale-free
    assert halves.params_["r"] == pytest.approx(grouped.params_["r"], rel=1e-6)
    with pytest.raises(ClvlensError, match="weights: row 1 is negative"):
        BetaGeo().fit(x, tx, T, weights=np.where(np.arange(x.size) == 1, -1.0, 1.0))
    with pytest.raises(ClvlensError, match="weights: has 2 rows"):
        BetaGeo().fit(x, tx, T, weights=[1, 1])


def test_gamma_gamma_weights_maximise_the_weighted_likelihood(cdnow_weeks: dict[str, np.ndarray]) -> None:
    rep = cdnow_weeks["frequency"] > 0
    x, m = cdnow_weeks["frequency"][rep], cdnow_weeks["monetary_value"][rep]
    w = np.linspace(0.5, 1.5, x.size)

    def objective(log_params: np.ndarray) -> float:
        return -float(np.sum(w * _gg_loglik(*np.exp(log_params), x, m))) / w.sum()

    best = optimize.minimize(objective, np.log([6.0, 3.7, 15.0]), method="BFGS", options={"gtol": 1e-10})
    ours = GammaGamma().fit(x, m, weights=w)
    np.testing.assert_allclose(list(ours.params_.values()), np.exp(best.x), rtol=1e-4)
    assert ours.fit_result_.log_likelihood == pytest.approx(-best.fun * w.sum(), rel=1e-9)


def test_gamma_gamma_independence_check_on_cdnow(cdnow_weeks: dict[str, np.ndarray]) -> None:
    rep = cdnow_weeks["frequency"] > 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", ClvlensWarning)  # CDNOW passes: no warning
        model = GammaGamma().fit(cdnow_weeks["frequency"][rep], cdnow_weeks["monetary_value"][rep])
    check = model.independence_
    # Fader & Hardie (2013) report a correlation of 0.11 between frequency and mean spend on CDNOW
    assert check["pearson_r"] == pytest.approx(0.11, abs=0.01)
    assert check["holds"] and check["n_customers"] == rep.sum()
    assert model.summary().attrs["independence"]["pearson_r"] == check["pearson_r"]


def test_gamma_gamma_independence_failure_warns() -> None:
    rng = np.random.default_rng(3)
    x = rng.integers(1, 12, 800).astype(float)
    m = rng.gamma(6.0, 1.0, 800) * (1 + x)  # spend grows with frequency: dependence
    with pytest.warns(ClvlensWarning, match="independence assumption is doubtful"):
        model = GammaGamma().fit(x, m)
    assert not model.independence_["holds"] and model.independence_["pearson_r"] > 0.3
    assert model.independence_["p_value"] < 1e-6
    flat = independence_check([1, 2, 3], [5.0, 5.0, 5.0])
    assert flat["pearson_r"] is None and flat["holds"]


def test_units_beyond_days_weeks_months_in_horizons_and_models(cdnow_weeks: dict[str, np.ndarray]) -> None:
    assert parse_horizon("1Q", "M") == pytest.approx(3.0)
    assert parse_horizon("48H", "D") == pytest.approx(2.0)
    assert parse_horizon("4W", "2W") == pytest.approx(2.0)
    assert parse_horizon("1Y", "Q") == pytest.approx(4.0)
    assert parse_horizon("1D", "4H") == pytest.approx(6.0)
    with pytest.raises(ClvlensError, match="time_unit"):
        parse_horizon("1D", "Y")
    x, tx, T = (cdnow_weeks[c] for c in ("frequency", "recency", "T"))
    weekly = BetaGeo(time_unit="W").fit(x, tx, T)
    fortnightly = BetaGeo(time_unit="2W").fit(x, tx / 2, T / 2)
    assert fortnightly.params_["alpha"] == pytest.approx(weekly.params_["alpha"] / 2, rel=1e-5)
    a = weekly.conditional_expected_number_of_purchases_up_to_time("1Q", x[:5], tx[:5], T[:5])
    b = fortnightly.conditional_expected_number_of_purchases_up_to_time("1Q", x[:5], tx[:5] / 2, T[:5] / 2)
    np.testing.assert_allclose(a, b, rtol=1e-4)


def test_p_alive_of_high_frequencies_under_strict_floating_point() -> None:
    model = BetaGeo.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    pareto = ParetoNBD.from_params({"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669})
    with np.errstate(all="raise"):
        for m in (model, ModifiedBetaGeo.from_params(model.params_), pareto):
            p = m.conditional_probability_alive(np.array([1000.0]), np.array([10.0]), np.array([100.0]))
            assert 0.0 <= p[0] <= 1e-300  # 990 weeks of silence after 1000 purchases: dead
            q = m.conditional_probability_alive(np.array([1000.0]), np.array([99.0]), np.array([100.0]))
            assert 0.0 < q[0] <= 1.0


def test_clvlens_error_is_a_value_error() -> None:
    assert issubclass(ClvlensError, ValueError)
    with pytest.raises(ValueError, match="time_unit"):  # code written for lifetimes catches it
        BetaGeo(time_unit="fortnight").fit([1.0, 0.0], [1.0, 0.0], [2.0, 2.0])
