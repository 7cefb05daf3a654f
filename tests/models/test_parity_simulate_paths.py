"""New data from any fitted model (lifetimes ``generate_new_data``) and one customer's P(alive) path
(lifetimes ``calculate_alive_path``), checked against the models' own closed forms and published parameters."""

from __future__ import annotations

import numpy as np
import pytest

from clvlens.errors import ClvlensError
from clvlens.models import BetaGeo, BetaGeoBetaBinom, GammaGamma, ModifiedBetaGeo, ParetoNBD
from clvlens.models.alive_path import alive_path
from clvlens.models.diagnostics import tracking
from clvlens.models.simulate import generate_new_data

# published CDNOW (weeks) and donation (opportunities) estimates: FHL 2005, Batislam et al. 2007 as refitted in
# the clvlens reference tests, Fader & Hardie 2005 note, Fader, Hardie & Shang 2010 table 1, Fader & Hardie 2013
BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
MBGNBD = {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}
PARETO = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
BGBB = {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}
GG = {"p": 6.25, "q": 3.74, "gamma": 15.44}


@pytest.mark.parametrize(("cls", "params"), [(BetaGeo, BGNBD), (ModifiedBetaGeo, MBGNBD), (ParetoNBD, PARETO)])
def test_simulated_purchases_match_the_closed_form_and_refit(cls: type, params: dict[str, float]) -> None:
    model = cls.from_params(params)
    T = np.tile(np.linspace(27.0, 39.0, 200), 150)  # CDNOW's range of ages, 30,000 customers
    data = generate_new_data(model, T, seed=11)
    assert set(data) >= {"frequency", "recency", "T", "rate", "dropout", "alive"}
    assert np.all(data["recency"] <= data["T"]) and np.all((data["frequency"] == 0) == (data["recency"] == 0))
    expected = model.expected_number_of_purchases_up_to_time(T)
    spread = data["frequency"].std() / np.sqrt(T.size)
    assert abs(data["frequency"].mean() - expected.mean()) < 4 * spread
    refit = cls(time_unit="W").fit(data["frequency"], data["recency"], data["T"])
    assert refit.params_["r"] == pytest.approx(params["r"], rel=0.15)
    assert generate_new_data(model, T[:50], seed=3)["frequency"].tolist() == \
        generate_new_data(model, T[:50], seed=3)["frequency"].tolist()  # seeded: reproducible


def test_bgbb_and_gamma_gamma_simulations_match_their_means() -> None:
    bgbb = BetaGeoBetaBinom.from_params(BGBB)
    data = generate_new_data(bgbb, np.full(40_000, 6.0), seed=5)
    assert np.all(data["frequency"] <= data["recency"]) and np.all(data["recency"] <= 6)
    assert data["frequency"].mean() == pytest.approx(float(bgbb.expected_number_of_purchases_up_to_time(6)),
                                                     abs=4 * data["frequency"].std() / 200)
    gg = GammaGamma.from_params(GG)
    spend = generate_new_data(gg, None, frequency=np.tile([1.0, 2, 3, 5, 8], 8_000), seed=6)
    assert spend["monetary_value"].mean() == pytest.approx(gg.population_mean_spend(), rel=0.03)
    with pytest.raises(ClvlensError, match="frequency"):
        generate_new_data(gg, None, frequency=[0, 1])
    with pytest.raises(ClvlensError, match="not fitted"):
        generate_new_data(BetaGeo(), [1.0])


def test_alive_path_steps_with_each_purchase() -> None:
    model = BetaGeo.from_params(BGNBD)
    path = alive_path(model, [3.0, 5.0, 8.0], np.arange(0.0, 20.0))  # first purchase at 3: ages from there
    assert path["frequency"].tolist() == [0, 0, 1, 1, 1, 2] + [2] * 14
    assert path["recency"][5] == 5.0 and path["recency"][2] == 2.0
    direct = model.conditional_probability_alive(path["frequency"], path["recency"], path["age"])
    np.testing.assert_array_equal(path["p_alive"], direct)
    assert np.all(path["p_alive"][:2] == 1.0)  # BG/NBD: no repeat purchase, never dead
    decays = np.diff(path["p_alive"][5:])
    assert np.all(decays < 0) and path["p_alive"][5] > path["p_alive"][4]  # jumps at the purchase, then decays
    with pytest.raises(ClvlensError, match="ages"):
        alive_path(model, [0.0], [3.0, 1.0])


def test_tracking_counts_a_purchase_at_a_period_start_in_the_next_period() -> None:
    model = BetaGeo.from_params(BGNBD)
    starts = tracking(model, [0.0], 3.0, repeat_purchase_times=[1.0, 1.5, 2.0])
    # day-start times: the purchase at 1.0 happened during [1, 2), after the row that ends at time 1
    assert starts["actual_cumulative"].tolist() == [0.0, 2.0, 3.0]
    ends = tracking(model, [0.0], 3.0, repeat_purchase_times=[1.0, 1.5, 2.0], times_are="end")
    assert ends["actual_cumulative"].tolist() == [1.0, 3.0, 3.0]
