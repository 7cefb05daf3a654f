"""Every value of a run from its models and settings, in one place, so that `run` and the single steps (`fit`,
`score`, `ml train`, `evaluate`) produce the same tables on the same basis.

- :func:`btyd_values`: the BTYD scores of every customer with the seasonal factor applied where one can be
  estimated (:mod:`clvlens.pipeline.values`), plus the run_info notes;
- :func:`ml_values`: the ML LTV forecast, calibrated, with the margin applied;
- :func:`value_strategy`: the strategy tables on the run's value basis;
- :func:`value_info`: the run_info keys stating the settings and the basis of every value.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import polars as pl

from clvlens.analytics.kpis import ValueBasis
from clvlens.errors import ClvlensError
from clvlens.ml import TrainedLTV, predict_ltv
from clvlens.models import parse_horizon
from clvlens.models.seasonality import SeasonalIndex
from clvlens.pipeline.learning import calibrate_ltv
from clvlens.pipeline.modeling import FittedModels, ModelSettings, clv_interval_columns, score_customers
from clvlens.pipeline.values import (
    apply_seasonality,
    btyd_window_total,
    estimate_seasonality,
    seasonal_factor,
    value_basis,
)

STRATEGY_COLUMNS = ("rfm_r", "rfm_f", "rfm_m", "rfm_segment", "value_segment")


def btyd_values(
    observed: pl.DataFrame, customers: pl.DataFrame, fitted: FittedModels, *, observation_end: datetime,
    season: SeasonalIndex | None, season_note: str, interval: bool = True,
) -> tuple[pl.DataFrame, dict[str, str], float]:
    """(scores, run_info notes, seasonal factor): score_customers with the seasonal factor of the horizon
    (``interval=False``: without the CLV interval, which :func:`btyd_interval` then gives).

    The notes hold ``seasonality`` in words and ``seasonal_factor`` as a number (1 when none was applied), so that
    a rescore of the saved models (the what-if) reproduces the saved values."""
    scores = score_customers(customers, fitted, interval=interval)
    if season is None:
        return scores, {"seasonality": f"not applied: {season_note}", "seasonal_factor": "1"}, 1.0
    factor = seasonal_factor(season, fitted.transaction_model, customers, observation_end,
                             fitted.settings.horizon, fitted.time_unit)
    note = (f"applied: x{factor:.3f} to expected purchases and CLV over the {fitted.settings.horizon} after "
            f"{observation_end.date()}; {season_note}")
    return apply_seasonality(scores, factor), {"seasonality": note, "seasonal_factor": repr(float(factor))}, factor


def btyd_interval(scored: pl.DataFrame, fitted: FittedModels, seasonal: float) -> pl.DataFrame:
    """customer_id, clv_lower, clv_upper of customers scored by :func:`btyd_values` without their interval (their
    ``clv`` carries the seasonal factor ``seasonal``): the columns it would have given them, nulls included where
    no interval can be drawn (the reason is then in the interval note)."""
    return clv_interval_columns(scored, fitted, scored.get_column("clv").to_numpy(), seasonal)


def with_interval(customers: pl.DataFrame, interval: pl.DataFrame) -> pl.DataFrame:
    """``customers`` with the columns of :func:`btyd_interval` joined, right after ``clv`` as score_customers
    places them."""
    bounds = [c for c in interval.columns if c != "customer_id"]
    joined = customers.join(interval, on="customer_id", how="left")
    order = [c for c in customers.columns if c not in bounds]
    at = order.index("clv") + 1
    return joined.select(*order[:at], *bounds, *order[at:])


def ml_values(
    trained: TrainedLTV,
    observed: pl.DataFrame,
    customers: pl.DataFrame,
    fitted: FittedModels | None,
    *,
    observation_end: datetime,
    margin: float,
    seasonal: float,
    predictions: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """customer_id, ltv_ml: the forecast calibrated against the BTYD and historical totals, x margin.

    ``customers`` must hold the RFM columns; ``seasonal`` is the factor applied to the BTYD forecast.
    """
    if predictions is None:
        if not np.isfinite(trained.calibration_factor):  # marked unavailable last time: check afresh
            trained.calibration_factor = 1.0
        predictions = predict_ltv(trained, observed, as_of=observation_end)

    def btyd_total(days: float) -> float:
        return btyd_window_total(fitted, customers, days, seasonal)

    calibrated = calibrate_ltv(trained, predictions, observed, observation_end=observation_end,
                               btyd_total=btyd_total if fitted is not None else None)
    return calibrated.with_columns(pl.col("ltv_ml") * margin)


def ltv_basis(trained: TrainedLTV, settings: ModelSettings) -> str:
    """The basis of ltv_ml in words, with why its window is what it is."""
    basis = value_basis(str(trained.horizon), None, settings.margin)
    window = trained.notes.get("label_window")
    return f"{basis}; {window}" if window else basis


def basis_of(settings: ModelSettings) -> ValueBasis:
    """The KPI value basis of the run's settings."""
    return ValueBasis(settings.horizon, parse_horizon(settings.horizon, "D") / 365.25, settings.margin,
                      settings.discount_rate)


def value_strategy(observed: pl.DataFrame, customers: pl.DataFrame, settings: ModelSettings) -> Any:
    """The strategy tables on the run's basis; returns (tables, customers with the strategy columns replaced)."""
    from clvlens.analytics import strategy_tables

    strategy = strategy_tables(observed, customers, basis=basis_of(settings))
    customers = customers.drop([c for c in STRATEGY_COLUMNS if c in customers.columns])
    return strategy, customers.join(strategy.customer_columns, on="customer_id", how="left")


def value_info(settings: ModelSettings, fitted: FittedModels | None) -> dict[str, Any]:
    """The settings that values depend on and the basis of the BTYD values, for run_info."""
    info: dict[str, Any] = {
        "horizon": settings.horizon,
        "discount_rate": settings.discount_rate,
        "margin": settings.margin,
        "holdout": settings.holdout or "auto",
        "models": ",".join(settings.models),
        "value_basis": "clv: " + value_basis(settings.horizon, settings.discount_rate, settings.margin)
        + f"; expected_purchases: {settings.horizon}",
    }
    if fitted is not None:
        info["model"] = fitted.selection.chosen
        info["model_criterion"] = f"{fitted.selection.criterion}: {fitted.criterion_note}".rstrip(": ")
        info["spend_model"] = fitted.spend_note
        if fitted.sample_note is not None:
            info["model_selection_sample"] = fitted.sample_note
        if fitted.choice_error is not None:
            info["model_selection_error"] = fitted.choice_error
    return info


def estimate(observed: pl.DataFrame, observation_end: datetime) -> tuple[SeasonalIndex | None, str]:
    """The run's seasonal index (see :func:`clvlens.pipeline.values.estimate_seasonality`)."""
    return estimate_seasonality(observed, observation_end)


def require_same(name: str, saved: Any, wanted: Any, remedy: str) -> None:
    """A one-line refusal when a step is asked for a setting its saved models do not have."""
    if wanted is not None and wanted != saved:
        raise ClvlensError(f"{name} {wanted} differs from the saved models' {saved}; {remedy}")
