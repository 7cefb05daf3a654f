"""The machine-learned LTV and scorecard steps of a run.

ML LTV: a LightGBM model is trained at the last date minus the horizon (so its label window is fully observed)
and then scores every customer as of the observation end: column `ltv_ml`, the expected value over the horizon.
It trains on a reproducible sample of at most ML_TRAIN_SAMPLE customers (run_info `ml_training_sample`), so its
cost beyond that grows only with the features and predictions of every customer (linear, vectorised).
When that cut-off would leave less history than a quarter of the horizon to learn from (a year of data and a
12-month horizon leave a week), the model learns the value over half the observed span instead, from the first
half. Its predictions are scaled to the horizon only with a seasonal index (the ratio of the index summed over
the horizon to the index summed over the label window): a window that holds a seasonal peak must not be scaled
by the ratio of lengths. Without an index (such data are too short to estimate one) the predictions stay over
the label window and say so (run_info `ltv_ml_basis`). Data shorter than the horizon skip the stage with that
reason. The forecast is then calibrated against the BTYD and historical totals (see
:mod:`clvlens.pipeline.values`).

Scorecard: every model is scored on the same holdout customers, a reproducible sample of them (run_info
`scorecard_sample`; the figures carry standard errors). The holdout is the run's `holdout` setting when
given, else a quarter of the observed span in whole weeks (13 weeks for a year of data, 26 for two), so that the
ML models still have a calibration period at least twice the holdout to learn from.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from clvlens.analytics.evaluation import Scorecard, scorecard
from clvlens.analytics.evaluation.figures import group_count
from clvlens.analytics.evaluation.predictors import Prediction
from clvlens.analytics.evaluation.scorecard import DEFAULT_SAMPLE, Spread, figures_with_errors
from clvlens.ml import FeatureCache, TrainedLTV, load_ltv, predict_ltv, train_ltv
from clvlens.ml.features import FeatureSpec
from clvlens.ml.sampling import random_groups
from clvlens.models import parse_horizon
from clvlens.models.seasonality import SeasonalIndex
from clvlens.pipeline.values import calibration_check, estimate_seasonality, window_revenue
from clvlens.pipeline.workspace import synced_models_folder

DAY = timedelta(days=1)

LTV_FOLDER = "ltv_ml"
#: customers the ML LTV model trains on at most (a reproducible sample; every customer is still scored): LightGBM
#: learns these features as well from 100,000 customers as from a million, at a tenth of the cost
ML_TRAIN_SAMPLE = 100_000


def train_and_predict_ltv(
    transactions: pl.DataFrame,
    *,
    horizon: str,
    time_unit: str,
    observation_end: datetime,
    model: str = "lightgbm",
    season: SeasonalIndex | None = None,
    sample_size: int | None = ML_TRAIN_SAMPLE,
    features: FeatureCache | None = None,
) -> tuple[TrainedLTV, pl.DataFrame]:
    """Train the LTV model at the default cut-off on a reproducible sample of at most ``sample_size`` customers
    (None: all) and score every customer as of the observation end (uncalibrated; see :func:`calibrate_ltv`).
    LightGBM uses every core for large inputs. ``features``: the run's feature cache of ``transactions``, shared
    with the health step's activity model."""
    first = transactions.get_column("timestamp").min()
    window = ltv_label_window(first, observation_end, horizon)  # type: ignore[arg-type]
    trained = train_ltv(transactions, horizon=horizon, time_unit=time_unit, model=model, label_window=window,
                        sample_size=sample_size, n_jobs=-1)
    if trained.reported_horizon is not None:
        _scale_label_window(trained, observation_end, season)
    return trained, predict_ltv(trained, features or transactions, as_of=observation_end)


def _scale_label_window(trained: TrainedLTV, observation_end: datetime, season: SeasonalIndex | None) -> None:
    """Scale a short label window to the horizon by the seasonal index, or leave it unscaled (module docstring)."""
    window_days = trained.spec.horizon_days
    horizon_days = FeatureSpec(trained.spec.time_unit, trained.reported_horizon).horizon_days  # type: ignore[arg-type]
    end = observation_end.date()
    learned = (end - timedelta(days=round(window_days)), end)
    if season is None:
        trained.notes["label_window"] = (
            f"learned over a {trained.spec.horizon} window ({learned[0]} to {learned[1]}); not scaled to "
            f"{trained.reported_horizon}: without a seasonal index (two years of data) that window may hold a "
            "seasonal peak"
        )
        trained.reported_horizon = None
        return
    ahead = season.factor(end, end + timedelta(days=round(horizon_days))) * horizon_days
    behind = season.factor(*learned) * window_days
    trained.window_scale = ahead / behind
    trained.notes["label_window"] = (
        f"learned over a {trained.spec.horizon} window ({learned[0]} to {learned[1]}), scaled x"
        f"{trained.window_scale:.3f} to {trained.reported_horizon} by the seasonal index"
    )


def calibrate_ltv(
    trained: TrainedLTV,
    predictions: pl.DataFrame,
    transactions: pl.DataFrame,
    *,
    observation_end: datetime,
    btyd_total: Callable[[float], float] | None,
) -> pl.DataFrame:
    """Check the ML total against the BTYD total and the last window's revenue; rescale it where it falls outside
    (:func:`clvlens.pipeline.values.calibration_check`). Sets ``trained.calibration_factor`` and its note.

    ``btyd_total(days)`` is the BTYD expected spend over that many days after the observation end (None without a
    BTYD model); the window is the one the predictions are over.
    """
    days = FeatureSpec(trained.spec.time_unit, trained.horizon).horizon_days
    previous = trained.calibration_factor
    raw = predictions["ltv_ml"].to_numpy().astype(float) / (previous if np.isfinite(previous) and previous else 1.0)
    model_total = btyd_total(days) if btyd_total is not None else None
    baseline = window_revenue(transactions, observation_end, days)
    factor, note = calibration_check(float(np.sum(raw)), model_total, baseline)
    trained.calibration_factor = factor
    trained.notes["calibration"] = note
    return predictions.with_columns(pl.Series("ltv_ml", raw * factor))


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
    """The scorecard's holdout: the given length, else (None, "auto" or "bic") a quarter of the observed span in
    whole weeks."""
    if holdout is not None and holdout.strip().lower() not in ("auto", "bic"):
        return timedelta(days=parse_horizon(holdout, "D"))
    span_days = (observation_end - first_purchase).days
    return timedelta(weeks=max(1, math.floor(span_days / 4 / 7)))


def run_scorecard(
    transactions: pl.DataFrame, *, observation_end: datetime, time_unit: str, holdout: str | None,
    sample_size: int | None = DEFAULT_SAMPLE, n_jobs: int = 2, stop: threading.Event | None = None,
    spread: Spread | None = None,
) -> Scorecard:
    """Score every model on the holdout before the observation end, on a reproducible sample of ``sample_size``
    customers (None: all), ``n_jobs`` contenders at a time (or by ``spread``: see scorecard()); where the
    calibration data hold two years, add each BTYD model with the seasonal index applied (rows "<model>+seasonal",
    the note says the factor)."""
    first = transactions.get_column("timestamp").min()
    length = scorecard_holdout(first, observation_end, holdout)  # type: ignore[arg-type]
    card = scorecard(transactions, observation_end - length, observation_end, time_unit=time_unit, n_jobs=n_jobs,
                     sample_size=sample_size, stop=stop, spread=spread)
    return add_seasonal_rows(card, transactions)


def add_seasonal_rows(card: Scorecard, transactions: pl.DataFrame) -> Scorecard:
    """The scorecard with a row per BTYD model forecast with and without the seasonal index (see run_scorecard)."""
    # the index is estimated from the scored customers (the sample) before the holdout, like every contender
    scored = card.transactions if card.transactions is not None else transactions
    season, _ = estimate_seasonality(scored.filter(pl.col("timestamp") < card.calibration_end + DAY),
                                     card.calibration_end)
    if season is None:
        return card
    factor = season.factor(card.calibration_end.date(), card.observation_end.date())
    rows = []
    for row in card.table.filter((pl.col("family") == "btyd") & pl.col("error").is_null()).iter_rows(named=True):
        own = card.predictions.filter(pl.col("model") == row["model"])
        groups = random_groups(own["customer_id"], group_count(own.height))
        forecast = Prediction(own["predicted_value"].to_numpy() * factor,
                              own["predicted_purchases"].to_numpy() * factor)
        seasonal: dict[str, Any] = {"model": f"{row['model']}+seasonal", "family": "btyd",
                                    "customers": row["customers"], "population": row.get("population")}
        figures = figures_with_errors(forecast, own["actual_value"].to_numpy(), own["actual_purchases"].to_numpy(),
                                      groups)
        # the factor scales every customer alike: the health ranking is the model's own row's, not repeated here
        seasonal.update({k: v for k, v in figures.items() if not k.startswith(("health_", "p_alive_"))})
        seasonal.update({"fit_seconds": row["fit_seconds"], "error": None,
                         "note": f"{row['model']} x seasonal factor {factor:.3f} over the holdout"})
        rows.append(seasonal)
    if rows:
        extra = pl.DataFrame(rows, schema={name: card.table.schema[name] for name in rows[0]}, orient="row")
        card.table = pl.concat([card.table, extra], how="diagonal_relaxed")
    return card
