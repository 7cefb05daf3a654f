"""Every scorecard contender, each predicting holdout value (and purchases where it can) for the same customers.

All contenders see only transactions on or before the calibration end (``calibration``); the holdout is used by
the scorecard for the actual values alone.

- BTYD (``bgnbd``, ``mbgnbd``, ``paretonbd``): the transaction model fitted on the calibration RFM summary gives
  the expected purchases over the holdout length; Gamma-Gamma (fitted on repeat customers) gives the expected spend
  per purchase; value = purchases x spend. A fit that does not converge is retried with ``penalizer_coef`` 0.01.
- ML (``lightgbm``, ``two_part``, ``baseline_gbr``): trained on features at ``calibration_end - holdout`` with the
  value of the holdout-long window after it as label (which therefore ends at the calibration end), then applied to
  features at the calibration end. No purchase prediction. They train on at most ``train_size`` customers (the same
  reproducible sample for the three, see :mod:`clvlens.ml.sampling`): the baseline's exact gradient boosting (200
  trees, on one core) costs about a second per 10,000-14,000 customers (scikit-learn's own trees: per 4,500-7,000;
  bench/bench_baseline_trees.py), and the figures need many more customers scored than the models need to learn. The
  training table is built once and the features the three predict on once, each when a contender first needs it, so
  the baseline (the longest) starts training while another thread builds the prediction features.
- ``historical_average``: the customer's calibration value (and purchases) per time unit x the holdout length,
  with the customer's age floored at the holdout length (a customer seen for less than a holdout is assumed to
  repeat what they did, not to extrapolate a few days' spend);
- ``last_period``: the value (and purchase days) of the last holdout-long window of the calibration period.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from clvlens.errors import ClvlensError
from clvlens.ml import build_features, learn_spec, ltv_dataset, make_estimator
from clvlens.ml.features import FeatureSpec
from clvlens.ml.sampling import CustomerSample, sample_transactions
from clvlens.models import BetaGeo, GammaGamma, ModifiedBetaGeo, ParetoNBD
from clvlens.summary.rfm import UNIT_DAYS

FAMILIES = {
    "bgnbd": "btyd", "mbgnbd": "btyd", "paretonbd": "btyd",
    "lightgbm": "ml", "two_part": "ml", "baseline_gbr": "ml",
    "historical_average": "naive", "last_period": "naive",
}
TRANSACTION_MODELS = {"bgnbd": BetaGeo, "mbgnbd": ModifiedBetaGeo, "paretonbd": ParetoNBD}
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Context:
    """What every contender may use: the calibration summary and transactions, and the holdout length."""

    rfm: pl.DataFrame  # calibration summary, sorted by customer_id (the holdout columns are never read here)
    calibration: pl.DataFrame  # transactions on or before calibration_end
    calibration_end: datetime
    holdout_units: float
    time_unit: str
    random_state: int = 0
    n_jobs: int = 1  # LightGBM threads of each ML contender
    train_size: int | None = None  # customers the ML contenders train on at most (None: all)
    # what several contenders share (the ML training table, the features at the calibration end, the Gamma-Gamma
    # spend), each computed once under its own lock (a contender waiting for one never blocks another's)
    shared: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)
    key_locks: dict[str, threading.Lock] = field(default_factory=dict, compare=False, repr=False)

    @property
    def holdout_days(self) -> float:
        return self.holdout_units * UNIT_DAYS[self.time_unit]

    def once(self, key: str, compute: Callable[[], Any]) -> Any:
        """``compute()`` the first time ``key`` is asked for (by any thread), its result (or error) after."""
        with self.lock:
            key_lock = self.key_locks.setdefault(key, threading.Lock())
        with key_lock:
            if key not in self.shared:
                try:
                    self.shared[key] = (compute(), None)
                except Exception as exc:  # kept and raised to every contender that needs it
                    self.shared[key] = (None, exc)
        result, error = self.shared[key]
        if error is not None:
            raise error
        return result


@dataclass
class Prediction:
    """Predicted holdout value and purchases (None when the model has none) per customer of ``Context.rfm``."""

    value: np.ndarray
    purchases: np.ndarray | None
    note: str = ""
    #: P(at least one purchase in the holdout), where the model gives one (BTYD p_active, the two-part classifier)
    active: np.ndarray | None = None
    #: P(alive) at the calibration end (BTYD models)
    alive: np.ndarray | None = None


def _fit_with_fallback(make: Callable[[float], object], fit: Callable[[object], object]) -> tuple[object, str]:
    try:
        return fit(make(0.0)), ""
    except ClvlensError as first:
        try:
            return fit(make(0.01)), f"penalizer_coef=0.01 (plain fit failed: {str(first)[:80]})"
        except ClvlensError:
            raise first from None


def expected_spend(rfm: pl.DataFrame, time_unit: str) -> tuple[np.ndarray, str]:
    """Gamma-Gamma expected spend per purchase for every customer (population mean for one-time buyers)."""
    x = rfm.get_column("frequency").to_numpy().astype(float)
    m = rfm.get_column("monetary_value").to_numpy().astype(float)
    repeat = (x > 0) & (m > 0)
    if repeat.sum() < 3:
        raise ClvlensError("frequency: fewer than three repeat customers to fit Gamma-Gamma spend on")
    model, note = _fit_with_fallback(
        lambda pen: GammaGamma(time_unit=time_unit, penalizer_coef=pen),
        lambda mdl: mdl.fit(x[repeat], m[repeat]),  # type: ignore[attr-defined]
    )
    spend = model.conditional_expected_average_profit(x, np.where(repeat, m, 0.0))  # type: ignore[attr-defined]
    return np.asarray(spend, dtype=float), note


def btyd(name: str, ctx: Context) -> Prediction:
    """Expected holdout purchases from a BTYD model x Gamma-Gamma expected spend."""
    cls = TRANSACTION_MODELS[name]
    x, tx, T = (ctx.rfm.get_column(c).to_numpy().astype(float) for c in ("frequency", "recency", "T"))
    model, note = _fit_with_fallback(
        lambda pen: cls(time_unit=ctx.time_unit, penalizer_coef=pen),
        lambda mdl: mdl.fit(x, tx, T),  # type: ignore[attr-defined]
    )
    purchases = np.asarray(
        model.conditional_expected_number_of_purchases_up_to_time(ctx.holdout_units, x, tx, T),  # type: ignore
        dtype=float,
    )
    active = np.asarray(
        model.conditional_probability_active(ctx.holdout_units, x, tx, T), dtype=float  # type: ignore[attr-defined]
    )
    alive = np.asarray(model.conditional_probability_alive(x, tx, T), dtype=float)  # type: ignore[attr-defined]
    spend, spend_note = ctx.once("spend", lambda: expected_spend(ctx.rfm, ctx.time_unit))
    notes = "; ".join(n for n in (note, f"Gamma-Gamma {spend_note}" if spend_note else "") if n)
    return Prediction(purchases * spend, purchases, notes, active, alive)


@dataclass(frozen=True)
class MLTraining:
    """What every ML contender learns from (built once per scorecard)."""

    train_X: pl.DataFrame
    train_y: np.ndarray
    train_cutoff: datetime
    spec: FeatureSpec  # the feature settings, shared with the features the contenders predict on
    trained_on: CustomerSample  # customers trained on, of those seen by the training cut-off


def ml_training(ctx: Context) -> MLTraining:
    """Features at calibration_end - holdout with the value of the holdout-long window after it as label, for a
    reproducible sample of at most ``ctx.train_size`` customers."""
    train_cutoff = ctx.calibration_end - timedelta(days=math.ceil(ctx.holdout_days - 1e-9))
    first = ctx.calibration.get_column("timestamp").min()
    if first is None or first >= train_cutoff + DAY:
        raise ClvlensError(
            f"calibration_end: no history before the training cut-off {train_cutoff.date()} "
            "(the ML models need a calibration period at least twice the holdout)"
        )
    spec = learn_spec(ctx.calibration, train_cutoff, ctx.holdout_units, time_unit=ctx.time_unit)
    learn_from, trained_on = sample_transactions(ctx.calibration, ctx.train_size,
                                                 eligible=pl.col("timestamp") < train_cutoff + DAY)
    train = ltv_dataset(learn_from, train_cutoff, spec=spec)
    if train.label_end > ctx.calibration_end + DAY:  # pragma: no cover - guarded by the cut-off arithmetic
        raise ClvlensError("calibration_end: the training label window would overlap the holdout")
    return MLTraining(train.X, train.y, train_cutoff, spec, trained_on)


def ml_features(ctx: Context) -> pl.DataFrame:
    """Features at calibration_end, one row per customer of the calibration data (what the contenders predict on)."""
    training: MLTraining = ctx.once("ml_training", lambda: ml_training(ctx))
    return build_features(ctx.calibration, ctx.calibration_end, training.spec)


def ml(name: str, ctx: Context) -> Prediction:
    """Train at calibration_end - holdout on the holdout-long window after it; predict at calibration_end."""
    data: MLTraining = ctx.once("ml_training", lambda: ml_training(ctx))
    estimator = make_estimator(name, random_state=ctx.random_state, n_jobs=ctx.n_jobs)
    estimator.fit(data.train_X, data.train_y)
    features: pl.DataFrame = ctx.once("ml_features", lambda: ml_features(ctx))
    columns: dict[str, Any] = {"customer_id": features.get_column("customer_id")}
    if hasattr(estimator, "predict_with_probability"):  # the two-part model: its P(buy) is the health score
        value, columns["active"] = estimator.predict_with_probability(features)
    else:
        value = estimator.predict(features)
    columns["value"] = np.asarray(value, dtype=float)
    aligned = ctx.rfm.select("customer_id").join(pl.DataFrame(columns), on="customer_id", how="left")
    note = (f"trained on {data.trained_on.describe()} at {data.train_cutoff.date()}"
            + ("" if data.trained_on.complete else "; the _se columns hold this training fixed"))
    active = aligned.get_column("active").fill_null(0.0).to_numpy() if "active" in aligned.columns else None
    return Prediction(aligned.get_column("value").fill_null(0.0).to_numpy(), None, note, active)


def historical_average(ctx: Context) -> Prediction:
    """Calibration value and purchases per time unit (age floored at the holdout length) x holdout length."""
    T = ctx.rfm.get_column("T").to_numpy().astype(float)
    age = np.maximum(T, ctx.holdout_units)
    share = ctx.holdout_units / age
    value = ctx.rfm.get_column("total_value").to_numpy().astype(float) * share
    purchases = (ctx.rfm.get_column("frequency").to_numpy().astype(float) + 1.0) * share
    return Prediction(value, purchases)


def last_period(ctx: Context) -> Prediction:
    """Value and purchase days in the last holdout-long window of the calibration period."""
    stop = ctx.calibration_end + DAY
    start = stop - timedelta(days=ctx.holdout_days)
    window = (
        ctx.calibration.filter((pl.col("timestamp") >= start) & (pl.col("timestamp") < stop))
        .group_by("customer_id")
        .agg(pl.col("amount").sum().alias("value"),
             pl.col("timestamp").dt.truncate("1d").n_unique().cast(pl.Float64).alias("purchases"))
    )
    aligned = ctx.rfm.select("customer_id").join(window, on="customer_id", how="left").fill_null(0.0)
    return Prediction(aligned.get_column("value").to_numpy(), aligned.get_column("purchases").to_numpy())


def predict(name: str, ctx: Context) -> Prediction:
    """Run one contender by name."""
    if name in TRANSACTION_MODELS:
        return btyd(name, ctx)
    if FAMILIES.get(name) == "ml":
        return ml(name, ctx)
    if name == "historical_average":
        return historical_average(ctx)
    if name == "last_period":
        return last_period(ctx)
    raise ClvlensError(f"models: unknown model {name!r}; choose from {', '.join(FAMILIES)}")
