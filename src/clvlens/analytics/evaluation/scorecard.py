"""The model scorecard: every model scored on the same holdout customers, in one table.

The customers are those with a purchase on or before ``calibration_end``; their actual value and purchases are the
spend and purchase days (a day's purchases are one transaction, as in the RFM summary) from the day after the
calibration end through ``observation_end``. A model that fails is kept as a row with its error message.

Scale: the scorecard scores a reproducible sample of those customers (``sample_size``, default
:data:`DEFAULT_SAMPLE`; every customer when there are fewer), the same customers on every run whatever the rows'
order (:mod:`clvlens.ml.sampling`). Every contender fits and trains on the sample's calibration data only, so the
cost is bounded by the sample, not the shop. Each figure has a standard error (column ``<figure>_se``, random
groups, see :mod:`.figures`), so a difference between two models can be read against it. The error covers which
customers were scored, with each model as fitted: the ML contenders train on a smaller sample
(:data:`DEFAULT_TRAIN_SIZE`), on which their ranking figures (Gini, top shares, Spearman, health) hold within
that error of a training on every customer, while their value-level figures (MAE, bias, totals) move with the
training customers' total by more (bench/bench_scorecard_train.py, docs/benchmarks.md); their note says so. Totals
(``predicted_total``, ``actual_total``) are over the scored customers (``customers`` of ``population``).
Contenders run on ``n_jobs`` threads at once (the heavy parts, LightGBM, scikit-learn's trees and numpy, run
outside Python's lock), so two cores are used where the machine has them.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from clvlens.analytics.evaluation import metrics
from clvlens.analytics.evaluation.figures import group_count, row_figures, standard_errors, with_errors
from clvlens.analytics.evaluation.predictors import FAMILIES, Context, Prediction, predict
from clvlens.errors import ClvlensError
from clvlens.ml.features import as_datetime, canonical_transactions
from clvlens.ml.sampling import CustomerSample, random_groups, sample_transactions
from clvlens.summary import rfm_summary
from clvlens.summary.rfm import sort_by_customer

DAY = timedelta(days=1)

DEFAULT_MODELS = (
    "bgnbd", "mbgnbd", "paretonbd", "lightgbm", "two_part", "baseline_gbr", "historical_average", "last_period",
)
METRIC_COLUMNS = (
    "mae_value", "rmse_value", "bias_value", "mae_purchases", "rmse_purchases", "bias_purchases",
    "top10_share", "top20_share", "gini_norm", "spearman", "decile_calibration_mae",
    "predicted_total", "actual_total",
    "health_auc", "health_brier", "health_calibration_error", "health_mean", "p_alive_auc",
)
#: the row of the frequency/recency heuristic of customer health (no value prediction: health metrics only)
HEURISTIC = "health_heuristic"
#: customers scored by default: on the simulated 100k shop, three independent samples of 25,000 ordered every
#: material pair of models (MAE 2% apart, Gini or health AUC 0.02 apart) as every customer does, and their figures
#: spread within 1.3 times the reported errors (about 1% of MAE, 0.006 of Gini, 0.003 of health AUC); smaller
#: samples also shrink the ML contenders' training below DEFAULT_TRAIN_SIZE, and their spread then grew past the
#: errors; 50,000 kept the same orders for more CPU (``python bench/bench_scorecard_sample.py``, docs/benchmarks.md)
DEFAULT_SAMPLE = 25_000
#: customers the ML contenders train on at most by default (see :mod:`.predictors`): the smallest size at which
#: the baseline GBR's and LightGBM's holdout Gini, averaged over random training draws, matches that of 20,000 and
#: more within the scored sample's standard error, on the simulated 100k shop and on CDNOW
#: (``python bench/bench_scorecard_train.py``, docs/benchmarks.md)
DEFAULT_TRAIN_SIZE = 15_000
#: the columns added for scale: customers in the holdout population, and each figure's standard error
SAMPLE_COLUMNS = ("population",)
ERROR_COLUMNS = tuple(f"{name}_se" for name in METRIC_COLUMNS)
# the contenders that take longest go first, so that the others fill the second core meanwhile (own CPU in a run
# on the simulated 100k shop, bench/bench_run_threads.py: 1.9, 0.6-0.7, 0.4, 0.4 s; the rest 0.1 s or less)
_SLOW_FIRST = ("baseline_gbr", "two_part", "paretonbd", "lightgbm")
#: runs named calls (the slowest first) on a caller's threads and returns their results in order: see scorecard()
Spread = Callable[[Sequence[tuple[str, Callable[[], Any]]]], list[Any]]


@dataclass
class Scorecard:
    """Scorecard tables (Polars).

    - ``table``: one row per model: model, family, customers (scored), the metrics, fit_seconds, note, error,
      population (customers seen by the calibration end) and ``<metric>_se`` (the standard error of each metric
      over the sampled customers);
    - ``deciles``: model, decile (10 = highest predicted), customers, mean_predicted, mean_actual, mae;
    - ``gains``: model, share_customers, share_revenue (the gain/lift curve on a 1% grid; model "perfect" is the
      ranking by actual value);
    - ``predictions``: customer_id, model, predicted_value, predicted_purchases, actual_value, actual_purchases.
    """

    table: pl.DataFrame
    deciles: pl.DataFrame
    gains: pl.DataFrame
    predictions: pl.DataFrame
    calibration_end: datetime
    observation_end: datetime
    holdout_length: float
    time_unit: str
    sample: CustomerSample = field(default_factory=lambda: CustomerSample(0, 0))
    #: the scored customers' transactions (what a further row, such as a seasonal one, may learn from)
    transactions: pl.DataFrame | None = field(default=None, repr=False)

    def to_markdown(self, digits: int = 3) -> str:
        """The table as markdown (numbers rounded, errors shortened)."""
        columns = ["model", *METRIC_COLUMNS, "fit_seconds", "error"]
        lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        for row in self.table.iter_rows(named=True):
            cells = []
            for name in columns:
                value = row.get(name)
                if isinstance(value, float):
                    cells.append("" if math.isnan(value) else f"{value:,.{digits}f}")
                else:
                    cells.append(str(value or "")[:110].replace("|", "/"))
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)


def scorecard(
    transactions: Any,
    calibration_end: Any,
    observation_end: Any,
    *,
    time_unit: str = "W",
    models: Sequence[str] = DEFAULT_MODELS,
    random_state: int = 0,
    n_jobs: int = 1,
    sample_size: int | None = DEFAULT_SAMPLE,
    train_size: int | None = DEFAULT_TRAIN_SIZE,
    stop: threading.Event | None = None,
    spread: Spread | None = None,
) -> Scorecard:
    """Score every model in ``models`` on the customers seen by ``calibration_end`` over the holdout to
    ``observation_end`` (both dates inclusive): on a reproducible sample of ``sample_size`` of them (None: all).
    The ML contenders train on at most ``train_size`` of them (None: all). ``n_jobs`` contenders run at once;
    or ``spread``, given, runs them: it takes (name, call) pairs, the slowest first, and returns their results in
    that order (a caller's pool of threads, shared with its other work).
    Once ``stop`` is set, no further contender starts and a ClvlensError says so (a run that failed stops its
    scorecard this way). See :class:`Scorecard` for the tables."""
    unknown = [m for m in models if m not in FAMILIES]
    if unknown:
        raise ClvlensError(f"models: unknown model {unknown[0]!r}; choose from {', '.join(FAMILIES)}")
    if not models:
        raise ClvlensError("models: no model to score")
    for label, size in (("sample size", sample_size), ("training sample size", train_size)):
        if size is not None and size < 2:
            raise ClvlensError(f"{label}: {size} must be at least 2 customers (or None for all)")
    frame = canonical_transactions(transactions)
    cal = as_datetime(calibration_end, "calibration_end")
    end = as_datetime(observation_end, "observation_end")
    unit = time_unit.upper()
    frame, sample = sample_transactions(frame, sample_size, eligible=pl.col("timestamp") < cal + DAY)
    summary = rfm_summary(frame.select("customer_id", "timestamp", "amount"), time_unit=unit,
                          observation_end=end, calibration_end=cal)
    summary = sort_by_customer(summary)
    if summary.is_empty():
        raise ClvlensError(f"calibration_end: no customer bought on or before {cal.date()}")
    holdout = float(summary.get_column("duration_holdout")[0])
    calibration = frame.filter(pl.col("timestamp") < cal + DAY)
    rfm = summary.drop("frequency_holdout", "monetary_value_holdout", "value_holdout", "duration_holdout")
    workers = max(1, int(n_jobs))
    # contenders share the cores: each LightGBM trains on one thread when several contenders run at once
    ctx = Context(rfm, calibration, cal, holdout, unit, random_state, 1 if workers > 1 else n_jobs, train_size)
    actual_value = summary.get_column("value_holdout").to_numpy().astype(float)
    actual_purchases = summary.get_column("frequency_holdout").to_numpy().astype(float)
    groups = random_groups(summary.get_column("customer_id"), group_count(actual_value.size))

    def score(name: str) -> tuple[dict[str, Any], list[pl.DataFrame] | None]:
        """The contender's row and its decile, gain and prediction tables (None when it failed)."""
        if stop is not None and stop.is_set():
            raise ClvlensError(f"scorecard: stopped before {name} was scored")
        started = time.perf_counter()
        try:
            result = predict(name, ctx)
            _check(result, actual_value.size)
        except Exception as exc:
            return _error_row(name, actual_value.size, time.perf_counter() - started, exc), None
        seconds = time.perf_counter() - started
        row: dict[str, Any] = {"model": name, "family": FAMILIES[name], "customers": int(actual_value.size)}
        row.update(figures_with_errors(result, actual_value, actual_purchases, groups))
        row.update({"fit_seconds": seconds, "note": result.note, "error": None})
        deciles = pl.DataFrame(metrics.decile_table(result.value, actual_value))
        tables = [
            deciles.select(pl.lit(name).alias("model"), pl.all()),
            _gains(name, result.value, actual_value),
            _predictions(summary, name, result, actual_value, actual_purchases),
        ]
        return row, tables

    order = sorted(models, key=lambda m: _SLOW_FIRST.index(m) if m in _SLOW_FIRST else len(_SLOW_FIRST))
    if spread is not None:
        done = dict(zip(order, spread([(f"scorecard-{name}", functools.partial(score, name)) for name in order]),
                        strict=True))
        scored = [done[name] for name in models]
    elif workers > 1:
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="scorecard")
        try:
            futures = {name: pool.submit(score, name) for name in order}
            scored = [futures[name].result() for name in models]
        finally:  # on an interruption, contenders not yet started never start
            pool.shutdown(wait=True, cancel_futures=True)
    else:
        scored = [score(name) for name in models]

    rows, decile_frames, gain_frames, prediction_frames = [], [], [], []
    for row, tables in scored:
        rows.append(row)
        if tables is not None:
            decile_frames.append(tables[0])
            gain_frames.append(tables[1])
            prediction_frames.append(tables[2])
    rows.append(_heuristic_row(rfm, actual_purchases > 0, groups))
    gain_frames.append(_gains("perfect", actual_value, actual_value))
    for row in rows:
        row["population"] = sample.population
    return Scorecard(
        table=_table(rows),
        deciles=pl.concat(decile_frames) if decile_frames else _empty_deciles(),
        gains=pl.concat(gain_frames),
        predictions=pl.concat(prediction_frames) if prediction_frames else _empty_predictions(),
        calibration_end=cal,
        observation_end=end,
        holdout_length=holdout,
        time_unit=unit,
        sample=sample,
        transactions=frame,
    )


def figures_with_errors(result: Prediction, actual_value: np.ndarray, actual_purchases: np.ndarray,
                        groups: np.ndarray) -> dict[str, float]:
    """Every metric of a contender's prediction and its random-group standard error (``<metric>_se``)."""
    arrays = {"value": result.value, "purchases": result.purchases, "active": result.active,
              "alive": result.alive, "actual_value": actual_value, "actual_purchases": actual_purchases}
    figures = row_figures(**arrays)
    return with_errors(figures, standard_errors(row_figures, arrays, groups), METRIC_COLUMNS)


def _heuristic_row(rfm: pl.DataFrame, bought: np.ndarray, groups: np.ndarray) -> dict[str, Any]:
    """The heuristic health score (repeat purchase days / age - time since the last purchase / the oldest age):
    its AUC only, as it is no probability."""
    from clvlens.analytics.health import heuristic_score

    score = heuristic_score(*(rfm.get_column(c).to_numpy().astype(float) for c in ("frequency", "recency", "T")))
    row: dict[str, Any] = {"model": HEURISTIC, "family": "naive", "customers": int(bought.size)}
    row.update(dict.fromkeys(METRIC_COLUMNS, math.nan))

    def figures(score: np.ndarray, bought: np.ndarray) -> dict[str, float]:
        return metrics.activity_metrics(score, bought, probability=False)

    arrays = {"score": score, "bought": bought}
    row.update(with_errors(figures(**arrays), standard_errors(figures, arrays, groups), METRIC_COLUMNS))
    row.update({"health_mean": math.nan, "health_mean_se": math.nan, "fit_seconds": 0.0,
                "note": "health ranking only: frequency / age - silence / oldest age", "error": None})
    return row


def _check(result: Prediction, n: int) -> None:
    if result.value.shape != (n,) or not np.all(np.isfinite(result.value)):
        raise ClvlensError("predicted_value: the model returned missing or non-finite predictions")


def _error_row(name: str, customers: int, seconds: float, exc: Exception) -> dict[str, Any]:
    message = " ".join(str(exc).split()) or type(exc).__name__
    if not isinstance(exc, ClvlensError):
        message = f"{type(exc).__name__}: {message}"
    row: dict[str, Any] = {"model": name, "family": FAMILIES[name], "customers": customers}
    row.update(dict.fromkeys(METRIC_COLUMNS, math.nan))
    row.update({"fit_seconds": seconds, "note": "", "error": message})
    return row


def _table(rows: list[dict[str, Any]]) -> pl.DataFrame:
    schema: dict[str, Any] = {"model": pl.String, "family": pl.String, "customers": pl.Int64}
    schema.update(dict.fromkeys(METRIC_COLUMNS, pl.Float64))
    schema.update({"fit_seconds": pl.Float64, "note": pl.String, "error": pl.String, "population": pl.Int64})
    schema.update(dict.fromkeys(ERROR_COLUMNS, pl.Float64))
    if not rows:
        return pl.DataFrame(schema=schema)
    table = pl.DataFrame([{name: row.get(name) for name in schema} for row in rows], schema=schema, orient="row")
    # a metric that could not be computed (a model that failed, or no purchases to rank) is missing, not NaN
    return table.with_columns(pl.col(pl.Float64).fill_nan(None))


def _gains(name: str, predicted: np.ndarray, actual: np.ndarray) -> pl.DataFrame:
    return pl.DataFrame({
        "model": [name] * metrics.GAIN_GRID.size,
        "share_customers": metrics.GAIN_GRID,
        "share_revenue": metrics.gains_on_grid(predicted, actual),
    })


def _predictions(summary: pl.DataFrame, name: str, result: Prediction, actual_value: np.ndarray,
                 actual_purchases: np.ndarray) -> pl.DataFrame:
    purchases = result.purchases if result.purchases is not None else np.full(actual_value.size, np.nan)
    return pl.DataFrame({
        "customer_id": summary.get_column("customer_id"),
        "model": [name] * actual_value.size,
        "predicted_value": result.value,
        "predicted_purchases": np.asarray(purchases, dtype=float),
        "actual_value": actual_value,
        "actual_purchases": actual_purchases,
    })


def _empty_deciles() -> pl.DataFrame:
    return pl.DataFrame(schema={"model": pl.String, "decile": pl.Int64, "customers": pl.Int64,
                                "mean_predicted": pl.Float64, "mean_actual": pl.Float64, "mae": pl.Float64})


def _empty_predictions() -> pl.DataFrame:
    return pl.DataFrame(schema={"customer_id": pl.String, "model": pl.String, "predicted_value": pl.Float64,
                                "predicted_purchases": pl.Float64, "actual_value": pl.Float64,
                                "actual_purchases": pl.Float64})
