"""Standard errors where the likelihood is flat: Pareto/NBD's Hessian from its gradient agrees with the Hessian from
second differences of the likelihood alone, which carries none of the gradient's rounding noise."""

from __future__ import annotations

import numpy as np
import pytest

from clvlens.models import ParetoNBD, _engine
from clvlens.models._base import dedup_rows
from clvlens.models.simulate import simulate_paretonbd


def _weekly_store(n: int, s: float, beta: float, seed: int) -> list[np.ndarray]:
    d = simulate_paretonbd(n, r=0.87, alpha=51.6, s=s, beta=beta, T_max=104.0, seed=seed)
    recency = np.where(d["frequency"] > 0, np.maximum(np.round(d["recency"]), 1.0), 0.0)
    return [d["frequency"], recency, np.maximum(np.round(d["T"]), np.maximum(recency, 1.0))]


def _log_sd_from_the_likelihood(model: ParetoNBD, columns: list[np.ndarray]) -> np.ndarray:
    distinct, _, row_of = dedup_rows(columns)
    objective = _engine._Objective(model, model._prepare(list(distinct), np.bincount(row_of).astype(float)), 0.0)
    objective.analytic = False  # second differences of the likelihood's values, not of its gradient
    phi = np.log([model.params_[name] for name in ParetoNBD._param_names])
    return np.sqrt(np.diag(np.linalg.inv(objective.hessian(phi))))


@pytest.mark.parametrize(("n", "s", "beta", "seed", "flat"), [
    (40_000, 3.0, 378.0, 2, True),  # s and beta barely identified: sd(log s) about 1-3
    (20_000, 5.0, 500.0, 4, False),
])
def test_standard_errors_hold_where_the_likelihood_is_flat(n, s, beta, seed, flat) -> None:
    columns = _weekly_store(n, s, beta, seed)
    model = ParetoNBD().fit(*columns)
    reported = np.sqrt(np.diag(np.array(model.fit_result_.covariance_log)))
    reference = _log_sd_from_the_likelihood(model, columns)
    r, alpha, log_s, log_beta = range(4)
    np.testing.assert_allclose(reported[[r, alpha]], reference[[r, alpha]], rtol=0.05)
    if flat:
        # the flat direction is resolved to a factor of a few either way; forward differences of the gradient
        # reported sd(log s) 0.05 here, fifty times too confident
        assert np.all(reference[[log_s, log_beta]] > 1.0)
        assert np.all(reported[[log_s, log_beta]] > reference[[log_s, log_beta]] / 3)
        assert np.all(reported[[log_s, log_beta]] < reference[[log_s, log_beta]] * 3)
    else:
        np.testing.assert_allclose(reported, reference, rtol=0.01)
