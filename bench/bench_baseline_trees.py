"""The scorecard's baseline GBR: its own exact trees against scikit-learn's, in time and in what they predict.

    python bench/bench_baseline_trees.py /tmp/clvlens-scale/scale_100000.parquet CDNOW --repeat 3

For each source (a file `clvlens run` reads, or CDNOW for the shared CDNOW master file) the scorecard's own set-up
is rebuilt as in bench/bench_scorecard_train.py: its sample of DEFAULT_SAMPLE customers, the calibration end a
quarter of the observed span before the last day, and the baseline's training table at the calibration end minus the
holdout for at most DEFAULT_TRAIN_SIZE (15,000) of the sampled customers, the table the scorecard trains on. The
baseline with the seeds' definition (200 trees of depth 3, learning rate 0.05) is then fitted both ways,
alternating, ``--repeat`` times each: with the trees grown by clvlens (ml/_exact_boosting.py) and grown by
scikit-learn's GradientBoostingRegressor. Reported: the fit's CPU seconds (median; CPU is the steadier figure on a
shared machine) and their ratio; the largest difference of the two fits' log-scale predictions on the training rows;
the share of scored customers (features at the calibration end) given the same prediction (within 1e-9); and the
holdout Gini (normalised) and MAE of value of each.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scorecard_train import scorecard_setup


def _setup(source: str) -> tuple[pl.DataFrame, np.ndarray, pl.DataFrame, pl.DataFrame]:
    """The baseline's training table and labels, the features it predicts on and the holdout values."""
    from clvlens.analytics.evaluation.predictors import ml_features, ml_training
    from clvlens.analytics.evaluation.scorecard import DEFAULT_TRAIN_SIZE

    ctx, summary = scorecard_setup(source, train_size=DEFAULT_TRAIN_SIZE)
    training = ml_training(ctx)
    return training.train_X, training.train_y, ml_features(ctx), summary.select("customer_id", "value_holdout")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="+")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from clvlens.analytics.evaluation import metrics
    from clvlens.ml import BaselineGBR
    from clvlens.ml import baseline as baseline_module

    own_depth = baseline_module.MAX_GROWN_DEPTH
    print("| source | training rows | grown by | fit CPU s (median) | CPU ratio | max train diff (log) | "
          "scored customers same | holdout Gini | holdout MAE |")
    print("|---|---|---|---|---|---|---|---|---|")
    for source in args.sources:
        train_X, train_y, features, actual = _setup(source)
        fits: dict[str, BaselineGBR] = {}
        seconds: dict[str, list[float]] = {"clvlens": [], "scikit-learn": []}
        for _ in range(args.repeat):
            for grower in seconds:
                baseline_module.MAX_GROWN_DEPTH = own_depth if grower == "clvlens" else 0
                started = time.process_time()
                fits[grower] = BaselineGBR().fit(train_X, train_y)
                seconds[grower].append(time.process_time() - started)
        baseline_module.MAX_GROWN_DEPTH = own_depth
        matrix = fits["clvlens"]._encode(train_X)
        train_diff = float(np.max(np.abs(fits["clvlens"]._raw(matrix) - fits["scikit-learn"]._raw(matrix))))
        predicted = {name: model.predict(features) for name, model in fits.items()}
        same = float(np.mean(np.isclose(predicted["clvlens"], predicted["scikit-learn"], rtol=1e-9, atol=1e-9)))
        reference = statistics.median(seconds["scikit-learn"])
        for grower, model_seconds in seconds.items():
            joined = actual.join(pl.DataFrame({"customer_id": features["customer_id"], "p": predicted[grower]}),
                                 on="customer_id", how="left").fill_null(0.0)
            p, a = joined["p"].to_numpy(), joined["value_holdout"].to_numpy()
            median = statistics.median(model_seconds)
            print(f"| {Path(source).name} | {train_X.height:,} | {grower} | {median:.2f} | "
                  f"{reference / median:.2f} | {train_diff:.1e} | {same:.2%} | {metrics.normalized_gini(p, a):.4f} | "
                  f"{metrics.mae(p, a):.3f} |", flush=True)


if __name__ == "__main__":
    main()
