"""The health step of a run: every health score validated on an internal time split, the best one as `health`.

See :mod:`clvlens.analytics.health` for the scores and the choice. The step writes the `health_validation` table,
the run_info keys `health_score`, `health_window` and `health_validation_window`, and saves the activity
classifier in DIR/models/activity_ml (LightGBM text format plus JSON). When it cannot run, `health` is P(alive)
and run_info says why. In a run of up to :data:`CLASSIFIERS_BESIDE_UP_TO` customers the activity classifiers
train beside the run from the customer summary on (:func:`start_health_classifiers`), beside the model fits.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from clvlens.analytics.health import HealthResult, health_scores
from clvlens.analytics.health_training import train_health_classifiers
from clvlens.errors import ClvlensError
from clvlens.ml import FeatureCache
from clvlens.models._base import BaseModel
from clvlens.pipeline.background import BackgroundTask

ACTIVITY_FOLDER = "activity_ml"
HEALTH_COLUMNS = ("p_active", "p_active_ml", "health_heuristic", "health")
#: customers up to which the activity classifiers train beside the model fits. On the simulated 100k shop the
#: median of five alternating whole runs fell from 16.9 to 16.4 s (docs/benchmarks.md); at 1M customers the run
#: was no faster and peaked at up to 2,845 MiB, against 2,664-2,735 without, too near 3 GB
CLASSIFIERS_BESIDE_UP_TO = 250_000


def add_health(
    observed: pl.DataFrame,
    customers: pl.DataFrame,
    model: BaseModel,
    *,
    window: str,
    time_unit: str,
    observation_end: datetime,
    skipped: dict[str, str],
    features: FeatureCache | None = None,
    classifiers: BackgroundTask | None = None,
) -> tuple[pl.DataFrame, HealthResult | None]:
    """The customers with the health columns, and the step's result (None, with the reason in `skipped`, when
    it fails: then `health` is P(alive), so that everything downstream still has a health column). ``features``:
    the run's feature cache of ``observed`` (the activity model then reuses what the ML step built).
    ``classifiers``: the task from :func:`start_health_classifiers` for the same data and window."""
    customers = customers.drop([c for c in HEALTH_COLUMNS if c in customers.columns])
    try:
        training = classifiers.result() if classifiers is not None else None
        result = health_scores(observed, customers, model, window=window, time_unit=time_unit,
                               observation_end=observation_end, features=features, training=training)
    except ClvlensError as exc:
        skipped["health"] = f"{exc}; health = p_alive"
        return customers.with_columns(pl.col("p_alive").alias("health")), None
    return customers.join(result.customer_columns, on="customer_id", how="left"), result


def start_health_classifiers(
    observed: pl.DataFrame, customers: pl.DataFrame, *, window: str, time_unit: str, observation_end: datetime,
    needed_at: float = 0,
) -> BackgroundTask | None:
    """Train the health step's activity classifiers beside the run (:mod:`clvlens.pipeline.background`, taken
    at step ``needed_at``): they need only the observed transactions and the customers
    (:mod:`clvlens.analytics.health_training`), so they train beside the model fits, and :func:`add_health` takes
    them. None (they train in the health step) above :data:`CLASSIFIERS_BESIDE_UP_TO` customers."""
    if customers.height > CLASSIFIERS_BESIDE_UP_TO:
        return None
    return BackgroundTask(lambda _: train_health_classifiers(
        observed, customers, window=window, time_unit=time_unit, observation_end=observation_end,
    ), "health-classifiers", needed_at=needed_at).start()


def health_info(result: HealthResult | None, window: str) -> dict[str, Any]:
    """The run_info keys of the health step."""
    if result is None:
        return {"health_score": "p_alive", "health_window": window}
    chosen = result.validation.filter(pl.col("chosen")).row(0, named=True)
    info: dict[str, Any] = {
        "health_score": result.score,
        "health_window": window,
        "health_validation_window": (f"{result.validation_window_days} days" if result.validation_window_days
                                     else "none (history too short)"),
    }
    if chosen["health_auc"] is not None and chosen["health_auc"] == chosen["health_auc"]:
        info["health_auc"] = round(float(chosen["health_auc"]), 4)
        info["health_brier"] = round(float(chosen["health_brier"]), 4)
    if result.notes:
        info["health_notes"] = "; ".join(result.notes)
    if result.sample_note:
        info["health_validation_sample"] = result.sample_note
    if result.choice_error:
        info["health_choice_error"] = result.choice_error
    return info


def save_activity(result: HealthResult | None, models_folder: Path) -> None:
    """Save the activity classifier (when one was trained) in DIR/models/activity_ml."""
    if result is not None and result.activity is not None:
        result.activity.save(models_folder / ACTIVITY_FOLDER)
