"""The machine-learned LTV and scorecard steps of a run.

ML LTV: a LightGBM model is trained at the last date minus the horizon (so its label window is fully observed)
and then scores every customer as of the observation end: column `ltv_ml`, the expected value over the horizon.

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

LTV_FOLDER = "ltv_ml"


def train_and_predict_ltv(
    transactions: pl.DataFrame, *, horizon: str, time_unit: str, observation_end: datetime, model: str = "lightgbm"
) -> tuple[TrainedLTV, pl.DataFrame]:
    """Train the LTV model at the default cut-off and score every customer as of the observation end."""
    trained = train_ltv(transactions, horizon=horizon, time_unit=time_unit, model=model)
    return trained, predict_ltv(trained, transactions, as_of=observation_end)


def save_ltv(trained: TrainedLTV, models_folder: Path) -> Path:
    """Save the LTV model in DIR/models/ltv_ml/ (LightGBM text format plus JSON metadata)."""
    return trained.save(models_folder / LTV_FOLDER)


def load_workspace_ltv(models_folder: Path) -> TrainedLTV:
    return load_ltv(models_folder / LTV_FOLDER)


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
