"""How many customers the scorecard's ML contenders need to train on: holdout figures against the training size.

    python bench/bench_scorecard_train.py /tmp/scale/scale_100000.parquet CDNOW \
        --sizes 8000,10000,12000,15000,20000 --draws 4

For each source (a file `clvlens run` reads, or CDNOW for the shared CDNOW master file) the scorecard's own set-up
is rebuilt: its sample of DEFAULT_SAMPLE customers (every customer when fewer), the calibration end a quarter of the
observed span before the last day, the training table at the calibration end minus the holdout for every sampled
customer seen by then. Each ML contender (baseline GBR with the seeds' definition, LightGBM, two-part) is then
trained on ``--draws`` simple random subsets of each size (seeded) and on the whole table, and scored on the same
customers as the scorecard: the holdout Gini (normalised) and MAE of value, their mean and spread over the draws,
and the training CPU seconds. The last column is the scorecard's own standard error of the figure over the scored
customers (which holds the model fixed): a size is "enough" when the mean over draws is within about one such error
of the larger sizes' mean. CPU time is the steadier cost figure on a shared machine.
"""

from __future__ import annotations

import argparse
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

CDNOW = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "cdnow" / "CDNOW_master.txt.gz"
MODELS = ("baseline_gbr", "lightgbm", "two_part")


def _load(source: str) -> pl.DataFrame:
    from clvlens.data import load_cdnow, load_source

    if source.upper() == "CDNOW":
        return load_cdnow(CDNOW).transactions
    return load_source(source).transactions


def scorecard_setup(source: str, train_size: int | None, scored: int | None = 0) -> tuple[Any, pl.DataFrame]:
    """The scorecard's own set-up for a source: the contenders' context (its sample of ``scored`` customers: 0 for
    DEFAULT_SAMPLE, None for every customer; the calibration end a quarter of the observed span before the last
    day, ML training on at most ``train_size`` customers) and the sample's summary with the holdout columns."""
    from clvlens.analytics.evaluation.predictors import Context
    from clvlens.analytics.evaluation.scorecard import DEFAULT_SAMPLE
    from clvlens.ml.sampling import sample_transactions
    from clvlens.pipeline.learning import scorecard_holdout
    from clvlens.summary import rfm_summary
    from clvlens.summary.rfm import sort_by_customer

    transactions = _load(source)
    end = transactions["timestamp"].max().replace(hour=0, minute=0, second=0, microsecond=0)
    calibration_end = end - scorecard_holdout(transactions["timestamp"].min(), end, None)
    day = timedelta(days=1)
    size = DEFAULT_SAMPLE if scored == 0 else scored
    frame, _ = sample_transactions(transactions, size, eligible=pl.col("timestamp") < calibration_end + day)
    summary = sort_by_customer(rfm_summary(frame.select("customer_id", "timestamp", "amount"), time_unit="W",
                                           observation_end=end, calibration_end=calibration_end))
    rfm = summary.drop("frequency_holdout", "monetary_value_holdout", "value_holdout", "duration_holdout")
    ctx = Context(rfm, frame.filter(pl.col("timestamp") < calibration_end + day), calibration_end,
                  float(summary["duration_holdout"][0]), "W", 0, 1, train_size)
    return ctx, summary


def _sd(values: list[float]) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="+")
    parser.add_argument("--sizes", default="8000,10000,12000,15000,20000")
    parser.add_argument("--draws", type=int, default=4)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--scored", default="default",
                        help="customers scored: the scorecard's sample (default), a number, or 'all'; with 'all' and "
                             "sizes beyond the scorecard's this measures the run's ML LTV training sample")
    parser.add_argument("--jobs", type=int, default=1, help="LightGBM threads (the run's ML LTV uses -1: every core)")
    args = parser.parse_args()
    scored = 0 if args.scored == "default" else None if args.scored == "all" else int(args.scored)
    from clvlens.analytics.evaluation import metrics
    from clvlens.analytics.evaluation.figures import group_count, standard_errors
    from clvlens.analytics.evaluation.predictors import ml_features, ml_training
    from clvlens.ml import make_estimator
    from clvlens.ml.sampling import random_groups

    sizes = [int(s) for s in args.sizes.split(",")]
    print("| source | model | train customers | draws | Gini mean | Gini sd | MAE mean | MAE sd | fit CPU s | "
          "scored se (Gini / MAE) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for source in args.sources:
        ctx, summary = scorecard_setup(source, train_size=None, scored=scored)
        training = ml_training(ctx)
        features = ml_features(ctx)
        actual = summary.select("customer_id", "value_holdout")
        groups = random_groups(actual["customer_id"], group_count(actual.height))
        pool = training.train_X.height
        rng = np.random.default_rng(1)
        for model in args.models.split(","):
            for size in [s for s in sizes if s < pool] + [pool]:
                ginis, maes, cpus, errors = [], [], [], []
                for _ in range(args.draws if size < pool else 1):
                    rows = np.sort(rng.choice(pool, size=size, replace=False))
                    estimator = make_estimator(model, random_state=0, n_jobs=args.jobs)
                    started = time.process_time()
                    estimator.fit(training.train_X[rows], training.train_y[rows])
                    cpus.append(time.process_time() - started)
                    predicted = pl.DataFrame({"customer_id": features["customer_id"],
                                              "p": estimator.predict(features)})
                    joined = actual.join(predicted, on="customer_id", how="left").fill_null(0.0)
                    p, a = joined["p"].to_numpy(), joined["value_holdout"].to_numpy()
                    ginis.append(metrics.normalized_gini(p, a))
                    maes.append(metrics.mae(p, a))
                    errors.append(standard_errors(
                        lambda p, a: {"gini": metrics.normalized_gini(p, a), "mae": metrics.mae(p, a)},
                        {"p": p, "a": a}, groups))
                se_gini = float(np.mean([e["gini"] for e in errors]))
                se_mae = float(np.mean([e["mae"] for e in errors]))
                label = f"{size:,}" + (" (all)" if size == pool else "")
                print(f"| {Path(source).name} | {model} | {label} | {len(ginis)} | {np.mean(ginis):.4f} | "
                      f"{_sd(ginis):.4f} | {np.mean(maes):.2f} | {_sd(maes):.2f} | {np.mean(cpus):.2f} | "
                      f"{se_gini:.4f} / {se_mae:.2f} |", flush=True)


if __name__ == "__main__":
    main()
