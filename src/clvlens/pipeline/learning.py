"""The machine-learned LTV and scorecard steps of a run.

ML LTV: a LightGBM model is trained at the last date minus the horizon (so its label window is fully observed)
and then scores every customer as of the observation end: column `ltv_ml`, the expected value over the horizon.
When that cut-off would leave less history than a quarter of the horizon to learn from (a year of data and a
12-month horizon leave a week), the model learns the value over half the observed span instead, from the first
half, and its predictions are scaled to the horizon (a steady rate of spend is assumed, over at most twice the
window); run_info records the window. Data shorter than the horizon skip the stage with that reason.

Scorecard: every model is scored on the same holdout customers. The holdout is the run's `holdout` setting when
given, else a quarter of the observed span in whole weeks (13 weeks for a year of data, 26 for two), so that the
ML models still have a calibration period at least twice the holdout to learn from.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl

from clvlens.analytics.evaluation import Scorecard, scorecard
from clvlens.ml import TrainedLTV, load_ltv, predict_ltv, train_ltv
from clvlens.models import parse_horizon
from clvlens.pipeline.workspace import synced_models_folder

LTV_FOLDER = "ltv_ml"


def train_and_predict_ltv(
    transactions: pl.DataFrame, *, horizon: str, time_unit: str, observation_end: datetime, model: str = "lightgbm"
) -> tuple[TrainedLTV, pl.DataFrame]:
    """Train the LTV model at the default cut-off and score every customer as of the observation end."""
    first = transactions.get_column("timestamp").min()
    window = ltv_label_window(first, observation_end, horizon)  # type: ignore[arg-type]
    trained = train_ltv(transactions, horizon=horizon, time_unit=time_unit, model=model, label_window=window)
    return trained, predict_ltv(trained, transactions, as_of=observation_end)


def ltv_label_window(first_purchase: datetime, observation_end: datetime, horizon: str) -> str | None:
    """Half the span in whole weeks when the data hold between one and 1.25 horizons, else None.

    None means the whole horizon is learned: the data are long enough, or shorter than the horizon, which
    training then reports (scaling a window shorter than half the horizon would be more assumption than data).
    """
    span_days = (observation_end - first_purchase).days
    horizon_days = parse_horizon(horizon, "D")
    if span_days >= 1.25 * horizon_days or span_days < horizon_days:
        return None
    return f"{span_days // 14}W"


def save_ltv(trained: TrainedLTV, models_folder: Path) -> Path:
    """Save the LTV model in DIR/models/ltv_ml/ (LightGBM text format plus JSON metadata)."""
    return trained.save(models_folder / LTV_FOLDER)


def load_workspace_ltv(models_folder: Path) -> TrainedLTV:
    """The LTV model of a workspace's DIR/models/, restored from the database first when it is stale."""
    return load_ltv(synced_models_folder(models_folder) / LTV_FOLDER)


def scorecard_holdout(first_purchase: datetime, observation_end: datetime, holdout: str | None) -> timedelta:
    """The scorecard's holdout: the given length, else a quarter of the observed span in whole weeks."""
    if holdout is not None:
        return timedelta(days=parse_horizon(holdout, "D"))
    span_days = (observation_end - first_purchase).days
    return timedelta(weeks=max(1, math.floor(span_days / 4 / 7)))


def run_scorecard(
    transactions: pl.DataFrame, *, observation_end: datetime, time_unit: str, holdout: str | None
) -> Scorecard:
    """Score every model on the holdout before the observation end."""
    first = transactions.get_column("timestamp").min()
    length = scorecard_holdout(first, observation_end, holdout)  # type: ignore[arg-type]
    return scorecard(transactions, observation_end - length, observation_end, time_unit=time_unit, n_jobs=2)
