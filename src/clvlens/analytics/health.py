"""Customer health: the probability of at least one purchase in the next window, chosen by what predicts.

Four candidate scores, each computed for every customer:

- ``p_active``: the transaction model's 1 - P(X(window) = 0 | x, t_x, T) (:mod:`clvlens.models.conditional_counts`);
- ``p_alive``: the model's P(alive) (kept because the seeds speak of survival, but it ignores how often a customer
  buys: every one-time BG/NBD buyer is alive with certainty);
- ``p_active_ml``: a LightGBM classifier of the same event (:mod:`clvlens.ml.activity`), trained on a time split;
- ``heuristic``: repeat purchase days / age - days since the last purchase / the oldest customer's age (both in
  the summary's time unit), turned into a probability by a logistic fit on the window before (as the classifier).

The choice is made on an internal time split, over a stable sample of customers (``sample``, 30,000 by default;
every customer when there are fewer; :mod:`clvlens.analytics.sampling`): the calibration end is the observation
end minus the validation window, every score is computed from what was known then, and the customers are ranked
against who bought in the window after it. The best area under the ROC curve wins (AUC rounded to three decimals;
ties go to the lower Brier score). The validation window is the health window when the history holds three of
them (the classifier needs a window of history, a window of labels and a window to be checked on), else a third
of the history in whole weeks. The sampling error of the choice is the DeLong standard error of the AUC
difference between the top two on the sampled customers; a choice within it is noted. The classifier used for
every customer is trained on the same sample (LightGBM on every core for large samples) and predicts every
customer. Scores learned on a shorter window are carried to the health window as 1 - (1 - p)^k, with k per
customer the ratio of log P(no purchase) over the two windows under the transaction model (so the hazard decays
as the model says, not at a constant rate).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from clvlens.analytics.evaluation.metrics import activity_metrics
from clvlens.analytics.health_training import (
    HEALTH_SAMPLE,
    HealthTraining,
    train_health_classifiers,
)
from clvlens.analytics.sampling import PairedDifference, auc_difference
from clvlens.errors import ClvlensError
from clvlens.ml.activity import TrainedActivity
from clvlens.ml.features import FeatureCache
from clvlens.models import parse_horizon
from clvlens.models._base import BaseModel
from clvlens.models.clv import Histories
from clvlens.summary import rfm_summary
from clvlens.summary.rfm import UNIT_DAYS

__all__ = ["HEALTH_SCORES", "HealthResult", "health_scores", "heuristic_score", "logistic_fit"]

HEALTH_SCORES = ("p_active", "p_alive", "p_active_ml", "heuristic")


def heuristic_score(frequency: Any, recency: Any, T: Any) -> np.ndarray:
    """Repeat purchase days / age - time since the last purchase / the oldest customer's age (0 for age 0)."""
    x, tx, age = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
    oldest = float(age.max()) if age.size else 0.0
    rate = np.divide(x, age, out=np.zeros_like(x), where=age > 0)
    silence = np.divide(age - tx, oldest, out=np.zeros_like(x), where=oldest > 0) if oldest > 0 else 0.0 * x
    return rate - silence


def logistic_fit(score: np.ndarray, outcome: np.ndarray, iterations: int = 50) -> tuple[float, float]:
    """(intercept, slope) of a logistic regression of a 0/1 outcome on one score (Newton's method, a tiny ridge
    so that a perfectly separating score stays finite)."""
    s = np.asarray(score, dtype=float)
    y = np.asarray(outcome, dtype=float)
    centre, scale = float(s.mean()), float(s.std()) or 1.0
    z = (s - centre) / scale
    w = np.zeros(2)
    design = np.column_stack([np.ones_like(z), z])
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(design @ w)))
        gradient = design.T @ (y - p) - 1e-6 * w
        hessian = (design * (p * (1 - p))[:, None]).T @ design + 1e-6 * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        w += step
        if np.max(np.abs(step)) < 1e-10:
            break
    return float(w[0] - w[1] * centre / scale), float(w[1] / scale)


def _logistic(score: np.ndarray, coefficients: tuple[float, float]) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(coefficients[0] + coefficients[1] * score)))


def _to_window(probability: np.ndarray, exponent: np.ndarray | float) -> np.ndarray:
    """P(buy in the long window) = 1 - (1 - P(buy in the short window))^exponent."""
    if np.all(np.asarray(exponent) == 1.0):
        return probability
    return -np.expm1(exponent * np.log1p(-np.clip(probability, 0.0, 1.0 - 1e-12)))


def _window_exponents(
    model: BaseModel, short: float, long: float, histories: Histories, p_long: np.ndarray
) -> np.ndarray:
    """Per customer, log P(no purchase in the long window) / log P(none in the short one) under the transaction
    model: carrying a learned short-window probability to the long window with it follows the model's decaying
    hazard instead of a constant one (which overstates long-window activity). Between 1 and long / short.
    ``histories``: the customers' (x, t_x, T), grouped; ``p_long``: the model's P(active) over the long window,
    which the caller already has."""
    p_short = histories.scatter(model.conditional_probability_active(short, *histories.cols))  # type: ignore[attr-defined]
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.log1p(-np.minimum(p_long, 1 - 1e-15)) / np.log1p(-np.minimum(p_short, 1 - 1e-15))
        small = np.divide(p_long, p_short, out=np.full(k.shape, long / short), where=p_short > 0)
    k = np.where(p_short > 1e-12, k, small)
    return np.clip(np.nan_to_num(k, nan=long / short), 1.0, long / short)


@dataclass
class HealthResult:
    """What the health step produced.

    - ``customer_columns``: customer_id, p_active, p_active_ml (null where the classifier could not be trained),
      health_heuristic and ``health`` (the chosen score, a probability of buying in the window);
    - ``validation``: one row per score: score, window, validation_window, customers, buyers_share, health_auc,
      health_brier, health_calibration_error, health_mean, chosen, note;
    - ``score``: the chosen score's name; ``notes``: why a score is missing or how the choice was made.
    """

    customer_columns: pl.DataFrame
    validation: pl.DataFrame
    score: str
    window: str
    validation_window_days: int | None
    activity: TrainedActivity | None = None
    notes: list[str] = field(default_factory=list)
    #: the customers validated on and trained on, in words (run_info health_validation_sample)
    sample_note: str | None = None
    #: the AUC difference between the top two with its 95% margin (run_info health_choice_error)
    choice_error: str | None = None


def _refit(model: BaseModel, x: np.ndarray, tx: np.ndarray, T: np.ndarray, time_unit: str) -> BaseModel:
    """The model's class refitted on other data, with a small penalty when the plain fit does not converge."""
    first_error: ClvlensError | None = None
    for penalizer in dict.fromkeys((float(getattr(model, "penalizer_coef", 0.0)), 0.01, 0.1)):
        try:
            return type(model)(time_unit=time_unit, penalizer_coef=penalizer).fit(x, tx, T)  # type: ignore[call-arg]
        except ClvlensError as exc:
            first_error = first_error or exc
    assert first_error is not None
    raise first_error


def _columns(frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return tuple(frame.get_column(c).to_numpy().astype(float) for c in ("frequency", "recency", "T"))  # type: ignore


def _summary_with_outcome(transactions: pl.DataFrame, start: datetime, end: datetime, time_unit: str) -> pl.DataFrame:
    return rfm_summary(transactions.select("customer_id", "timestamp", "amount"), time_unit=time_unit,
                       observation_end=end, calibration_end=start).sort("customer_id")


def _validate(
    transactions: pl.DataFrame, model: BaseModel, classifier: TrainedActivity | Exception | None, *,
    observation_end: datetime, days: int, time_unit: str, notes: list[str], scores_out: dict[str, Any] | None = None,
    features: FeatureCache | None = None,
) -> tuple[dict[str, dict[str, float]], dict[str, Any]]:
    """Metrics of every score on the split (calibration end = observation end - days), and the heuristic's map;
    ``classifier``: the activity classifier trained at the split (see :mod:`.health_training`); ``features``: a
    feature cache of ``transactions``, which the classifier is scored from."""
    cal_end = observation_end - timedelta(days=days)
    summary = _summary_with_outcome(transactions, cal_end, observation_end, time_unit)
    if summary.is_empty():
        raise ClvlensError(f"health: no customer bought on or before {cal_end.date()}")
    bought = summary.get_column("frequency_holdout").to_numpy() > 0
    x, tx, T = _columns(summary)
    units = days / UNIT_DAYS[time_unit]
    scores: dict[str, np.ndarray | None] = dict.fromkeys(HEALTH_SCORES)
    try:
        refitted = _refit(model, x, tx, T, time_unit)
        scores["p_active"] = refitted.conditional_probability_active(units, x, tx, T)  # type: ignore[attr-defined]
        scores["p_alive"] = refitted.conditional_probability_alive(x, tx, T)  # type: ignore[attr-defined]
    except ClvlensError as exc:
        notes.append(f"p_active, p_alive: the model could not be refitted at {cal_end.date()} ({exc})")
    try:
        activity = HealthTraining.take(classifier)
        predicted = activity.predict(features or transactions, cal_end)
        aligned = summary.select("customer_id").join(predicted, on="customer_id", how="left")
        scores["p_active_ml"] = aligned.get_column("p_active_ml").fill_null(activity.base_rate).to_numpy()
    except Exception as exc:  # the learned score is optional: any failure is recorded, the others still compete
        notes.append(f"p_active_ml: not validated ({_reason(exc)})")
    heuristic_map = _heuristic_map(transactions, cal_end, days, time_unit)
    raw = heuristic_score(x, tx, T)
    scores["heuristic"] = _logistic(raw, heuristic_map["coefficients"]) if heuristic_map else raw
    figures = {}
    for name, values in scores.items():
        figures[name] = activity_metrics(values, bought, probability=name != "heuristic" or bool(heuristic_map))
        figures[name]["customers"] = float(bought.size)
        figures[name]["buyers_share"] = float(bought.mean())
    if scores_out is not None:
        scores_out.update(scores, bought=bought)
    return figures, heuristic_map or {}


def _heuristic_map(transactions: pl.DataFrame, as_of: datetime, days: int, time_unit: str) -> dict[str, Any] | None:
    """The logistic map of the heuristic, fitted on the window that ends at ``as_of`` (None without history)."""
    start = as_of - timedelta(days=days)
    first = transactions.get_column("timestamp").min()
    if first is None or first >= start + timedelta(days=1):  # type: ignore[operator]
        return None
    seen = transactions.filter(pl.col("timestamp") < as_of + timedelta(days=1))
    summary = _summary_with_outcome(seen, start, as_of, time_unit)
    bought = summary.get_column("frequency_holdout").to_numpy() > 0
    if summary.height < 2 or bought.all() or not bought.any():
        return None
    return {"coefficients": logistic_fit(heuristic_score(*_columns(summary)), bought), "fitted_at": str(start.date())}


def _reason(exc: Exception) -> str:
    message = " ".join(str(exc).split()) or type(exc).__name__
    return message if isinstance(exc, ClvlensError) else f"{type(exc).__name__}: {message}"


def _choose(figures: dict[str, dict[str, float]]) -> str:
    usable = [n for n in HEALTH_SCORES if math.isfinite(figures.get(n, {}).get("health_auc", math.nan))]
    usable = [n for n in usable if n != "heuristic" or math.isfinite(figures[n]["health_brier"])]
    if not usable:
        raise ClvlensError("health: no score could be validated (one class of customers is empty)")

    def key(name: str) -> tuple[float, float]:
        brier = figures[name]["health_brier"]
        return (-round(figures[name]["health_auc"], 3), brier if math.isfinite(brier) else math.inf)

    return min(usable, key=key)


def health_scores(
    transactions: pl.DataFrame,
    customers: pl.DataFrame,
    model: BaseModel,
    *,
    window: str,
    time_unit: str,
    observation_end: datetime,
    random_state: int = 0,
    sample: int | None = HEALTH_SAMPLE,
    features: FeatureCache | None = None,
    training: HealthTraining | None = None,
) -> HealthResult:
    """Every candidate score for the customers (as of ``observation_end``), validated and chosen; see the module
    docstring. ``transactions`` must hold only what was observed by ``observation_end``; ``customers`` needs
    customer_id, frequency, recency and T; ``model`` is the run's fitted transaction model. ``sample``: the
    customers validated and trained on (None: all). ``features``: a feature cache of ``transactions`` to score
    the activity model from (see :class:`clvlens.ml.FeatureCache`). ``training``: the classifiers trained by
    :func:`~clvlens.analytics.health_training.train_health_classifiers` on the same transactions, customers,
    window, sample and random state (trained here when None)."""
    window_days = parse_horizon(window, "D")
    window_units = window_days / UNIT_DAYS[time_unit]
    x, tx, T = _columns(customers)
    notes: list[str] = []
    # the model's figures depend on a customer's (x, t_x, T) alone: evaluated once per distinct history, the same
    # numbers (see clvlens.models.clv.Histories)
    histories = Histories(x, tx, T)
    p_active = histories.scatter(
        model.conditional_probability_active(window_units, *histories.cols))  # type: ignore[attr-defined]
    p_alive = histories.scatter(model.conditional_probability_alive(*histories.cols))  # type: ignore[attr-defined]
    raw = heuristic_score(x, tx, T)
    if training is None:
        training = train_health_classifiers(transactions, customers, window=window, time_unit=time_unit,
                                            observation_end=observation_end, random_state=random_state,
                                            sample=sample)
    learning, days, sample_note = training.learning, training.validation_days, training.sample_note
    figures: dict[str, dict[str, float]] = {}
    validated: dict[str, Any] = {}
    if days is None:
        notes.append("health: the history is too short for an internal split; health = p_active")
        chosen = "p_active"
    else:
        if days < window_days:
            notes.append(f"health validated on a {days}-day window (the history holds fewer than three "
                         f"{window} windows); learned scores carried to {window} by the transaction model's hazard")
        figures, _ = _validate(learning, model, training.validation, observation_end=observation_end, days=days,
                               time_unit=time_unit, notes=notes, scores_out=validated, features=training.features)
        chosen = _choose(figures)
    choice = _choice_error(figures, validated, chosen)
    if choice is not None and choice[1].within_error:
        notes.append(f"health: {chosen} and {choice[0]} are within sampling error of each other "
                     "(see health_choice_error)")

    exponent = (_window_exponents(model, days / UNIT_DAYS[time_unit], window_units, histories, p_active)
                if days and days < window_days else 1.0)
    ml_values = np.full(x.size, np.nan)
    activity = None
    learn_days = training.learn_days
    try:
        activity = HealthTraining.take(training.final)
        predicted = activity.predict(features or transactions, observation_end)
        aligned = customers.select("customer_id").join(predicted, on="customer_id", how="left")
        ml_values = _to_window(aligned.get_column("p_active_ml").fill_null(activity.base_rate).to_numpy(), exponent)
    except Exception as exc:  # as above: recorded, and health falls back to a validated score that exists
        notes.append(f"p_active_ml: not trained ({_reason(exc)})")
    heuristic_map = _heuristic_map(learning, observation_end, learn_days, time_unit)
    heuristic = _to_window(_logistic(raw, heuristic_map["coefficients"]), exponent) if heuristic_map else None
    final = {"p_active": p_active, "p_alive": p_alive, "p_active_ml": ml_values, "heuristic": heuristic}
    if final[chosen] is None or not np.all(np.isfinite(final[chosen])):  # type: ignore[arg-type]
        notes.append(f"health: {chosen} won the validation but could not be computed at the observation end; "
                     "health = p_active")
        chosen = "p_active"
    columns = customers.select("customer_id").with_columns(
        pl.Series("p_active", np.asarray(p_active, dtype=float)),
        pl.Series("p_active_ml", ml_values, nan_to_null=True),
        pl.Series("health_heuristic", heuristic if heuristic is not None else raw),
        pl.Series("health", np.asarray(final[chosen], dtype=float)),
    )
    rows = [
        {"score": name, "window": window, "validation_window": f"{days}D" if days else None,
         "customers": int(figures.get(name, {}).get("customers", 0)),
         "buyers_share": figures.get(name, {}).get("buyers_share", math.nan),
         **{k: figures.get(name, {}).get(k, math.nan)
            for k in ("health_auc", "health_brier", "health_calibration_error", "health_mean")},
         "chosen": name == chosen}
        for name in HEALTH_SCORES
    ]
    validation = pl.DataFrame(rows, schema={
        "score": pl.String, "window": pl.String, "validation_window": pl.String, "customers": pl.Int64,
        "buyers_share": pl.Float64, "health_auc": pl.Float64, "health_brier": pl.Float64,
        "health_calibration_error": pl.Float64, "health_mean": pl.Float64, "chosen": pl.Boolean,
    }, orient="row")
    result = HealthResult(columns, validation, chosen, window, days, activity, notes, sample_note)
    if choice is not None:
        result.choice_error = f"AUC of {chosen} - {choice[0]}: {choice[1].describe()}"
    return result


def _choice_error(
    figures: dict[str, dict[str, float]], scores: dict[str, Any], chosen: str
) -> tuple[str, PairedDifference] | None:
    """The runner-up (by AUC) and the DeLong AUC difference of the chosen score over it, on the validated
    customers; None without a runner-up."""
    bought = scores.get("bought")
    if bought is None:
        return None
    others = [n for n in HEALTH_SCORES if n != chosen and scores.get(n) is not None
              and math.isfinite(figures.get(n, {}).get("health_auc", math.nan))]
    if not others or scores.get(chosen) is None:
        return None
    runner_up = max(others, key=lambda n: figures[n]["health_auc"])
    return runner_up, auc_difference(scores[chosen], scores[runner_up], bought)
