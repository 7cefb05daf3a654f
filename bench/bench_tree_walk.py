"""LightGBM prediction: LightGBM's own row-by-row walk against clvlens' numpy walk of the same trees.

Trains the run's ML LTV model (LightGBMLTV, default settings) on the simulated shop made by bench/scale_log.py, then
predicts every customer's features at the last date both ways, checks the two are equal to the bit and prints the
best of three timings (one thread each) and the in-sample prediction the bias factor no longer needs:

    python bench/scale_log.py --customers 100000 --out /tmp/clvlens-scale
    python bench/bench_tree_walk.py /tmp/clvlens-scale/scale_100000.parquet
"""

from __future__ import annotations

import sys
import time

import numpy as np

from clvlens.data import load_source
from clvlens.ml import LightGBMLTV, build_features, learn_spec, ltv_dataset
from clvlens.ml.api import default_cutoff
from clvlens.ml.features import canonical_transactions
from clvlens.ml.lgbm import predictor


def best_of(runs: int, work) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        started = time.process_time()
        work()
        times.append(time.process_time() - started)
    return min(times)


def main(path: str) -> None:
    frame = canonical_transactions(load_source(path, format="auto").transactions)
    cutoff = default_cutoff(frame, "12M", "W")
    spec = learn_spec(frame, cutoff, "12M", time_unit="W", btyd=True)
    data = ltv_dataset(frame, cutoff, spec=spec)
    model = LightGBMLTV(n_jobs=1).fit(data.X, data.y)
    last = frame.get_column("timestamp").max()
    matrix = model._matrix(build_features(frame, last, spec))
    booster = model.booster_
    walk = predictor(booster)
    assert np.array_equal(walk(matrix), booster.predict(matrix, num_threads=1)), "the walks disagree"
    lightgbm = best_of(3, lambda: booster.predict(matrix, num_threads=1))
    numpy_walk = best_of(3, lambda: walk(matrix))
    rows = matrix.shape[0]
    print(f"{rows:,} customers x {booster.num_trees()} trees: LightGBM {lightgbm:.3f} s "
          f"({lightgbm / rows * 1e6:.2f} us a row), numpy walk {numpy_walk:.3f} s "
          f"({numpy_walk / rows * 1e6:.2f} us a row), x{lightgbm / numpy_walk:.1f}; equal to the bit")


if __name__ == "__main__":
    main(sys.argv[1])
