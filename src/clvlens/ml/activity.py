"""A LightGBM classifier of next-window activity: P(the customer buys at least once in the window after a date).

Trained on a time split: features at ``cutoff`` from transactions on or before it (:mod:`clvlens.ml.features`,
leakage-free by construction) and the label "at least one purchase day in the ``window`` after ``cutoff``", so the
whole label window must lie before the date it is then applied at. Saved as LightGBM's text format plus
``metadata.json`` (never pickle).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from clvlens.errors import ClvlensError
from clvlens.ml._common import read_metadata, read_text, write_metadata
from clvlens.ml.features import (
    DAY,
    FeatureCache,
    FeatureSpec,
    as_datetime,
    build_features,
    canonical_transactions,
    learn_spec,
    ltv_dataset,
    seen_by,
)
from clvlens.ml.lgbm import _BoosterModel, _lightgbm
from clvlens.summary.rfm import UNIT_DAYS

__all__ = ["ActivityClassifier", "TrainedActivity", "load_activity", "train_activity"]

#: from this many rows the classifier predicts on every core
_PARALLEL_PREDICT_ROWS = 100_000


class ActivityClassifier(_BoosterModel):
    """Gradient-boosted binary classifier (log-loss) of "buys in the window"; ``predict_proba`` gives P(buy).

    Fitted: ``booster_`` (None when every label is the same; see ``constant_probability_``), ``feature_names_``,
    ``categorical_levels_``.
    """

    kind = "activity"

    def fit(self, X: Any, y: Any) -> ActivityClassifier:
        """Fit on a feature table and 0/1 labels (1 = bought in the window)."""
        matrix, target = self._matrix_fit(X, y)
        if np.any((target != 0) & (target != 1)):
            raise ClvlensError("y: activity labels must be 0 or 1")
        rate = float(target.mean())
        self.constant_probability_ = rate if rate in (0.0, 1.0) else None
        self.booster_ = None if self.constant_probability_ is not None else self._train("binary", matrix, target)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """P(at least one purchase in the window), one per row."""
        matrix = self._matrix(X)
        if self.booster_ is None:
            return np.full(matrix.shape[0], float(self.constant_probability_ or 0.0))
        # blocks of rows on every core for many rows (no per-round synchronisation as in training)
        threads = max(1, os.cpu_count() or 1) if matrix.shape[0] >= _PARALLEL_PREDICT_ROWS else 1
        return np.clip(self._predict(self.booster_, matrix, threads), 0.0, 1.0)

    def _boosters(self) -> list[Any]:
        return [] if self.booster_ is None else [self.booster_]

    def save(self, path: str | Path) -> Path:
        """Write ``classifier.txt`` (LightGBM text format, when trained) and ``metadata.json`` into ``path``."""
        payload = {**self._base_metadata(), "constant_probability": self.constant_probability_}
        folder = write_metadata(Path(path), self.kind, payload)
        if self.booster_ is not None:
            self.booster_.save_model(str(folder / "classifier.txt"))
        return folder

    @classmethod
    def load(cls, path: str | Path) -> ActivityClassifier:
        """Read a folder written by :meth:`save`."""
        data = read_metadata(Path(path), cls.kind)
        model = cls()
        model._restore(data)
        model.constant_probability_ = data.get("constant_probability")
        model.booster_ = (
            None if model.constant_probability_ is not None
            else _lightgbm().Booster(model_str=read_text(Path(path), "classifier.txt"))
        )
        return model


@dataclass
class TrainedActivity:
    """A trained activity classifier with its feature spec, training cut-off and window (in days)."""

    model: ActivityClassifier
    spec: FeatureSpec
    train_cutoff: datetime
    window_days: float
    customers: int
    base_rate: float

    def predict(self, transactions: Any, as_of: Any) -> pl.DataFrame:
        """customer_id and ``p_active_ml`` for every customer with a purchase on or before ``as_of``."""
        features = build_features(transactions, as_of, self.spec)
        return features.select("customer_id").with_columns(
            pl.Series("p_active_ml", self.model.predict_proba(features))
        )

    def save(self, path: str | Path) -> Path:
        """The classifier folder, with the spec and the training facts in its metadata."""
        self.model.metadata_ = {
            "spec": self.spec.to_dict(), "train_cutoff": self.train_cutoff.date().isoformat(),
            "window_days": self.window_days, "customers": self.customers, "base_rate": self.base_rate,
        }
        return self.model.save(path)


def load_activity(path: str | Path) -> TrainedActivity:
    """Read what :meth:`TrainedActivity.save` wrote."""
    model = ActivityClassifier.load(path)
    extra = model.metadata_
    try:
        return TrainedActivity(
            model, FeatureSpec.from_dict(extra["spec"]), datetime.fromisoformat(extra["train_cutoff"]),
            float(extra["window_days"]), int(extra["customers"]), float(extra["base_rate"]),
        )
    except (KeyError, TypeError, ValueError):
        raise ClvlensError(f"{path}: the activity model's metadata lacks its feature spec or window") from None


def train_activity(
    transactions: Any, *, as_of: Any, window_days: float, time_unit: str = "W", random_state: int = 0,
    n_jobs: int = 1,
) -> TrainedActivity:
    """Train at ``as_of - window`` on "bought in the window up to ``as_of``", for scoring at ``as_of``.

    Only transactions on or before ``as_of`` are read. Raises ClvlensError when no customer bought before the
    training cut-off. ``transactions`` may be a :class:`~clvlens.ml.FeatureCache`: when it holds nothing after
    ``as_of``, the training features are built into it (a later prediction at the cut-off reuses them).
    """
    end = as_datetime(as_of, "as_of")
    days = int(np.ceil(window_days - 1e-9))
    if days < 1:
        raise ClvlensError(f"window: {window_days:g} days is too short to learn activity from")
    whole = canonical_transactions(transactions)
    frame = seen_by(whole, end)
    # the cache serves only when the training reads all of it: labels past as_of must never come from it
    source = transactions if isinstance(transactions, FeatureCache) and frame is whole else frame
    cutoff = end - timedelta(days=days)
    first = frame.get_column("timestamp").min()
    if first is None or first >= cutoff + DAY:  # type: ignore[operator]
        raise ClvlensError(
            f"window: no purchase before the activity model's training cut-off {cutoff.date()} "
            f"(the history must be longer than the {days}-day window)"
        )
    horizon = days / UNIT_DAYS[time_unit.upper()]
    spec = learn_spec(frame, cutoff, horizon, time_unit=time_unit)
    data = ltv_dataset(source, cutoff, spec=spec)
    labels = (data.labels.get_column("purchases").to_numpy() > 0).astype(float)
    estimator = ActivityClassifier(random_state=random_state, n_jobs=n_jobs)
    estimator.fit(data.X, labels)
    return TrainedActivity(estimator, spec, cutoff, float(days), int(labels.size), float(labels.mean()))
