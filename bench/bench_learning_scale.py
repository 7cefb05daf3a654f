"""Wall and CPU time of the machine-learned LTV and scorecard stages of a run, alone, on a large log (issue 14).

    python bench/bench_learning_scale.py /tmp/scale/scale_100000.parquet /tmp/scale/scale_1000000.parquet

Each file is loaded and cleaned as `clvlens run` does, then the two stages run as the run calls them (ML LTV on
its training sample, scored for every customer; the scorecard on its customer sample, two contenders at a time).
Reported per file: customers, each stage's wall and CPU (user + system, all threads) seconds, and the cost per
100,000 customers. Make the logs with bench/scale_log.py. CPU time is the steadier figure on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any


def _timed(work: Callable[[], Any]) -> tuple[Any, float, float]:
    started, cpu = time.perf_counter(), os.times()
    out = work()
    after = os.times()
    return out, time.perf_counter() - started, (after.user - cpu.user) + (after.system - cpu.system)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    from clvlens.data import load_source
    from clvlens.pipeline.learning import run_scorecard, train_and_predict_ltv
    from clvlens.pipeline.run import observed_until
    from clvlens.summary.rfm import resolve_period

    print("| file | customers | stage | wall s | CPU s | CPU s per 100k customers | note |")
    print("|---|---|---|---|---|---|---|")
    for path in args.files:
        transactions = load_source(path).transactions
        period = resolve_period(transactions, "W", None, None, "D")
        observed = observed_until(transactions, period.observation_end)
        customers = observed.get_column("customer_id").n_unique()
        end = period.observation_end
        (trained, predictions), wall, cpu = _timed(lambda observed=observed, end=end: train_and_predict_ltv(
            observed, horizon="12M", time_unit="W", observation_end=end))
        note = f"trained on {trained.n_train:,} of {trained.n_population:,}; scored {predictions.height:,}"
        print(f"| {path} | {customers:,} | ML LTV | {wall:.1f} | {cpu:.1f} | {cpu / customers * 1e5:.2f} | {note} |")
        card, wall, cpu = _timed(lambda observed=observed, end=end: run_scorecard(
            observed, observation_end=end, time_unit="W", holdout=None))
        note = f"scored {card.sample.size:,} of {card.sample.population:,}"
        print(f"| {path} | {customers:,} | scorecard | {wall:.1f} | {cpu:.1f} | {cpu / customers * 1e5:.2f} | {note} |")


if __name__ == "__main__":
    main()
