"""Pareto/NBD's analytic gradient: its value is the likelihood's own sum to the bit, its derivatives are those of
that sum (central differences), and a fit that uses it (in its quasi-Newton steps and its standard errors) lands
where forward differences land."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from clvlens.models import ParetoNBD
from clvlens.models._hyp2f1 import Z_SERIES, log_hyp2f1_one
from clvlens.models._pareto_likelihood import log_hyp2f1_one_and_gradient

#: (r, alpha, s, beta): CDNOW's optimum, both branches (alpha >= beta and alpha < beta), and alpha far above beta,
#: where many pairs have z above 0.75 (the connection formula and the continued fraction, not the series)
POINTS = ((0.55, 10.5, 0.6, 11.7), (0.9, 53.0, 0.8, 65.0), (0.5, 10.0, 3.0, 400.0), (2.0, 1.0, 0.1, 100.0),
          (1.0, 300.0, 2.0, 5.0))


@pytest.fixture(scope="module")
def customers(cdnow_master: Path) -> tuple[np.ndarray, ...]:
    from clvlens.data import load_source
    from clvlens.pipeline.run import build_customer_table

    table = build_customer_table(load_source(str(cdnow_master), format="cdnow").transactions, "D", None)
    return tuple(table[c].to_numpy().astype(float) for c in ("frequency", "recency", "T"))


def _total(model: ParetoNBD, theta: np.ndarray, data: dict) -> float:
    return float(np.sum(data["w"] * model._loglik(theta, data)))


@pytest.mark.parametrize("grouped", [True, False])
def test_value_is_the_likelihood_sum_and_the_gradient_its_derivative(customers, grouped: bool,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from clvlens.models import paretonbd

    if not grouped:  # every row its own unit (no gather from units back to rows)
        monkeypatch.setattr(paretonbd, "_GROUP_SHARE", 0.0)
    model = ParetoNBD(time_unit="D")
    data = model._prepare(list(customers), np.ones(customers[0].size))
    assert (data["at_unit"] is not None) == grouped
    t = data["pairs"][1]
    for point in POINTS:
        theta = np.array(point)
        total, gradient = model._loglik_grad(theta, data)
        assert total == _total(model, theta, data)  # the same operations in the same order
        numeric = np.empty(4)
        for i in range(4):
            step = np.zeros(4)
            step[i] = 1e-6 * theta[i]
            numeric[i] = (_total(model, theta + step, data) - _total(model, theta - step, data)) / (2 * step[i])
        # central differences of a sum of ~1e5 terms are good to about 1e-7 of the gradient's scale
        scale = np.abs(numeric) + 1e-4 * abs(total) / theta
        np.testing.assert_array_less(np.abs(gradient - numeric), 1e-6 * scale)
    high = (1.0, 300.0, 2.0, 5.0)
    assert np.any(np.abs(high[1] - high[3]) / (high[1] + t) > Z_SERIES)  # the last point leaves the series


def test_series_derivatives_match_differences_of_the_function() -> None:
    rng = np.random.default_rng(7)
    b = rng.uniform(0.05, 40.0, 4000)
    c = b + rng.uniform(0.01, 60.0, b.size)
    z = rng.uniform(0.0, 0.999, b.size)
    value, d_b, d_c, d_z = log_hyp2f1_one_and_gradient(b, c, z)
    assert np.array_equal(value, log_hyp2f1_one(b, c, z, exact=False))
    for derivative, shift in ((d_b, (1, 0, 0)), (d_c, (0, 1, 0)), (d_z, (0, 0, 1))):
        h = 1e-5 * np.array([np.maximum(b, 1.0), np.maximum(c, 1.0), 1.0 - z])[np.argmax(shift)]
        up = log_hyp2f1_one(b + h * shift[0], c + h * shift[1], z + h * shift[2], exact=False)
        down = log_hyp2f1_one(b - h * shift[0], c - h * shift[1], z - h * shift[2], exact=False)
        np.testing.assert_allclose(derivative, (up - down) / (2 * h), rtol=1e-5, atol=1e-7)


def test_fit_with_the_gradient_lands_where_differences_land(customers, monkeypatch: pytest.MonkeyPatch) -> None:
    analytic = ParetoNBD(time_unit="D").fit(*customers)
    monkeypatch.setattr(ParetoNBD, "_analytic_gradient", False)
    differences = ParetoNBD(time_unit="D").fit(*customers)
    assert analytic.fit_result_.gradient_norm < 1e-5
    assert analytic.fit_result_.log_likelihood == pytest.approx(differences.fit_result_.log_likelihood, abs=1e-4)
    # both take the standard errors' Hessian from second differences of the likelihood's values, which its
    # gradient's rounding noise would swamp where the likelihood is flat (tests/models/test_standard_errors.py)
    for name in ParetoNBD._param_names:
        assert analytic.params_[name] == pytest.approx(differences.params_[name], rel=1e-4), name
        assert analytic.fit_result_.standard_errors[name] == pytest.approx(
            differences.fit_result_.standard_errors[name], rel=1e-3), name
