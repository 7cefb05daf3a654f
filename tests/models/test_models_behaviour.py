"""Degenerate data, validation, parameter recovery, properties, persistence, BG/BB and CLV."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clvlens.errors import ClvlensError
from clvlens.models import (
    BetaGeo,
    BetaGeoBetaBinom,
    GammaGamma,
    ModifiedBetaGeo,
    ParetoNBD,
    customer_lifetime_value,
    customer_lifetime_value_interval,
    load_model,
    parse_horizon,
)
from clvlens.models.diagnostics import alive_matrix
from clvlens.models.simulate import simulate_bgnbd, simulate_paretonbd

TRUE = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}


@pytest.fixture(scope="module")
def sim():
    return simulate_bgnbd(20_000, **TRUE, T_max=52.0, seed=7)


@pytest.fixture(scope="module")
def bg_sim(sim):
    return BetaGeo().fit(sim)


def test_recovery_within_three_standard_errors(bg_sim):
    for k, v in TRUE.items():
        se = bg_sim.fit_result_.standard_errors[k]
        assert abs(bg_sim.params_[k] - v) < 3 * se, (k, bg_sim.params_[k], se)
    table = bg_sim.summary()
    lo, hi = table["lower"].to_numpy(), table["upper"].to_numpy()
    inside = [lo[i] <= TRUE[k] <= hi[i] for i, k in enumerate(TRUE)]
    assert sum(inside) >= 3


def test_input_order_does_not_change_fit_or_hash(sim, bg_sim):
    perm = np.random.default_rng(0).permutation(sim["T"].size)
    other = BetaGeo().fit(sim["frequency"][perm], sim["recency"][perm], sim["T"][perm])
    assert other.data_hash_ == bg_sim.data_hash_
    for k in TRUE:
        assert other.params_[k] == pytest.approx(bg_sim.params_[k], rel=1e-6)


@pytest.mark.parametrize(
    ("x", "tx", "T", "field"),
    [
        ([1, np.nan], [1, 1], [2, 2], "frequency: row 1"),
        ([1, 1], [1, -1], [2, 2], "recency: row 1"),
        ([1, 1], [1, 3], [2, 2], "recency: row 1"),
        ([1, 1.5], [1, 1], [2, 2], "frequency: row 1"),
        ([1, 2], [1, 0], [2, 2], "recency: row 1"),
        ([], [], [], "frequency"),
        ([1, 2], [1, 1], [2], "T"),
    ],
)
def test_bad_input_one_line_error(x, tx, T, field):
    with pytest.raises(ClvlensError) as err:
        BetaGeo().fit(np.array(x, dtype=float), np.array(tx, dtype=float), np.array(T, dtype=float))
    msg = str(err.value)
    assert msg.startswith(field) and "\n" not in msg


def test_frame_missing_column_and_bad_settings():
    with pytest.raises(ClvlensError, match="columns"):
        BetaGeo().fit({"frequency": [1], "recency": [1]})
    with pytest.raises(ClvlensError, match="time_unit"):
        BetaGeo(time_unit="Y").fit([1, 0], [1, 0], [2, 2])  # quarters are a unit, years a horizon
    with pytest.raises(ClvlensError, match="not fitted"):
        BetaGeo().conditional_probability_alive(1, 1, 2)


@pytest.mark.parametrize("cls", [BetaGeo, ModifiedBetaGeo, ParetoNBD])
def test_degenerate_data_finite_or_clear_error(cls):
    rng = np.random.default_rng(1)
    T = rng.uniform(1, 40, 300)
    cases = [
        (np.zeros(300), np.zeros(300), T),  # nobody repeats
        (np.array([2.0]), np.array([5.0]), np.array([10.0])),  # one customer
        (np.full(50, 2.0), np.full(50, 5.0), np.full(50, 10.0)),  # all identical
        (np.zeros(20), np.zeros(20), np.zeros(20)),  # T = 0
    ]
    for x, tx, TT in cases:
        for pen in (0.0, 0.1):
            try:
                m = cls(penalizer_coef=pen).fit(x, tx, TT)
            except ClvlensError as exc:
                assert "\n" not in str(exc)
                continue
            assert all(np.isfinite(v) and v > 0 for v in m.params_.values())
            assert np.all(np.isfinite(m.conditional_probability_alive(x, tx, TT)))
            assert np.all(np.isfinite(m.conditional_expected_number_of_purchases_up_to_time(10, x, tx, TT)))


def test_penalized_fit_when_nobody_repeats_is_finite():
    T = np.linspace(1, 40, 200)
    m = BetaGeo(penalizer_coef=0.1).fit(np.zeros(200), np.zeros(200), T)
    assert all(np.isfinite(v) for v in m.params_.values())


def test_huge_frequencies_and_extreme_params_are_finite():
    x = np.array([0, 1, 10_000, 50_000, 200], dtype=float)
    tx = np.array([0, 5, 300, 999.9, 0.5])
    T = np.array([10, 10, 300, 1000, 1000], dtype=float)
    for cls, params in ((BetaGeo, ("r", "alpha", "a", "b")), (ParetoNBD, ("r", "alpha", "s", "beta")),
                        (ModifiedBetaGeo, ("r", "alpha", "a", "b"))):
        for vals in ((0.2, 4.0, 0.8, 2.4), (50.0, 0.01, 30.0, 0.05), (1e-3, 1e3, 1e-2, 1e3)):
            m = cls()
            m.params_ = dict(zip(params, vals, strict=True))
            data = m._prepare([x, tx, T], np.ones(5))
            assert np.all(np.isfinite(m._loglik(np.array(vals), data)))
            pa = m.conditional_probability_alive(x, tx, T)
            assert np.all((pa >= 0) & (pa <= 1))
            assert np.all(np.isfinite(m.conditional_expected_number_of_purchases_up_to_time(52, x, tx, T)))
    # seven customers with near-constant spends do not identify p: finite parameters or one clear error
    try:
        gg = GammaGamma().fit(np.array([1, 2, 3, 5, 8, 1, 2.0]), np.array([1e9, 5e8, 2e9, 1e9, 3e9, 7e8, 1.1e9]))
    except ClvlensError as exc:
        assert "\n" not in str(exc) and "penalizer_coef" in str(exc)
    else:
        assert np.all(np.isfinite(gg.conditional_expected_average_profit([1, 0], [1e9, 0])))


def test_gamma_gamma_is_scale_equivariant_for_huge_spends():
    rng = np.random.default_rng(4)
    n = 800
    x = rng.integers(1, 6, n).astype(float)
    nu = rng.gamma(4.0, 1 / 150.0, n)
    m = np.array([rng.gamma(6.0, 1 / v, int(k)).mean() for v, k in zip(nu, x, strict=True)])
    small = GammaGamma().fit(x, m)
    huge = GammaGamma().fit(x, m * 1e9)
    assert huge.params_["p"] == pytest.approx(small.params_["p"], rel=1e-6)
    assert huge.params_["q"] == pytest.approx(small.params_["q"], rel=1e-6)
    assert huge.params_["gamma"] == pytest.approx(small.params_["gamma"] * 1e9, rel=1e-6)
    spend = huge.conditional_expected_average_profit(x, m * 1e9)
    assert np.all(np.isfinite(spend))
    assert spend == pytest.approx(small.conditional_expected_average_profit(x, m) * 1e9, rel=1e-6)
    # the log-likelihood is of the data as given: rescaling each customer's mean spend shifts it by the
    # Jacobian, log(1e9) per customer
    shift = n * np.log(1e9)
    assert huge.fit_result_.log_likelihood == pytest.approx(small.fit_result_.log_likelihood - shift, rel=1e-9)


def test_pareto_fits_simulated_data():
    d = simulate_paretonbd(5000, 0.55, 10.5, 0.6, 11.7, seed=3)
    m = ParetoNBD().fit(d)
    for k, v in {"r": 0.55, "alpha": 10.5, "s": 0.6, "beta": 11.7}.items():
        assert abs(m.params_[k] - v) < 4 * m.fit_result_.standard_errors[k], k


@settings(max_examples=40, deadline=None)
@given(
    x=st.integers(0, 3000), frac=st.floats(0.0, 1.0), T=st.floats(0.01, 500.0),
    r=st.floats(0.01, 20), alpha=st.floats(0.01, 100), a=st.floats(0.01, 20), b=st.floats(0.01, 20),
)
def test_property_alive_bounds_and_monotone_expectation(x, frac, T, r, alpha, a, b):
    tx = 0.0 if x == 0 else max(frac * T, 1e-6)
    ts = np.array([0.0, 1.0, 5.0, 20.0, 100.0])
    for cls in (BetaGeo, ModifiedBetaGeo, ParetoNBD):
        m = cls.from_params(dict(zip(cls._param_names, (r, alpha, a, b), strict=True)))
        pa = m.conditional_probability_alive(x, tx, T)
        assert np.all(np.isfinite(pa)) and 0.0 <= pa[0] <= 1.0
        later = m.conditional_probability_alive_at(ts, np.full(ts.size, x), np.full(ts.size, tx), np.full(ts.size, T))
        assert later[0] == pytest.approx(pa[0], rel=1e-9, abs=1e-300)
        assert np.all(np.diff(later) <= 1e-12) and np.all((later >= 0) & (later <= 1))
        e = np.array([m.conditional_expected_number_of_purchases_up_to_time(t, x, tx, T)[0] for t in ts])
        assert np.all(np.isfinite(e)) and e[0] == pytest.approx(0.0, abs=1e-9)
        assert np.all(np.diff(e) >= -1e-9 * np.maximum(1.0, e[1:]))


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 40), x_frac=st.floats(0.0, 1.0), tx_frac=st.floats(0.0, 1.0),
    alpha=st.floats(0.01, 20), beta=st.floats(0.01, 20), gamma=st.floats(0.01, 20), delta=st.floats(0.01, 20),
)
def test_property_bgbb_bounds_and_monotone(n, x_frac, tx_frac, alpha, beta, gamma, delta):
    tx = round(tx_frac * n)
    x = round(x_frac * tx) if tx > 0 else 0
    x = max(x, 1) if tx > 0 else 0  # a last purchase at t_x > 0 means at least one purchase
    m = BetaGeoBetaBinom.from_params({"alpha": alpha, "beta": beta, "gamma": gamma, "delta": delta})
    steps = np.arange(0, 8)
    alive = m.conditional_probability_alive_at(steps, np.full(8, x), np.full(8, tx), np.full(8, n))
    assert np.all(np.isfinite(alive)) and np.all((alive >= 0) & (alive <= 1)) and np.all(np.diff(alive) <= 1e-12)
    e = m.conditional_expected_number_of_purchases_up_to_time(steps, np.full(8, x), np.full(8, tx), np.full(8, n))
    assert np.all(np.isfinite(e)) and e[0] == pytest.approx(0.0, abs=1e-12) and np.all(np.diff(e) >= -1e-12)
    pmf = m.probability_of_n_purchases_up_to_time(n, np.arange(n + 1))
    assert pmf.sum() == pytest.approx(1.0, abs=1e-9)


@pytest.fixture(scope="module")
def cdnow_models(cdnow_spend):
    s = {"frequency": cdnow_spend["x"], "recency": cdnow_spend["t_x"], "T": cdnow_spend["T"],
         "monetary_value": cdnow_spend["zbar"]}
    pos = s["frequency"] > 0
    return s, BetaGeo().fit(s), GammaGamma().fit(s["frequency"][pos], s["monetary_value"][pos])


@settings(max_examples=25, deadline=None)
@given(m1=st.floats(0.05, 1.0), dm=st.floats(0.01, 1.0), d1=st.floats(0.0, 0.5), dd=st.floats(0.01, 0.5),
       cont=st.booleans())
def test_property_clv_monotone_in_margin_and_rate(cdnow_models, m1, dm, d1, dd, cont):
    s, bg, gg = cdnow_models
    sub = {k: v[:50] for k, v in s.items()}
    kw = {"horizon": "12M", "discounting": "continuous" if cont else "period"}
    base = customer_lifetime_value(bg, gg, sub, margin=m1, discount_rate=d1, **kw)
    more_margin = customer_lifetime_value(bg, gg, sub, margin=m1 + dm, discount_rate=d1, **kw)
    higher_rate = customer_lifetime_value(bg, gg, sub, margin=m1, discount_rate=d1 + dd, **kw)
    assert np.all(more_margin > base) and np.all(higher_rate < base)


def test_clv_horizon_and_intervals(cdnow_models):
    s, bg, gg = cdnow_models
    assert parse_horizon("12M", "W") == pytest.approx(365.25 / 7)
    assert parse_horizon("52W", "D") == 364
    assert parse_horizon("365D", "M") == pytest.approx(365 / (365.25 / 12))
    assert parse_horizon("6M", "M") == 6
    with pytest.raises(ClvlensError, match="horizon"):
        parse_horizon("12 months", "W")
    sub = {k: v[:20] for k, v in s.items()}
    undiscounted = customer_lifetime_value(bg, 1.0, sub, horizon="39W", period="1W", discount_rate=0.0)
    e = bg.conditional_expected_number_of_purchases_up_to_time(39, sub)
    np.testing.assert_allclose(undiscounted, e, rtol=1e-10)
    clv = customer_lifetime_value(bg, gg, sub, horizon="12M", margin=0.3)
    lo, hi = customer_lifetime_value_interval(bg, gg, sub, horizon="12M", margin=0.3, n_draws=100, seed=1)
    assert np.all(lo <= clv) and np.all(clv <= hi)
    lo2, hi2 = bg.conditional_expected_number_of_purchases_interval(39, sub, level=0.9, n_draws=200)
    assert np.all(lo2 <= e + 1e-12) and np.all(e <= hi2 + 1e-12)


def test_json_round_trip(cdnow, cdnow_models, tmp_path):
    s, bg, gg = cdnow_models
    for m in (bg, gg, ParetoNBD().fit(cdnow), ModifiedBetaGeo(time_unit="W").fit(cdnow)):
        text = m.to_json()
        d = json.loads(text)
        assert d["model"] == type(m).__name__ and len(d["data_sha256"]) == 64 and "clvlens_version" in d
        m2 = load_model(text)
        assert m2.params_ == m.params_
        path = tmp_path / "m.json"
        m.to_json(str(path))
        m3 = type(m).from_json(str(path))
        if isinstance(m, GammaGamma):
            pos = s["frequency"] > 0
            args = (s["frequency"][pos], s["monetary_value"][pos])
            np.testing.assert_array_equal(m3.conditional_expected_average_profit(*args),
                                          m.conditional_expected_average_profit(*args))
            continue
        np.testing.assert_array_equal(m3.conditional_probability_alive(cdnow),
                                      m.conditional_probability_alive(cdnow))
        np.testing.assert_array_equal(m3.conditional_expected_number_of_purchases_up_to_time(39, cdnow),
                                      m.conditional_expected_number_of_purchases_up_to_time(39, cdnow))
    with pytest.raises(ClvlensError):
        load_model('{"model": "Nope"}')


def _donations():
    lifetimes = pytest.importorskip("lifetimes", reason="donations data ships with lifetimes")
    path = os.path.join(os.path.dirname(lifetimes.__file__), "datasets", "donations.csv")
    d = np.genfromtxt(path, delimiter=",", names=True)
    w = d["weights"].astype(int)
    return tuple(np.repeat(d[c].astype(float), w) for c in ("frequency", "recency", "periods"))


def test_bgbb_donations_matches_fader_hardie_shang_2010():
    x, tx, n = _donations()
    m = BetaGeoBetaBinom().fit(x, tx, n)
    for k, v in {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}.items():
        assert m.params_[k] == pytest.approx(v, rel=2e-3), k
    assert m.fit_result_.log_likelihood == pytest.approx(-33225.6, abs=0.1)
    pa = m.conditional_probability_alive(x, tx, n)
    assert np.all((pa >= 0) & (pa <= 1))
    e = m.conditional_expected_number_of_purchases_up_to_time(5, x, tx, n)
    assert np.all(np.isfinite(e)) and np.all(e >= 0)
    assert np.all(np.diff(m.expected_number_of_purchases_up_to_time(np.arange(0, 12))) > 0)
    with pytest.raises(ClvlensError, match="frequency: row 0"):
        BetaGeoBetaBinom().fit([3.0], [2.0], [6.0])


def test_alive_matrix_and_plots(bg_sim):
    from clvlens.charts import model_plots as plots
    from clvlens.models.diagnostics import frequency_pmf

    am = alive_matrix(bg_sim, 10, 52.0)
    assert am["p_alive"].shape == (11, 50) and np.all((am["p_alive"] >= 0) & (am["p_alive"] <= 1))
    fig = plots.plot_alive_matrix(am)
    assert len(fig.data) == 1
    pmf = frequency_pmf(bg_sim, np.array([0.0, 1, 2]), np.array([10.0, 20, 30]))
    assert len(plots.plot_frequency_pmf(pmf).data) == 2
    cal = {"frequency": np.arange(3), "actual": np.ones(3), "predicted": np.ones(3)}
    assert len(plots.plot_calibration_vs_holdout(cal).data) == 2
    tr = {"time": np.arange(3), "expected_cumulative": np.arange(3), "expected_incremental": np.ones(3)}
    assert len(plots.plot_tracking(tr).data) == 1 and len(plots.plot_tracking(tr, cumulative=False).data) == 1


def test_probability_alive_at_a_future_time_matches_integration():
    from scipy import integrate, stats

    bg = BetaGeo()
    bg.params_ = {"r": 0.24, "alpha": 4.4, "a": 0.79, "b": 2.43}
    pareto = ParetoNBD()
    pareto.params_ = {"r": 0.55, "alpha": 10.6, "s": 0.61, "beta": 11.7}
    x, tx, T, t = 3.0, 20.0, 38.0, 26.0
    r, alpha, a, b = bg.params_.values()
    # survival after T: dropout time is exponential with rate lambda p, lambda ~ Gamma(r+x, alpha+T), p ~ Beta(a, b+x)
    factor = integrate.quad(
        lambda q: stats.beta.pdf(q, a, b + x) * ((alpha + T) / (alpha + T + q * t)) ** (r + x), 0, 1
    )[0]
    now = bg.conditional_probability_alive(x, tx, T)
    assert bg.conditional_probability_alive_at(t, x, tx, T) == pytest.approx(now * factor, rel=1e-8)
    s, beta = pareto.params_["s"], pareto.params_["beta"]
    factor = integrate.quad(lambda mu: stats.gamma.pdf(mu, s, scale=1 / (beta + T)) * np.exp(-mu * t), 0, np.inf)[0]
    now = pareto.conditional_probability_alive(x, tx, T)
    assert pareto.conditional_probability_alive_at(t, x, tx, T) == pytest.approx(now * factor, rel=1e-7)
    # at t = 0 it is P(alive) now, and it falls with the horizon
    for model in (bg, pareto):
        grid = model.conditional_probability_alive_at(np.array([0.0, 4, 13, 52, 520]), x, tx, T)
        assert grid[0] == pytest.approx(model.conditional_probability_alive(x, tx, T))
        assert np.all(np.diff(grid) < 0)


def test_linearised_clv_interval_agrees_with_the_bootstrap(cdnow_models):
    # CDNOW's 2,357 customers: the draws' spread is largest here, so this is the hard case for the expansion
    cdnow, bg, gg = cdnow_models
    kw = {"horizon": "12M", "margin": 0.3, "n_draws": 200, "seed": 4}
    clv = customer_lifetime_value(bg, gg, cdnow, horizon="12M", margin=0.3)
    boot = customer_lifetime_value_interval(bg, gg, cdnow, method="bootstrap", **kw)
    linear = customer_lifetime_value_interval(bg, gg, cdnow, method="linear", **kw)
    width = np.maximum(boot[1] - boot[0], 1e-9)
    for b, lin in zip(boot, linear, strict=True):
        gap = np.abs(lin - b) / width
        # 200 draws put about 5% of the width of Monte Carlo noise on each bootstrap quantile
        assert np.median(gap) < 0.05 and np.quantile(gap, 0.95) < 0.1
    assert np.all(linear[0] <= clv + 1e-9) and np.all(clv <= linear[1] + 1e-9)
    # "auto" is the full bootstrap at this size, and the expansion beyond five million customer-draws
    auto = customer_lifetime_value_interval(bg, gg, cdnow, **kw)
    np.testing.assert_array_equal(auto[0], boot[0])
    with pytest.raises(ClvlensError, match="method"):
        customer_lifetime_value_interval(bg, gg, cdnow, method="exact", **kw)


def test_model_from_known_parameters_predicts_and_says_what_it_cannot(cdnow, tmp_path):
    fitted = BetaGeo().fit(cdnow)
    known = BetaGeo.from_params(fitted.params_)
    sub = {k: v[:50] for k, v in cdnow.items()}
    np.testing.assert_array_equal(known.conditional_probability_alive(sub), fitted.conditional_probability_alive(sub))
    np.testing.assert_array_equal(known.conditional_expected_number_of_purchases_up_to_time(39, sub),
                                  fitted.conditional_expected_number_of_purchases_up_to_time(39, sub))
    assert np.isnan(known.summary()["std_error"].astype(float)).all()
    with pytest.raises(ClvlensError, match="built from parameters"):
        known.conditional_expected_number_of_purchases_interval(39, sub)
    # saved and loaded as parameters alone
    again = load_model(known.to_json(str(tmp_path / "known.json")))
    assert type(again) is BetaGeo and again.params_ == known.params_
    # the published CDNOW Gamma-Gamma parameters (Fader & Hardie 2013), used without a fit
    gg = GammaGamma.from_params({"p": 6.25, "q": 3.74, "gamma": 15.44})
    assert gg.conditional_expected_average_profit(np.array([1.0]), np.array([10.0]))[0] > 10.0
    for bad, message in (({"r": 1.0}, "takes exactly"), ({"r": 1, "alpha": 1, "a": 1, "b": -2}, "b = -2"),
                         ({"r": 1, "alpha": "x", "a": 1, "b": 1}, "alpha")):
        with pytest.raises(ClvlensError, match=message):
            BetaGeo.from_params(bad)


@pytest.mark.parametrize("cls", [BetaGeo, ModifiedBetaGeo])
def test_expectations_at_removable_singularities_and_scalar_inputs(cls):
    # a + b = 1 makes the closed form 0 x 2F1(...; 0; z) for a customer with no repeat purchase, a = 1 divides
    # by a - 1: both are removable, so the values must sit between their neighbours; scalars give scalars
    t = np.array([1.0, 5.0, 20.0])

    def expected(a: float, b: float) -> np.ndarray:
        return cls.from_params({"r": 1.0, "alpha": 1.0, "a": a, "b": b}).expected_number_of_purchases_up_to_time(t)

    for a, b in ((0.5, 0.5), (1.0, 2.0)):
        at, below, above = expected(a, b), expected(a, b - 1e-5), expected(a, b + 1e-5)
        assert np.all(np.isfinite(at))
        assert np.all((np.minimum(below, above) - 1e-9 <= at) & (at <= np.maximum(below, above) + 1e-9))
    published = cls.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    scalar = published.expected_number_of_purchases_up_to_time(1.0)
    assert np.ndim(scalar) == 0 and 0 < scalar < 1


def test_a_frequency_in_the_billions_does_not_exhaust_memory():
    # the per-frequency table once had an entry for every count up to the largest: 40 GB for this input
    x = np.array([0.0, 1.0, 3.0, 5e9])
    tx, T = np.array([0.0, 2.0, 10.0, 50.0]), np.full(4, 52.0)
    for cls in (BetaGeo, ModifiedBetaGeo, ParetoNBD):
        try:
            model = cls(penalizer_coef=0.01).fit(x, tx, T)
        except ClvlensError:
            continue
        assert np.all(np.isfinite(model.conditional_probability_alive(x, tx, T)))


def test_prediction_horizons_as_lengths_and_bad_arguments_as_one_line_errors():
    bg = BetaGeo.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}, time_unit="W")
    x, tx, T = np.array([2.0]), np.array([30.43]), np.array([38.86])
    # "39W" is 39 weeks for a weekly model, "273D" the same length in days
    for horizon in ("39W", "273D"):
        assert bg.conditional_expected_number_of_purchases_up_to_time(horizon, x, tx, T)[0] == pytest.approx(
            bg.conditional_expected_number_of_purchases_up_to_time(39, x, tx, T)[0]
        )
    bb = BetaGeoBetaBinom.from_params({"alpha": 1.2, "beta": 0.75, "gamma": 0.66, "delta": 2.8})
    gg = GammaGamma.from_params({"p": 6.25, "q": 3.74, "gamma": 15.44})
    calls = [
        (lambda: bg.probability_of_n_purchases_up_to_time(10, ["x"]), "n"),
        (lambda: bg.conditional_probability_alive_at([None], x, tx, T), "t"),
        (lambda: bg.expected_number_of_purchases_up_to_time("soon"), "horizon"),
        (lambda: bb.conditional_probability_alive([0.0, None], [0.0, 0.0], [0.0, 0.0]), "frequency"),
        (lambda: bb.conditional_expected_number_of_purchases_up_to_time("12M", x, tx, T), "t"),
        (lambda: customer_lifetime_value(bg, gg, x, tx, T, monetary_value=x, margin="most"), "margin"),
        (lambda: customer_lifetime_value(bg, gg, x, tx, T, monetary_value=x, discount_rate="ten"), "discount_rate"),
    ]
    for call, field in calls:
        with pytest.raises(ClvlensError, match=field):
            call()
