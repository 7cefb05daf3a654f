"""The run's CLV interval is either drawn (and run_info says from how many draws) or explicitly absent."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl
import pytest

from clvlens.models import BetaGeo, interval_method
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


@pytest.mark.parametrize(("draws", "method"), [(60, "bootstrap"), (250, "linear")])
def test_the_interval_drawn_apart_equals_the_one_scored_with_the_customers(cdnow_master, draws, method) -> None:
    """A run draws the CLV interval on a second thread, after the point scores and their seasonal factor: on CDNOW
    (Pareto/NBD with Gamma-Gamma; 23,570 customers x 250 draws take the linearised interval) the bounds are those
    score_customers gives, scaled by the factor afterwards, to the bit; and they are placed right after clv."""
    from datetime import datetime

    from clvlens.data import load_source
    from clvlens.pipeline.modeling import fit_models
    from clvlens.pipeline.refresh import btyd_interval, with_interval
    from clvlens.pipeline.run import build_customer_table, observed_until
    from clvlens.pipeline.values import apply_seasonality

    end = datetime(1998, 6, 30)
    transactions = load_source(str(cdnow_master), format="cdnow").transactions
    customers = build_customer_table(transactions, "W", end)
    settings = ModelSettings(models=("paretonbd",), holdout="bic", interval_draws=draws)
    fitted = fit_models(observed_until(transactions, end), customers, time_unit="W", observation_end=end,
                        settings=settings)
    factor = 1.0 + 1 / 7  # a seasonal factor
    whole = apply_seasonality(score_customers(customers, fitted), factor)
    points = apply_seasonality(score_customers(customers, fitted, interval=False), factor)
    assert "clv_lower" not in points.columns
    scored = customers.join(points, on="customer_id", how="left").with_columns(pl.lit(1).alias("later"))
    apart = with_interval(scored, btyd_interval(scored, fitted, factor))
    assert apart.columns == [*customers.columns, *whole.columns[1:], "later"]
    for column in whole.columns:
        assert apart[column].equals(whole[column]), column
    assert interval_method("auto", customers.height, draws) == method
    assert whole["clv_lower"].null_count() == 0 and (whole["clv_lower"] < whole["clv_upper"]).mean() > 0.9
