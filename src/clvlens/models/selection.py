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

#: fewer customers with a repeat purchase than this leave nothing for a transaction model to fit
_MIN_REPEATERS = 10

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
    #: why the candidate may not be chosen although it was fitted (a degenerate fit), else None
    refused: str | None = None
    #: per customer |predicted - actual| holdout purchases (for the sampling error of the choice; not stored)
    holdout_errors: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def weakly_identified(self) -> dict[str, str]:
        result = getattr(self.model, "fit_result_", None)
        return dict(getattr(result, "weakly_identified", {}) or {})

    def as_row(self) -> dict[str, Any]:
        weak = self.weakly_identified
        return {
            "model": self.name,
            "log_likelihood": self.log_likelihood,
            "bic": self.bic,
            "holdout_mae": self.holdout_mae,
            "holdout_predicted": self.holdout_predicted,
            "weakly_identified": "; ".join(f"{k}: {v}" for k, v in weak.items()) or None,
            "error": self.error if self.refused is None else f"refused: {self.refused}",
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
        candidate = Candidate(name, model, log_likelihood=result.log_likelihood, bic=result.bic)
        candidate.refused = degenerate_fit(model, frequency, recency, T)
        candidates.append(candidate)
    return candidates


def degenerate_fit(model: BaseModel, frequency: np.ndarray, recency: np.ndarray, T: np.ndarray) -> str | None:
    """Why a converged fit says nothing about repeat buying, or None.

    With fewer than ``_MIN_REPEATERS`` customers who bought twice there is no repeat behaviour to fit (the
    estimates are whatever the optimiser stopped at); a fit with a non-finite likelihood or parameters is no fit.
    A fit in which every parameter is weakly identified is refused only when it also gives no usable prediction:
    a likelihood ridge (BG/NBD or MBG/NBD with ``a -> 0``, the no-dropout limit) leaves the covariance singular,
    so every parameter is flagged, yet the ridge's purchase predictions are finite and can be scored on a
    holdout; such a fit stays a candidate, flagged in its ``weakly_identified`` column. A refused candidate
    stays in the table with the reason but is never chosen.
    """
    repeaters = int(np.count_nonzero(np.asarray(frequency) > 0))
    if repeaters < _MIN_REPEATERS:
        return f"only {repeaters} customers bought more than once (at least {_MIN_REPEATERS} needed)"
    params = model.params_  # type: ignore[attr-defined]
    if not all(np.isfinite(v) and v > 0 for v in params.values()):
        return "non-finite parameters"
    if not np.isfinite(model.fit_result_.log_likelihood):  # type: ignore[attr-defined]
        return "non-finite log-likelihood"
    weak = model.fit_result_.weakly_identified  # type: ignore[attr-defined]
    if len(weak) == len(model._param_names) and not _predicts(model, frequency, recency, T):
        return ("no parameter is identified and the fit predicts no finite purchases ("
                + "; ".join(f"{k}: {v}" for k, v in weak.items()) + ")")
    return None


def _predicts(model: BaseModel, frequency: np.ndarray, recency: np.ndarray, T: np.ndarray) -> bool:
    """Whether the fit's expected purchases over the observed span are finite, non-negative and not all zero."""
    x, tx, age = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
    span = float(np.max(age)) if age.size else 0.0
    if not span > 0:
        return False
    with np.errstate(all="ignore"):
        try:
            predicted = np.asarray(
                model.conditional_expected_number_of_purchases_up_to_time(span, x, tx, age),  # type: ignore[attr-defined]
                dtype=float,
            )
        except (ClvlensError, ArithmeticError, ValueError):
            return False
    return bool(predicted.size and np.all(np.isfinite(predicted)) and np.all(predicted >= 0) and predicted.sum() > 0)


def select_model(
    candidates: list[Candidate],
    *,
    holdout: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float] | None = None,
) -> ModelSelection:
    """Choose among fitted candidates: by holdout MAE when `holdout` is given, else by BIC.

    `holdout` is (frequency, recency, T, holdout purchases, holdout length) for the calibration summary, and the
    candidates must have been fitted on that same calibration summary.
    """
    fitted = [c for c in candidates if c.model is not None and c.refused is None]
    if not fitted:
        reasons = "; ".join(f"{c.name}: {c.error or 'refused: ' + str(c.refused)}" for c in candidates)
        raise ClvlensError(f"no transaction model could be fitted ({reasons})")
    actual_total = None
    if holdout is not None:
        x, tx, T, actual, length = holdout
        actual_total = float(np.sum(actual))
        for c in fitted:
            predicted = c.model.conditional_expected_number_of_purchases_up_to_time(length, x, tx, T)  # type: ignore[union-attr]
            c.holdout_errors = np.abs(predicted - actual)
            c.holdout_mae = float(np.mean(c.holdout_errors))
            c.holdout_predicted = float(np.sum(predicted))
        criterion = "holdout_mae"
        fitted.sort(key=lambda c: c.holdout_mae)  # type: ignore[arg-type, return-value]
    else:
        criterion = "bic"
        fitted.sort(key=lambda c: c.bic)
    ordered = fitted + [c for c in candidates if c.model is None or c.refused is not None]
    return ModelSelection(fitted[0].name, criterion, ordered, actual_total)
