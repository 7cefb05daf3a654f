"""How many customers the scorecard must score for its figures to be stable: each figure at smaller samples against
the same figure on every customer.

    python bench/bench_scorecard_sample.py /tmp/clvlens-scale/scale_100000.parquet CDNOW --sizes 12500,25000,50000

For each source (a file `clvlens run` reads, or CDNOW for the shared CDNOW master file) the scorecard is computed as
a run computes it (the holdout a quarter of the observed span, weeks, the default contenders and ML training size):
once on every customer (the reference), then ``--draws`` times at each size. Draws are independent samples: the
scorecard's sample is a hash of customer_id, so each draw prefixes every id with its own tag before scoring.

Reported per size, over the models and draws, for the deciding figures (MAE of value relative to the reference,
normalised Gini, health AUC):
- the median standard error the scorecard reports (``<figure>_se``) and the spread actually seen between draws
  (their standard deviation): the reported error is honest when the two agree;
- the largest distance of a draw's figure from the reference, in reported standard errors, and its model;
- "material pairs": pairs of models whose reference figures differ by more than 2% of MAE, 0.02 of Gini or 0.02 of
  AUC; the share of them a draw orders as the reference does;
- the scorecard's CPU seconds (median).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from itertools import combinations
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scorecard_train import _load

#: figure, how a gap is measured (relative to the reference or absolute), the gap that makes a pair material
FIGURES = (("mae_value", "relative", 0.02), ("gini_norm", "absolute", 0.02), ("health_auc", "absolute", 0.02))


def _card(transactions: pl.DataFrame, size: int | None) -> tuple[pl.DataFrame, float]:
    from clvlens.pipeline.learning import run_scorecard

    end = transactions["timestamp"].max().replace(hour=0, minute=0, second=0, microsecond=0)
    began = time.process_time()
    card = run_scorecard(transactions, observation_end=end, time_unit="W", holdout=None, sample_size=size, n_jobs=1)
    table = card.table.filter(pl.col("error").is_null() & ~pl.col("model").str.contains("seasonal"))
    return table, time.process_time() - began


def _values(table: pl.DataFrame, figure: str) -> dict[str, float]:
    return {row["model"]: row[figure] for row in table.select("model", figure).iter_rows(named=True)
            if row[figure] is not None and np.isfinite(row[figure])}


def _errors(table: pl.DataFrame, figure: str) -> dict[str, float]:
    return _values(table, f"{figure}_se")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="+")
    parser.add_argument("--sizes", default="12500,25000,50000")
    parser.add_argument("--draws", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    for source in args.sources:
        transactions = _load(source)
        customers = transactions["customer_id"].n_unique()
        reference, reference_cpu = _card(transactions, None)
        print(f"\n## {Path(source).name}: {customers:,} customers (reference: all, {reference_cpu:.1f} CPU s)\n")
        print("| size | figure | median reported SE | SD between draws | largest distance (SE) | material pairs "
              "ordered as the reference | CPU s |")
        print("|---|---|---|---|---|---|---|")
        for size in sizes:
            if size >= customers:
                continue
            draws = []
            for draw in range(args.draws):
                tagged = transactions.with_columns((pl.lit(f"{draw}:") + pl.col("customer_id").cast(pl.String))
                                                   .alias("customer_id"))
                draws.append(_card(tagged, size))
            cpu = statistics.median(c for _, c in draws)
            for figure, scale, material in FIGURES:
                _report(figure, scale, material, reference, [t for t, _ in draws], size, cpu)


def _report(figure: str, scale: str, material: float, reference: pl.DataFrame, tables: list[pl.DataFrame],
            size: int, cpu: float) -> None:
    truth = _values(reference, figure)
    unit = (lambda model: truth[model]) if scale == "relative" else (lambda model: 1.0)
    reported, spread, distance = [], [], []
    for model in truth:
        seen = [_values(t, figure).get(model) for t in tables]
        errors = [_errors(t, figure).get(model) for t in tables]
        seen_ok = [v for v in seen if v is not None]
        reported += [e / unit(model) for e in errors if e]
        if len(seen_ok) > 1:
            spread.append(float(np.std(seen_ok, ddof=1)) / unit(model))
        distance += [(abs(v - truth[model]) / e, model) for v, e in zip(seen, errors, strict=True)
                     if v is not None and e]
    pairs = [(a, b) for a, b in combinations(truth, 2) if abs(truth[a] - truth[b]) / unit(a) > material]
    agree, total = 0, 0
    for table in tables:
        seen = _values(table, figure)
        for a, b in pairs:
            if a in seen and b in seen:
                total += 1
                agree += (seen[a] - seen[b]) * (truth[a] - truth[b]) > 0
    share = f"{agree}/{total}" if total else "none"
    fmt = (lambda v: f"{v:.2%}") if scale == "relative" else (lambda v: f"{v:.4f}")
    if not distance:
        print(f"| {size:,} | {figure} | n/a | n/a | n/a | {share} | {cpu:.1f} |")
        return
    farthest, model = max(distance)
    print(f"| {size:,} | {figure} | {fmt(statistics.median(reported))} | "
          f"{fmt(statistics.median(spread)) if spread else 'n/a'} | {farthest:.1f} ({model}) | {share} | {cpu:.1f} |")


if __name__ == "__main__":
    main()
