"""High-level training and scoring: what the CLI (``clvlens ml train|predict``) and the pipeline call.

``train_ltv`` builds features at a cut-off (by default the last date minus the horizon, so the label window is
fully observed), fits one model and returns a :class:`TrainedLTV`; ``predict_ltv`` scores every customer with
transactions up to ``as_of`` (by default the last date) and returns ``customer_id, ltv_ml``: the expected value
over the model's horizon after ``as_of``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from clvlens.errors import ClvlensError
from clvlens.ml._common import read_metadata
from clvlens.ml.baseline import BaselineGBR
from clvlens.ml.features import (
    DAY,
    FeatureCache,
    FeatureSpec,
    as_datetime,
    build_features,
    canonical_transactions,
    last_date,
    learn_spec,
    ltv_dataset,
)
from clvlens.ml.lgbm import LightGBMLTV, TwoPartLTV
from clvlens.ml.sampling import sample_transactions

LTVEstimator = LightGBMLTV | TwoPartLTV | BaselineGBR
MODELS: dict[str, type[LightGBMLTV] | type[TwoPartLTV] | type[BaselineGBR]] = {
    "lightgbm": LightGBMLTV,
    "two_part": TwoPartLTV,
    "baseline_gbr": BaselineGBR,
}


@dataclass
class TrainedLTV:
    """A fitted LTV model with the feature spec, cut-off and training facts it was built with."""

    estimator: LTVEstimator
    spec: FeatureSpec
    cutoff: datetime
    model: str
    n_train: int
    train_label_mean: float
    #: the horizon predictions are reported over when the model learned a shorter label window (``spec.horizon``)
    reported_horizon: str | float | None = None
    #: the factor from the label window to the reported horizon when not the ratio of their lengths (seasonality)
    window_scale: float | None = None
    #: the factor of the calibration against the BTYD and historical totals (1 = kept; NaN = unavailable)
    calibration_factor: float = 1.0
    #: why the predictions are scaled as they are (label window and calibration), in words
    notes: dict[str, str] = field(default_factory=dict)
    #: customers seen by the cut-off (``n_train`` of them were trained on; more when training used a sample)
    n_population: int | None = None

    @property
    def horizon(self) -> str | float:
        """The horizon the model's predictions are over."""
        return self.spec.horizon if self.reported_horizon is None else self.reported_horizon

    @property
    def horizon_scale(self) -> float:
        """Reported horizon / label window: 1 unless the model learned a shorter window than it reports.

        The ratio of their lengths (a steady rate of spend) unless ``window_scale`` gives another factor.
        """
        if self.reported_horizon is None:
            return 1.0
        if self.window_scale is not None:
            return self.window_scale
        return FeatureSpec(self.spec.time_unit, self.reported_horizon).horizon_days / self.spec.horizon_days

    def predict(self, transactions: Any, *, as_of: Any = None) -> pl.DataFrame:
        """Same as :func:`predict_ltv` with this model."""
        return predict_ltv(self, transactions, as_of=as_of)

    def save(self, path: str | Path) -> Path:
        """Save to the folder ``path``: the model's own text files plus ``metadata.json`` (no pickle)."""
        extra = {
            "model": self.model,
            "feature_spec": self.spec.to_dict(),
            "cutoff": self.cutoff.date().isoformat(),
            "n_train": self.n_train,
            "train_label_mean": self.train_label_mean,
            "reported_horizon": self.reported_horizon,
            "window_scale": self.window_scale,
            "calibration_factor": self.calibration_factor,
            "notes": self.notes,
            "n_population": self.n_population,
        }
        self.estimator.metadata_ = extra
        return self.estimator.save(path)

    @classmethod
    def load(cls, path: str | Path) -> TrainedLTV:
        """Read a folder written by :meth:`save`."""
        return load_ltv(path)


def make_estimator(model: str, *, random_state: int = 0, n_jobs: int = 1, params: Mapping[str, Any] | None = None
                   ) -> LTVEstimator:
    """A fresh estimator by name: "lightgbm", "two_part" or "baseline_gbr"."""
    if model not in MODELS:
        raise ClvlensError(f"model: {model!r} is not one of {', '.join(MODELS)}")
    cls = MODELS[model]
    estimator = cls(random_state=random_state) if cls is BaselineGBR else cls(random_state=random_state, n_jobs=n_jobs)
    if params:
        estimator.set_params(**dict(params))
    return estimator


def default_cutoff(transactions: Any, horizon: str | float, time_unit: str = "W") -> datetime:
    """The last date minus the horizon (rounded down to a day), so the label window ends on the last date."""
    frame = canonical_transactions(transactions)
    spec = FeatureSpec(time_unit.upper(), horizon)
    cutoff = last_date(frame) - timedelta(days=spec.horizon_days)
    cutoff = datetime(cutoff.year, cutoff.month, cutoff.day)
    first = as_datetime(frame.get_column("timestamp").min(), "timestamp")
    if cutoff < first:
        raise ClvlensError(
            f"horizon: {horizon!r} is longer than the data ({first.date()} to {last_date(frame).date()}); "
            "use a shorter horizon"
        )
    return cutoff


def train_ltv(
    transactions: Any,
    *,
    cutoff: Any = None,
    horizon: str | float = "12M",
    model: str = "lightgbm",
    time_unit: str = "W",
    btyd: bool = True,
    random_state: int = 0,
    n_jobs: int = 1,
    params: Mapping[str, Any] | None = None,
    label_window: str | float | None = None,
    sample_size: int | None = None,
) -> TrainedLTV:
    """Fit an LTV model on features at ``cutoff`` and the value in the ``horizon`` after it.

    ``model``: "lightgbm" (log1p regression), "two_part" (P(buy) x value if buying) or "baseline_gbr".
    ``params`` overrides estimator parameters (e.g. ``{"n_estimators": 100}``). The cut-off defaults to the last
    date minus the label window; a label window that runs past the data raises. ``label_window`` (shorter than
    the horizon) trains on the value in that window instead and scales predictions up to the horizon, assuming
    a steady rate of spend: for data too short to observe a whole horizon after a useful history.

    ``sample_size`` caps the customers trained on: a reproducible sample of that many of the customers seen by the
    cut-off (:mod:`clvlens.ml.sampling`; None: all). The model still scores every customer it is given; the note
    ``training_sample`` and ``n_train`` of ``n_population`` say how many it learned from.
    """
    frame = canonical_transactions(transactions)
    window = horizon if label_window is None else label_window
    at = default_cutoff(frame, window, time_unit) if cutoff is None else as_datetime(cutoff, "cutoff")
    spec = learn_spec(frame, at, window, time_unit=time_unit, btyd=btyd)
    if sample_size is not None and sample_size < 2:
        raise ClvlensError(f"sample_size: {sample_size} must be at least 2 customers (or None for all)")
    learn_from, sample = sample_transactions(frame, sample_size, eligible=pl.col("timestamp") < at + DAY)
    data = ltv_dataset(learn_from, at, spec=spec)
    if last_date(frame) + DAY < data.label_end:  # judged on every customer's data, not the sample's
        raise ClvlensError(
            f"cutoff: the label window {at.date() + DAY} to {data.label_end.date()} runs past the last transaction "
            f"({last_date(frame).date()}); use an earlier cutoff or a shorter horizon"
        )
    estimator = make_estimator(model, random_state=random_state, n_jobs=n_jobs, params=params)
    estimator.fit(data.X, data.y)
    trained = TrainedLTV(estimator, spec, at, model, data.features.height, float(np.mean(data.y)),
                         n_population=sample.population)
    trained.notes["training_sample"] = f"trained on {sample.describe()} seen by {at.date()}"
    if label_window is not None:
        trained.reported_horizon = horizon
        if trained.horizon_scale < 1.0:
            raise ClvlensError(f"label_window: {label_window!r} is longer than the horizon {horizon!r}")
    return trained


def predict_ltv(model: TrainedLTV | str | Path, transactions: Any, *, as_of: Any = None) -> pl.DataFrame:
    """Expected value over the model's horizon after ``as_of`` (default: the last date) for every customer.

    ``model`` is a :class:`TrainedLTV` or the folder it was saved to. Returns Polars ``customer_id, ltv_ml``.
    """
    trained = model if isinstance(model, TrainedLTV) else load_ltv(model)
    frame = canonical_transactions(transactions)
    at = last_date(frame) if as_of is None else as_datetime(as_of, "as_of")
    features = build_features(transactions if isinstance(transactions, FeatureCache) else frame, at, trained.spec)
    scale = trained.horizon_scale * trained.calibration_factor
    values = np.asarray(trained.estimator.predict(features), dtype=float) * scale
    return features.select("customer_id").with_columns(pl.Series("ltv_ml", values))


def load_ltv(path: str | Path) -> TrainedLTV:
    """Load a model saved with :meth:`TrainedLTV.save` (or a bare estimator's ``save``)."""
    data = read_metadata(Path(path))
    kind = data.get("kind")
    if kind not in MODELS:
        raise ClvlensError(f"{path}: unknown model kind {kind!r}")
    estimator = MODELS[kind].load(path)
    extra = data.get("extra") or {}
    if "feature_spec" not in extra:
        raise ClvlensError(f"{path}: metadata has no feature_spec; save through TrainedLTV.save")
    spec = FeatureSpec.from_dict(extra["feature_spec"])
    cutoff = as_datetime(extra["cutoff"], "cutoff")
    factor = extra.get("calibration_factor", 1.0)  # NaN (unavailable) is stored as NaN, older models have none
    return TrainedLTV(estimator, spec, cutoff, str(extra.get("model", kind)), int(extra.get("n_train", 0)),
                      float(extra.get("train_label_mean", float("nan"))), extra.get("reported_horizon"),
                      extra.get("window_scale"), float("nan") if factor is None else float(factor),
                      dict(extra.get("notes") or {}), extra.get("n_population"))


def describe(trained: TrainedLTV) -> str:
    """A one-paragraph JSON description of a trained model (for the CLI)."""
    return json.dumps({
        "model": trained.model,
        "cutoff": trained.cutoff.date().isoformat(),
        "horizon": trained.horizon,
        "label_window": trained.spec.horizon,
        "time_unit": trained.spec.time_unit,
        "n_train": trained.n_train,
        "n_population": trained.n_population,
        "train_label_mean": round(trained.train_label_mean, 4),
        "horizon_scale": trained.horizon_scale,
        "calibration_factor": trained.calibration_factor,
        "notes": trained.notes,
        "features": list(getattr(trained.estimator, "feature_names_", [])),
    })
