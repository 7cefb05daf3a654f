"""Reproduce the published CDNOW numbers in /work/shared/reference/cdnow.md."""

from __future__ import annotations

import numpy as np
import pytest

from clvlens.models import BetaGeo, GammaGamma, ModifiedBetaGeo, ParetoNBD
from clvlens.models.diagnostics import calibration_vs_holdout, frequency_pmf, tracking


def _rel(a: float, b: float) -> float:
    return abs(a - b) / abs(b)


@pytest.fixture(scope="module")
def bg(cdnow):
    return BetaGeo().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])


@pytest.fixture(scope="module")
def pnbd(cdnow):
    return ParetoNBD().fit(cdnow)


def test_bgnbd_params_and_loglik(bg):
    ref = {"r": 0.2426, "alpha": 4.4136, "a": 0.7929, "b": 2.4259}
    for k, v in ref.items():
        assert _rel(bg.params_[k], v) < 0.005, k
    assert abs(bg.fit_result_.log_likelihood - (-9582.43)) < 0.05
    assert bg.fit_result_.converged and bg.fit_result_.n_customers == 2357


def test_bgnbd_expectations(bg):
    e = bg.conditional_expected_number_of_purchases_up_to_time(39, 2, 30.43, 38.86)
    assert e[0] == pytest.approx(1.226, abs=1e-3)
    t = np.array([0.1429, 1, 3, 31.86, 32, 78])
    ref = np.array([0.0078, 0.0532, 0.1506, 1.0405, 1.0437, 1.8576])
    # Ours at the MLE agree to 0.05% (1.8580 against 1.8576 at 78 weeks); the published parameters, rounded to
    # three decimals, give 1.8605, so rounding does not explain the small gap.
    np.testing.assert_allclose(bg.expected_number_of_purchases_up_to_time(t), ref, rtol=5e-4, atol=6e-5)


def test_pareto_params_loglik_and_se(pnbd):
    ref = {"r": 0.5532, "alpha": 10.5776, "s": 0.6062, "beta": 11.6690}
    for k, v in ref.items():
        assert _rel(pnbd.params_[k], v) < 0.005, k
    assert abs(pnbd.fit_result_.log_likelihood - (-9594.97)) < 0.05
    se = {"r": 0.0476, "alpha": 0.843, "s": 0.187, "beta": 6.21}
    for k, v in se.items():
        assert _rel(pnbd.fit_result_.standard_errors[k], v) < 0.01, k


def test_pareto_single_customer(pnbd):
    assert pnbd.conditional_expected_number_of_purchases_up_to_time(52, 26, 30.86, 31)[0] == pytest.approx(
        25.46, abs=0.01)
    assert pnbd.conditional_probability_alive(26, 30.86, 31)[0] == pytest.approx(0.9979, abs=1e-4)
    assert float(pnbd.expected_number_of_purchases_up_to_time(52)) == pytest.approx(1.4734, abs=1e-4)


def test_mbgnbd_reference(cdnow):
    m = ModifiedBetaGeo().fit(cdnow)
    ref = {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}
    for k, v in ref.items():
        assert _rel(m.params_[k], v) < 0.005, k
    assert abs(m.fit_result_.log_likelihood - (-9582.13)) < 0.05


def test_gamma_gamma_reference(cdnow_spend):
    pos = cdnow_spend["x"] > 0
    gg = GammaGamma().fit(cdnow_spend["x"][pos], cdnow_spend["zbar"][pos])
    assert pos.sum() == 946
    for k, v in {"p": 6.25, "q": 3.74, "gamma": 15.44}.items():
        assert _rel(gg.params_[k], v) < 0.005, k
    assert abs(gg.fit_result_.log_likelihood - (-4055.92)) < 0.05


def test_holdout_sums(cdnow, cdnow_holdout, bg, pnbd):
    np.testing.assert_array_equal(cdnow_holdout["id"], cdnow["ID"])
    hold = cdnow_holdout["holdout"]
    assert hold.sum() == 1882
    assert cdnow["frequency"].sum() == 2457 and (cdnow["frequency"] == 0).sum() == 1411
    e_bg = bg.conditional_expected_number_of_purchases_up_to_time(39, cdnow)
    e_p = pnbd.conditional_expected_number_of_purchases_up_to_time(39, cdnow)
    assert e_bg.sum() == pytest.approx(1653.9, abs=1.0)
    assert e_p.sum() == pytest.approx(1665.7, abs=1.0)
    zero = cdnow["frequency"] == 0
    assert hold[zero].mean() == pytest.approx(0.237, abs=1e-3)
    assert e_bg[zero].mean() == pytest.approx(0.225, abs=1e-3)
    assert e_p[zero].mean() == pytest.approx(0.138, abs=1e-3)
    assert np.corrcoef(e_bg, hold)[0, 1] == pytest.approx(0.626, abs=2e-3)
    assert np.corrcoef(e_p, hold)[0, 1] == pytest.approx(0.630, abs=2e-3)
    cal = calibration_vs_holdout(bg, cdnow["frequency"], cdnow["recency"], cdnow["T"], hold, 39.0)
    assert cal["count"].sum() == 2357 and np.all(np.isfinite(cal["predicted"]))


def test_tracking_and_pmf(cdnow, cdnow_holdout, bg, pnbd):
    tr = tracking(bg, cdnow_holdout["first_week"], 78.0, repeat_purchase_times=cdnow_holdout["repeat_week"])
    assert tr["actual_cumulative"][-1] == 4339
    assert tr["expected_cumulative"][-1] == pytest.approx(4166, rel=0.003)
    assert tracking(pnbd, cdnow_holdout["first_week"], 78.0)["expected_cumulative"][-1] == pytest.approx(
        4269, rel=0.003)
    assert np.all(np.diff(tr["expected_cumulative"]) >= 0)
    pmf = frequency_pmf(bg, cdnow["frequency"], cdnow["T"])
    assert pmf["observed"].sum() == 2357 and pmf["expected"].sum() == pytest.approx(2357)
    assert pmf["expected"][0] == pytest.approx(1411, rel=0.02)
