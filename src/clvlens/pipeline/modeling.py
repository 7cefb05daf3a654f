"""The models step of a run: fit the BTYD candidates, choose one, fit spend, score every customer, save JSON.

Selection: with `holdout` (for example "26W"), the candidates are fitted on the data up to the observation end minus
the holdout and the one predicting holdout purchases best (mean absolute error per customer) wins; it is then refit
on all the data. Without a holdout the lowest BIC wins. Spend is Gamma-Gamma on customers with repeat purchases of
positive value; where that model cannot be fitted, every customer's expected spend is the mean transaction value
and the run records why.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from clvlens.errors import ClvlensError
from clvlens.models import GammaGamma, customer_lifetime_value, customer_lifetime_value_interval, parse_horizon
from clvlens.models._base import BaseModel
from clvlens.models.persistence import load_model
from clvlens.models.selection import TRANSACTION_MODELS, ModelSelection, fit_candidates, select_model
from clvlens.summary import rfm_summary

SCORE_COLUMNS = ("p_alive", "expected_purchases", "expected_spend", "clv", "clv_lower", "clv_upper")
SELECTION_FILE = "selection.json"
SPEND_FILE = "gammagamma.json"


@dataclass(frozen=True)
class ModelSettings:
    """How the models step fits and scores; recorded with the saved models."""

    horizon: str = "12M"
    discount_rate: float = 0.10
    margin: float = 1.0
    holdout: str | None = None
    models: tuple[str, ...] = tuple(TRANSACTION_MODELS)
    interval_level: float = 0.9
    interval_draws: int = 100
    penalizer_coef: float = 0.0

    def __post_init__(self) -> None:
        parse_horizon(self.horizon, "D")
        if self.holdout is not None:
            parse_horizon(self.holdout, "D")
        if not 0 < self.interval_level < 1:
            raise ClvlensError(f"interval level must be between 0 and 1, got {self.interval_level}")
        if not -1 < self.discount_rate < 10:
            raise ClvlensError(f"discount rate must be an annual rate such as 0.1, got {self.discount_rate}")


@dataclass
class FittedModels:
    """The chosen transaction model (fitted on all data), the spend model or its fallback, and the selection."""

    transaction_model: BaseModel
    spend_model: GammaGamma | None
    fallback_spend: float | None
    spend_note: str
    selection: ModelSelection
    settings: ModelSettings
    time_unit: str
    #: how the CLV interval was obtained, or why there is none (set by `score_customers`; run_info clv_interval)
    interval_note: str | None = None


def fit_models(
    transactions: pl.DataFrame,
    customers: pl.DataFrame,
    *,
    time_unit: str,
    observation_end: datetime,
    settings: ModelSettings,
) -> FittedModels:
    """Fit and select the transaction model and fit the spend model (see the module docstring)."""
    x, tx, T = _columns(customers)
    holdout_data = None
    if settings.holdout is not None:
        days = parse_horizon(settings.holdout, "D")
        calibration_end = observation_end - timedelta(days=days)
        calibration = rfm_summary(
            transactions, time_unit=time_unit, observation_end=observation_end, calibration_end=calibration_end
        )
        if calibration.height == 0:
            raise ClvlensError(f"holdout {settings.holdout} leaves no customers before {calibration_end.date()}")
        cx, ctx, cT = _columns(calibration)
        candidates = fit_candidates(cx, ctx, cT, time_unit=time_unit, names=settings.models,
                                    penalizer_coef=settings.penalizer_coef)
        holdout_data = (cx, ctx, cT, calibration["frequency_holdout"].to_numpy(),
                        float(calibration["duration_holdout"][0]))
        selection = select_model(candidates, holdout=holdout_data)
        chosen = type(selection.model)(time_unit=time_unit, penalizer_coef=settings.penalizer_coef).fit(x, tx, T)
    else:
        selection = select_model(
            fit_candidates(x, tx, T, time_unit=time_unit, names=settings.models, penalizer_coef=settings.penalizer_coef)
        )
        chosen = selection.model
    spend_model, fallback, note = _fit_spend(customers, time_unit)
    return FittedModels(chosen, spend_model, fallback, note, selection, settings, time_unit)


def score_customers(customers: pl.DataFrame, fitted: FittedModels) -> pl.DataFrame:
    """customer_id plus P(alive), expected purchases over the horizon, expected spend and CLV with its interval."""
    x, tx, T = _columns(customers)
    model, settings = fitted.transaction_model, fitted.settings
    horizon = parse_horizon(settings.horizon, fitted.time_unit)
    monetary = customers["monetary_value"].fill_null(0.0).to_numpy().astype(float)
    spend: Any = fitted.spend_model if fitted.spend_model is not None else fitted.fallback_spend
    expected_spend = (
        fitted.spend_model.conditional_expected_average_profit(x, monetary)
        if fitted.spend_model is not None
        else np.full(x.shape, fitted.fallback_spend, dtype=float)
    )
    common = {
        "monetary_value": monetary,
        "horizon": settings.horizon,
        "discount_rate": settings.discount_rate,
        "margin": settings.margin,
    }
    clv = customer_lifetime_value(model, spend, x, tx, T, **common)
    lower, upper = _clv_interval(model, spend, x, tx, T, common, fitted)
    return pl.DataFrame(
        {
            "customer_id": customers["customer_id"],
            "p_alive": model.conditional_probability_alive(x, tx, T),
            "expected_purchases": model.conditional_expected_number_of_purchases_up_to_time(horizon, x, tx, T),
            "expected_spend": expected_spend,
            "clv": clv,
            "clv_lower": pl.Series(np.maximum(np.minimum(lower, clv), 0.0), dtype=pl.Float64).fill_nan(None),
            "clv_upper": pl.Series(np.maximum(upper, clv), dtype=pl.Float64).fill_nan(None),
        }
    )


#: seconds the CLV interval's bootstrap may take in a run before it uses the draws done so far
INTERVAL_SECONDS = 30.0


def _clv_interval(
    model: BaseModel, spend: Any, x: np.ndarray, tx: np.ndarray, T: np.ndarray, common: dict[str, Any],
    fitted: FittedModels,
) -> tuple[np.ndarray, np.ndarray]:
    """The CLV interval and, in `fitted.interval_note`, how it was drawn; NaN bounds (null in the table) and
    the reason when no interval can be given. Never the point estimate in disguise."""
    settings = fitted.settings
    report: dict[str, Any] = {}
    try:
        lower, upper = customer_lifetime_value_interval(
            model, spend, x, tx, T, **common, level=settings.interval_level, n_draws=settings.interval_draws,
            time_budget=INTERVAL_SECONDS, report=report,
        )
    except ClvlensError as exc:
        fitted.interval_note = f"not available: {exc}"
        return np.full(x.shape, np.nan), np.full(x.shape, np.nan)
    used, asked = report.get("draws_used", 0), report.get("draws_requested", settings.interval_draws)
    note = f"{settings.interval_level:.0%} from {used} parametric-bootstrap draws"
    if report.get("method") == "linear":
        note += " (linearised)"
    dropped = []
    if report.get("draws_outside_region"):
        dropped.append(f"{report['draws_outside_region']} outside the plausible parameter region")
    if report.get("draws_failed"):
        dropped.append(f"{report['draws_failed']} not computable")
    if report.get("stopped"):
        dropped.append(str(report["stopped"]))
    if used < asked or dropped:
        note += f" of {asked} asked for ({'; '.join(dropped) or 'fewer draws'})"
    if report.get("proposals_refused"):
        note += (f"; drawn inside the plausible parameter region ({report['proposals_refused']:,} of "
                 f"{report['proposals']:,} proposals refused as outside it)")
    fitted.interval_note = note
    return lower, upper


def identification_note(fitted: FittedModels) -> str:
    """One line for run_info: the chosen model's weakly identified parameters and why, or that all are."""
    result = getattr(fitted.transaction_model, "fit_result_", None)
    if result is None:
        return "unknown: the model was not fitted here"
    weak = getattr(result, "weakly_identified", {}) or {}
    if not weak:
        return "all parameters identified"
    return "weakly identified: " + "; ".join(f"{k} ({v})" for k, v in weak.items())


def save_models(fitted: FittedModels, folder: Path) -> list[Path]:
    """Write the transaction model, the spend model and the selection record as JSON files in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    name = fitted.selection.chosen
    path = folder / f"{name}.json"
    fitted.transaction_model.to_json(str(path))  # type: ignore[attr-defined]
    written.append(path)
    if fitted.spend_model is not None:
        fitted.spend_model.to_json(str(folder / SPEND_FILE))  # type: ignore[attr-defined]
        written.append(folder / SPEND_FILE)
    record = {
        "chosen": name,
        "criterion": fitted.selection.criterion,
        "holdout_actual": fitted.selection.holdout_actual,
        "candidates": fitted.selection.rows(),
        "spend_note": fitted.spend_note,
        "fallback_spend": fitted.fallback_spend,
        "time_unit": fitted.time_unit,
        "settings": {**asdict(fitted.settings), "models": list(fitted.settings.models)},
    }
    (folder / SELECTION_FILE).write_text(json.dumps(_finite(record), indent=2))
    written.append(folder / SELECTION_FILE)
    return written


def load_models(folder: Path) -> FittedModels:
    """Read back what `save_models` wrote; the loaded models predict exactly what the saved ones did."""
    record_path = folder / SELECTION_FILE
    if not record_path.exists():
        raise ClvlensError(f"{folder}: no fitted models here (expected {SELECTION_FILE}; run clvlens fit first)")
    record = json.loads(record_path.read_text())
    model = load_model(folder / f"{record['chosen']}.json")
    spend_path = folder / SPEND_FILE
    spend = load_model(spend_path) if spend_path.exists() else None
    settings = ModelSettings(**{**record["settings"], "models": tuple(record["settings"]["models"])})
    selection = ModelSelection(record["chosen"], record["criterion"], [], record["holdout_actual"])
    return FittedModels(
        model, spend, record["fallback_spend"], record["spend_note"], selection, settings, record["time_unit"]  # type: ignore[arg-type]
    )


def _fit_spend(customers: pl.DataFrame, time_unit: str) -> tuple[GammaGamma | None, float | None, str]:
    repeaters = customers.filter((pl.col("frequency") > 0) & (pl.col("monetary_value") > 0))
    fallback = float(
        (customers["total_value"] / (customers["frequency"] + 1)).mean()  # type: ignore[operator, arg-type]
    )
    if repeaters.height < 10:
        return None, fallback, f"Gamma-Gamma not fitted: only {repeaters.height} customers with repeat purchases"
    try:
        model = GammaGamma(time_unit=time_unit).fit(
            repeaters["frequency"].to_numpy().astype(float), repeaters["monetary_value"].to_numpy()
        )
        model.population_mean_spend()
    except ClvlensError as exc:
        return None, fallback, f"Gamma-Gamma not usable ({exc}); expected spend = mean transaction value"
    return model, None, f"Gamma-Gamma fitted on {repeaters.height:,} customers with repeat purchases"


def _columns(frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        frame["frequency"].to_numpy().astype(float),
        frame["recency"].to_numpy().astype(float),
        frame["T"].to_numpy().astype(float),
    )


def _finite(value: Any) -> Any:
    """JSON-safe copy: NaN and infinities become null (JSON has no NaN), numpy scalars plain numbers."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
