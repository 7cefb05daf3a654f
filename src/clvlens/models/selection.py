"""Fit several transaction models on one summary and choose one.

With a holdout (purchases observed after the calibration period), the model with the lowest mean absolute error of
predicted holdout purchases per customer wins; without one, the lowest BIC wins. Every candidate is kept with its
figures or the error that stopped it, so the choice and the runners-up can be shown and stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from clvlens.errors import ClvlensError
from clvlens.models._base import BaseModel
from clvlens.models.bgnbd import BetaGeo
from clvlens.models.mbgnbd import ModifiedBetaGeo
from clvlens.models.paretonbd import ParetoNBD

TRANSACTION_MODELS: dict[str, type[BaseModel]] = {
    "bgnbd": BetaGeo,
    "mbgnbd": ModifiedBetaGeo,
    "paretonbd": ParetoNBD,
}


@dataclass
class Candidate:
    """One transaction model's fit: its figures, or why it could not be fitted."""

    name: str
    model: BaseModel | None
    error: str | None = None
    log_likelihood: float = float("nan")
    bic: float = float("nan")
    holdout_mae: float | None = None
    holdout_predicted: float | None = None

    def as_row(self) -> dict[str, Any]:
        return {
            "model": self.name,
            "log_likelihood": self.log_likelihood,
            "bic": self.bic,
            "holdout_mae": self.holdout_mae,
            "holdout_predicted": self.holdout_predicted,
            "error": self.error,
        }


@dataclass
class ModelSelection:
    """The chosen model's name, the criterion used and every candidate in order of preference."""

    chosen: str
    criterion: str
    candidates: list[Candidate] = field(default_factory=list)
    holdout_actual: float | None = None

    @property
    def model(self) -> BaseModel:
        return next(c.model for c in self.candidates if c.name == self.chosen and c.model is not None)

    def rows(self) -> list[dict[str, Any]]:
        """One dict per candidate, the chosen one first, with a `chosen` flag and the criterion."""
        return [{**c.as_row(), "chosen": c.name == self.chosen, "criterion": self.criterion} for c in self.candidates]


def fit_candidates(
    frequency: np.ndarray,
    recency: np.ndarray,
    T: np.ndarray,
    *,
    time_unit: str,
    names: tuple[str, ...] = tuple(TRANSACTION_MODELS),
    penalizer_coef: float = 0.0,
) -> list[Candidate]:
    """Fit each named model; a model that fails is recorded with its one-line error instead of raising."""
    unknown = [n for n in names if n not in TRANSACTION_MODELS]
    if unknown:
        raise ClvlensError(f"models: unknown model '{unknown[0]}' (choose from {', '.join(TRANSACTION_MODELS)})")
    candidates = []
    for name in names:
        model = TRANSACTION_MODELS[name](time_unit=time_unit, penalizer_coef=penalizer_coef)
        try:
            model.fit(frequency, recency, T)
        except ClvlensError as exc:
            candidates.append(Candidate(name, None, error=str(exc)))
            continue
        result = model.fit_result_
        candidates.append(Candidate(name, model, log_likelihood=result.log_likelihood, bic=result.bic))
    return candidates


def select_model(
    candidates: list[Candidate],
    *,
    holdout: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float] | None = None,
) -> ModelSelection:
    """Choose among fitted candidates: by holdout MAE when `holdout` is given, else by BIC.

    `holdout` is (frequency, recency, T, holdout purchases, holdout length) for the calibration summary, and the
    candidates must have been fitted on that same calibration summary.
    """
    fitted = [c for c in candidates if c.model is not None]
    if not fitted:
        reasons = "; ".join(f"{c.name}: {c.error}" for c in candidates)
        raise ClvlensError(f"no transaction model could be fitted ({reasons})")
    actual_total = None
    if holdout is not None:
        x, tx, T, actual, length = holdout
        actual_total = float(np.sum(actual))
        for c in fitted:
            predicted = c.model.conditional_expected_number_of_purchases_up_to_time(length, x, tx, T)  # type: ignore[union-attr]
            c.holdout_mae = float(np.mean(np.abs(predicted - actual)))
            c.holdout_predicted = float(np.sum(predicted))
        criterion = "holdout_mae"
        fitted.sort(key=lambda c: c.holdout_mae)  # type: ignore[arg-type, return-value]
    else:
        criterion = "bic"
        fitted.sort(key=lambda c: c.bic)
    ordered = fitted + [c for c in candidates if c.model is None]
    return ModelSelection(fitted[0].name, criterion, ordered, actual_total)
