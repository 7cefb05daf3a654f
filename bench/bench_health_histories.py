"""The health step's transaction-model figures, one customer at a time against once per distinct history.

    python bench/bench_health_histories.py /tmp/clvlens-scale/scale_1000000.parquet --repeat 3

The log is loaded and summarised as `clvlens run` does (weekly, to its last day); each transaction model is fitted
on a reproducible 100,000-customer sample (the run's selection sample), and the health step's three figures are
computed for every customer both ways: P(active) over a 52-week window, P(alive), and P(active) over a 13-week
window (what the window exponents need). Grouped, the distinct (x, t_x, T) histories are found once
(``clvlens.models.clv.Histories``, as ``analytics.health.health_scores`` does) and the figures are scattered back.
Reported per model: the median seconds of each way (wall, one process) and whether the figures are equal to the bit.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

from clvlens.data import load_source
from clvlens.ml.sampling import sample_mask
from clvlens.models.clv import Histories
from clvlens.models.selection import TRANSACTION_MODELS
from clvlens.pipeline.run import build_customer_table


def figures_one_by_one(model: object, cols: list[np.ndarray]) -> list[np.ndarray]:
    return [model.conditional_probability_active(52.0, *cols),  # type: ignore[attr-defined]
            model.conditional_probability_alive(*cols),  # type: ignore[attr-defined]
            model.conditional_probability_active(13.0, *cols)]  # type: ignore[attr-defined]


def figures_grouped(model: object, cols: list[np.ndarray]) -> list[np.ndarray]:
    histories = Histories(*cols)
    return [histories.scatter(figure) for figure in figures_one_by_one(model, list(histories.cols))]


def timed(way: Callable[[object, list[np.ndarray]], list[np.ndarray]], model: object, cols: list[np.ndarray],
          repeat: int) -> tuple[float, list[np.ndarray]]:
    seconds, result = [], []
    for _ in range(repeat):
        began = time.perf_counter()
        result = way(model, cols)
        seconds.append(time.perf_counter() - began)
    return statistics.median(seconds), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    transactions = load_source(args.source).transactions
    customers = build_customer_table(transactions, "W", None)
    cols = [customers.get_column(c).to_numpy().astype(float) for c in ("frequency", "recency", "T")]
    mask = sample_mask(customers.get_column("customer_id"), 100_000)
    sample = cols if mask is None else [c[mask] for c in cols]
    print(f"{customers.height:,} customers, {Histories(*cols).size:,} distinct histories")
    print("| model | one by one s | grouped s | equal |")
    print("|---|---:|---:|---|")
    for name in ("bgnbd", "mbgnbd", "paretonbd"):
        model = TRANSACTION_MODELS[name](time_unit="W").fit(*sample)
        alone, expected = timed(figures_one_by_one, model, cols, args.repeat)
        grouped, got = timed(figures_grouped, model, cols, args.repeat)
        equal = all(np.array_equal(a, b) for a, b in zip(expected, got, strict=True))
        print(f"| {name} | {alone:.2f} | {grouped:.2f} | {equal} |")


if __name__ == "__main__":
    main()
