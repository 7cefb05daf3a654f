"""The run's CLV interval is either drawn (and run_info says from how many draws) or explicitly absent."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl

from clvlens.models import BetaGeo
from clvlens.models.selection import fit_candidates, select_model
from clvlens.models.simulate import simulate_bgnbd
from clvlens.pipeline.modeling import FittedModels, ModelSettings, identification_note, score_customers


def _customers(seed: int, n: int, **params: float) -> pl.DataFrame:
    d = simulate_bgnbd(n, T_max=53.0, seed=seed, **params)  # type: ignore[arg-type]
    x = d["frequency"]
    monetary = np.where(x > 0, np.random.default_rng(seed).gamma(3.0, 10.0, n), 0.0)
    return pl.DataFrame({
        "customer_id": [f"C{i}" for i in range(n)], "frequency": x, "recency": d["recency"], "T": d["T"],
        "monetary_value": monetary, "total_value": monetary * (x + 1),
    })


def _fitted(customers: pl.DataFrame, settings: ModelSettings) -> FittedModels:
    x, tx, T = (customers[c].to_numpy().astype(float) for c in ("frequency", "recency", "T"))
    selection = select_model(fit_candidates(x, tx, T, time_unit="W", names=("bgnbd",)))
    return FittedModels(selection.model, None, 25.0, "mean spend", selection, settings, "W")


def test_interval_absent_with_its_reason_when_the_covariance_is_singular():
    customers = _customers(7, 1_500, r=0.5, alpha=6.0, a=0.8, b=3.0)
    fitted = _fitted(customers, ModelSettings(interval_draws=30))
    model: BetaGeo = fitted.transaction_model  # type: ignore[assignment]
    model.fit_result_ = replace(model.fit_result_, covariance_log=None)
    scores = score_customers(customers, fitted)
    assert scores["clv_lower"].null_count() == scores.height  # absent, not the estimate in disguise
    assert scores["clv_upper"].null_count() == scores.height
    assert scores["clv"].null_count() == 0
    assert fitted.interval_note is not None and fitted.interval_note.startswith("not available:")
    assert "singular" in fitted.interval_note


def test_interval_note_counts_the_draws_and_bounds_are_non_negative():
    customers = _customers(8, 1_500, r=0.5, alpha=6.0, a=0.8, b=3.0)
    fitted = _fitted(customers, ModelSettings(interval_draws=30))
    scores = score_customers(customers, fitted)
    assert fitted.interval_note == "90% from 30 parametric-bootstrap draws"
    lower, clv, upper = (scores[c].to_numpy() for c in ("clv_lower", "clv", "clv_upper"))
    assert np.all(lower >= 0) and np.all(lower <= clv) and np.all(clv <= upper)
    assert identification_note(fitted) == "all parameters identified"


def test_ridge_data_say_which_parameters_are_weak_and_how_the_interval_was_drawn():
    customers = _customers(3, 4_300, r=0.88, alpha=10.3, a=0.33, b=250.0)
    x, tx, T = (customers[c].to_numpy().astype(float) for c in ("frequency", "recency", "T"))
    selection = select_model(fit_candidates(x, tx, T, time_unit="W", names=("mbgnbd",)))
    fitted = FittedModels(selection.model, None, 25.0, "mean spend", selection, ModelSettings(interval_draws=30),
                          "W")
    scores = score_customers(customers, fitted)
    note = identification_note(fitted)
    assert note.startswith("weakly identified:") and "no dropout" in note
    assert fitted.interval_note is not None
    if fitted.interval_note.startswith("not available"):
        assert scores["clv_lower"].null_count() == scores.height
    else:
        assert "proposals refused as outside it" in fitted.interval_note
        assert scores["clv_lower"].min() >= 0  # type: ignore[operator]
