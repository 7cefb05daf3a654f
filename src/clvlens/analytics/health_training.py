"""The learned health score's training, which needs only the transactions (not the fitted transaction model).

The health step (:mod:`clvlens.analytics.health`) trains its activity classifier (:mod:`clvlens.ml.activity`)
twice, on the same stable sample of customers: at the validation split (the observation end minus the validation
window), to be compared with the other scores, and at the observation end, to score every customer. Neither
training reads the fitted model, so a run queues :func:`train_health_classifiers` beside it right after the
customer summary, beside the model fits (:mod:`clvlens.pipeline.run`), and hands the result to
:func:`~clvlens.analytics.health.health_scores`, which otherwise trains in line. Either way the classifiers, the
sample and the notes are the same: a training that fails is kept as its error and raised where the classifier is
used.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl

from clvlens.analytics.sampling import sample_mask
from clvlens.ml.activity import TrainedActivity, train_activity
from clvlens.ml.features import FeatureCache
from clvlens.models import parse_horizon

#: customers the scores are validated and the classifier trained on by default (a stable hash sample). On the
#: simulated 100k and 1M shops 30,000 keep the choice made on 50,000, each score's AUC moves by about the 95% margin
#: of the deciding difference (0.0012-0.0016 at 30,000) or less, and a run takes 0.7 CPU s less
#: (bench/bench_health_sample.py, docs/benchmarks.md)
HEALTH_SAMPLE = 30_000
#: from this many training customers LightGBM trains on every core: below it (the default sample included) one
#: thread, since on a busy 2-core machine OpenMP threads waiting on each other took 30x longer per round (measured)
THREADED_FROM = 200_000
MIN_VALIDATION_DAYS = 14


@dataclass
class HealthTraining:
    """The sample and the two classifiers (or the errors that stopped them)."""

    #: the sampled customers' transactions, in one order whatever the log's
    learning: pl.DataFrame
    #: the customers validated on and trained on, in words (run_info health_validation_sample)
    sample_note: str
    #: the validation window in days; None when the history is too short to validate on
    validation_days: int | None
    #: the window the classifier for every customer learns (the validation window, else the health window)
    learn_days: int
    validation: TrainedActivity | Exception | None
    final: TrainedActivity | Exception
    #: ``learning``'s feature parts built so far (the final classifier's training features, at the validation
    #: split): the validation scores the classifiers at that split, and reads them from here
    features: FeatureCache | None = None

    @staticmethod
    def take(trained: TrainedActivity | Exception | None) -> TrainedActivity:
        """The classifier, or its training's error raised."""
        if isinstance(trained, Exception):
            raise trained
        if trained is None:
            raise ValueError("no classifier was trained for this split")
        return trained


def validation_window_days(first_purchase: datetime, observation_end: datetime, window_days: float) -> int | None:
    """The window the choice is validated on (see :mod:`clvlens.analytics.health`); None when the history is too
    short."""
    span = (observation_end - first_purchase).days
    if span >= 3 * window_days:
        return math.ceil(window_days - 1e-9)
    weeks = span // 3 // 7
    return weeks * 7 if weeks * 7 >= MIN_VALIDATION_DAYS else None


def lightgbm_threads(customers: int) -> int:
    """LightGBM threads: every core for a large training set, one for a small one."""
    return max(1, os.cpu_count() or 1) if customers >= THREADED_FROM else 1


def train_health_classifiers(
    transactions: pl.DataFrame,
    customers: pl.DataFrame,
    *,
    window: str,
    time_unit: str,
    observation_end: datetime,
    random_state: int = 0,
    sample: int | None = HEALTH_SAMPLE,
) -> HealthTraining:
    """Both classifiers of the health step, on its sample of ``customers`` (customer_id); ``transactions`` must hold
    only what was observed by ``observation_end``."""
    window_days = parse_horizon(window, "D")
    mask = sample_mask(customers.get_column("customer_id"), sample)
    learning = transactions if mask is None else transactions.filter(
        pl.col("customer_id").is_in(customers.get_column("customer_id").filter(pl.Series(mask)).implode())
    ).sort("customer_id", "timestamp", "amount")  # the learners see the sample in one order, whatever the log's
    sample_note = (f"all {customers.height:,} customers" if mask is None else
                   f"{int(mask.sum()):,} of {customers.height:,} customers (stable hash of customer_id)")
    first = transactions.get_column("timestamp").min()
    days = validation_window_days(first, observation_end, window_days)  # type: ignore[arg-type]
    validation = None
    if days is not None:
        split = observation_end - timedelta(days=days)
        seen = learning.filter(pl.col("timestamp") < split + timedelta(days=1)).get_column("customer_id").n_unique()
        validation = _attempt(lambda: train_activity(learning, as_of=split, window_days=days, time_unit=time_unit,
                                                     random_state=random_state, n_jobs=lightgbm_threads(seen)))
    learn_days = days or math.ceil(window_days)
    trained_on = customers.height if mask is None else int(mask.sum())
    features = FeatureCache(learning)
    final = _attempt(lambda: train_activity(features, as_of=observation_end, window_days=learn_days,
                                            time_unit=time_unit, random_state=random_state,
                                            n_jobs=lightgbm_threads(trained_on)))
    return HealthTraining(learning, sample_note, days, learn_days, validation, final, features)


def _attempt(train: Callable[[], TrainedActivity]) -> TrainedActivity | Exception:
    try:
        return train()
    except Exception as exc:  # the learned score is optional: its error becomes a note where it is used
        return exc
