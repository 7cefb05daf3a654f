"""How many customers the health step needs: its validation figures and choice against the sample size.

    python bench/bench_health_sample.py /tmp/clvlens-scale/scale_100000.parquet \
        /tmp/clvlens-scale/scale_1000000.parquet --sizes 20000,30000,50000

The log is loaded and summarised as `clvlens run` does (weekly, to its last day) and the run's transaction models
are fitted and chosen as a run does (`pipeline.modeling.fit_models`). The health step
(`analytics.health.health_scores`, 52-week window) then runs on each sample size: the customers with the lowest
hashes, as a run takes them, so a larger sample holds every smaller one. Reported per size: the customers validated
on (those seen by the validation split), every score's validation AUC, the chosen score, the paired AUC
difference of the two best with its 95% margin (the run's `health_choice_error`), the mean of the learned score's
window probability over every customer, and the CPU seconds of the step (user + system, every thread; LightGBM
is imported before the first). A size is enough when the choice is the same as at the larger ones and the AUCs
move by about their margin or less.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def _cpu() -> float:
    times = os.times()
    return times.user + times.system


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="+")
    parser.add_argument("--sizes", default="20000,30000,50000")
    args = parser.parse_args()
    from clvlens.analytics.health import HEALTH_SCORES, health_scores
    from clvlens.data import load_source
    from clvlens.ml._lightgbm_import import import_lightgbm
    from clvlens.pipeline.modeling import ModelSettings, fit_models
    from clvlens.pipeline.run import build_customer_table, observed_until
    from clvlens.summary.rfm import resolve_period

    print("| source | sample | validated on | " + " | ".join(f"AUC {s}" for s in HEALTH_SCORES)
          + " | chosen | AUC difference of the two best | mean p_active_ml | CPU s |")
    print("|---|---:|---:|" + "---:|" * len(HEALTH_SCORES) + "---|---|---:|---:|")
    import_lightgbm()  # once, before any timing (the first size would pay for it)
    for source in args.sources:
        transactions = load_source(source).transactions
        period = resolve_period(transactions, "W", None, None, "D")
        observed = observed_until(transactions, period.observation_end)
        customers = build_customer_table(observed, "W", period.observation_end)
        fitted = fit_models(observed, customers, time_unit="W", observation_end=period.observation_end,
                            settings=ModelSettings())
        for size in [int(s) for s in args.sizes.split(",")]:
            began = _cpu()
            result = health_scores(observed, customers, fitted.transaction_model, window="12M", time_unit="W",
                                   observation_end=period.observation_end, sample=size)
            cpu = _cpu() - began
            figures = {row["score"]: row for row in result.validation.iter_rows(named=True)}
            aucs = " | ".join(f"{figures[s]['health_auc']:.4f}" for s in HEALTH_SCORES)
            validated = max(int(row["customers"]) for row in figures.values())
            learned = result.customer_columns.get_column("p_active_ml").mean()
            print(f"| {Path(source).name} | {size:,} | {validated:,} | {aucs} | {result.score} | "
                  f"{result.choice_error or ''} | {learned:.4f} | {cpu:.2f} |", flush=True)


if __name__ == "__main__":
    main()
