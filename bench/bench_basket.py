"""Market-basket rule mining on the full UCI Online Retail data (product level): clvlens vs mlxtend.

Usage: python bench/bench_basket.py [--path ../shared/datasets/online_retail/online_retail.csv.gz]
                                    [--supports 0.02,0.01] [--min-confidence 0.2] [--repeat 3]

Every contender runs in a fresh subprocess that first loads and cleans the data (not timed), then:

* clvlens: build the sparse orders x items matrix and the item names (`build`), then mine frequent itemsets and
  association rules with every metric (`mine`), i.e. `frequent_itemsets` + `association_rules`' work, once.
* mlxtend: build the usual one-hot boolean pandas frame with `pd.crosstab(order_id, item_id).astype(bool)`
  (`build`), then `apriori(use_colnames=True)` + `association_rules(metric="confidence")` (`mine`).

Both use the same min_support, min_confidence and no max_len. Peak RSS is sampled from /proc/self/statm; `added MB`
is the increase over the RSS just before the build (the loaded transactions are shared input). The two must find
the same itemsets and rules (counts and summed supports are compared). mlxtend is run once per threshold (it needs
~100 s and ~11 GB at min_support 0.01); clvlens is the best of `--repeat` runs.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import emit, measure, run_child

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "online_retail" / "online_retail.csv.gz"


def contender(name: str, path: str, min_support: float, min_confidence: float) -> None:
    from clvlens.data import load_online_retail

    transactions = load_online_retail(path).transactions
    steps: dict[str, float] = {}
    if name == "clvlens":
        from clvlens.analytics.basket._frames import itemset_frame, resolve, rule_frame
        from clvlens.analytics.basket._mining import mine

        def work() -> tuple[int, int, float]:
            start = time.perf_counter()
            basket, ids, names = resolve(transactions, "item")
            steps["build"] = time.perf_counter() - start
            start = time.perf_counter()
            mined = mine(basket, min_support, None)
            itemsets = itemset_frame(mined, ids, names)
            rules = rule_frame(mined, ids, names, min_confidence, None)
            steps["mine"] = time.perf_counter() - start
            return itemsets.height, rules.height, float(itemsets.get_column("support").sum())

    elif name == "mlxtend":
        import pandas as pd
        from mlxtend.frequent_patterns import apriori, association_rules

        warnings.filterwarnings("ignore")
        lines = transactions.select("order_id", "item_id").to_pandas()

        def work() -> tuple[int, int, float]:
            start = time.perf_counter()
            onehot = pd.crosstab(lines["order_id"], lines["item_id"]).astype(bool)
            steps["build"] = time.perf_counter() - start
            start = time.perf_counter()
            itemsets = apriori(onehot, min_support=min_support, use_colnames=True)
            rules = association_rules(
                itemsets, num_itemsets=len(onehot), metric="confidence", min_threshold=min_confidence
            )
            steps["mine"] = time.perf_counter() - start
            return len(itemsets), len(rules), float(itemsets["support"].sum())

    else:
        raise SystemExit(f"unknown contender {name}")
    (n_itemsets, n_rules, support_sum), figures = measure(work)
    emit({**figures, **steps, "itemsets": n_itemsets, "rules": n_rules, "support_sum": support_sum})


def best_of(args: argparse.Namespace, name: str, support: float, repeat: int) -> dict:
    runs = [
        run_child(__file__, "--contender", name, "--path", args.path, "--supports", str(support),
                  "--min-confidence", str(args.min_confidence))
        for _ in range(repeat)
    ]  # fmt: skip
    good = [run for run in runs if "error" not in run]
    if not good:
        return runs[0]
    best = dict(min(good, key=lambda run: run["seconds"]))
    best["peak_mb"] = max(run["peak_mb"] for run in good)
    best["added_mb"] = max(run["added_mb"] for run in good)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--path", default=str(DEFAULT))
    parser.add_argument("--supports", default="0.02,0.01", help="comma-separated min_support values")
    parser.add_argument("--min-confidence", type=float, default=0.2)
    parser.add_argument("--repeat", type=int, default=3, help="clvlens runs per threshold (best is kept)")
    parser.add_argument("--contender", help=argparse.SUPPRESS)
    args = parser.parse_args()
    supports = [float(value) for value in args.supports.split(",")]
    if args.contender:
        contender(args.contender, args.path, supports[0], args.min_confidence)
        return
    print(f"Online Retail rule mining, product level, min_confidence {args.min_confidence}, no max_len\n")
    print("| min_support | contender | build s | mine s | total s | peak RSS MB | added MB | itemsets | rules |")
    print("|---|---|---|---|---|---|---|---|---|")
    summary = []
    for support in supports:
        results = {name: best_of(args, name, support, args.repeat if name == "clvlens" else 1)
                   for name in ("clvlens", "mlxtend")}  # fmt: skip
        for name, run in results.items():
            if "error" in run:
                print(f"| {support} | {name} | failed: {run['error']} | | | | | | |")
                continue
            print(
                f"| {support} | {name} | {run['build']:.2f} | {run['mine']:.2f} | {run['seconds']:.2f} "
                f"| {run['peak_mb']:.0f} | {run['added_mb']:.0f} | {run['itemsets']:,} | {run['rules']:,} |"
            )
        ours, theirs = results["clvlens"], results["mlxtend"]
        if "error" not in ours and "error" not in theirs:
            same = (ours["itemsets"], ours["rules"]) == (theirs["itemsets"], theirs["rules"]) and abs(
                ours["support_sum"] - theirs["support_sum"]
            ) < 1e-9
            summary.append(
                f"| {support} | {theirs['seconds'] / ours['seconds']:.0f}x "
                f"| {theirs['mine'] / ours['mine']:.0f}x | {theirs['peak_mb'] / ours['peak_mb']:.1f}x "
                f"| {theirs['added_mb'] / max(ours['added_mb'], 1):.0f}x | {'yes' if same else 'NO'} |"
            )
    print("\n| min_support | speed-up (total) | speed-up (mining only) | peak RSS ratio | added-memory ratio | same |")
    print("|---|---|---|---|---|---|")
    print("\n".join(summary))


if __name__ == "__main__":
    main()
