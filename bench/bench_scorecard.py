"""The model scorecard on the three reference data sets, one markdown table each, with timings.

    python bench/bench_scorecard.py [--datasets cdnow,online_retail,demo] [--n-jobs 2]

- CDNOW sample (2,357 customers): calibration to 1997-09-30, 39-week holdout to 1998-06-30, weeks;
- UCI Online Retail: calibration to 2011-09-09, last three months (91 days) to 2011-12-09, weeks;
- demo store (5,000 customers, seed 7): calibration to 2024-06-30, last six months to 2024-12-31, weeks.

The real data sets are read from ../shared/datasets beside the checkout; a missing one is reported and skipped.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from clvlens.analytics.evaluation import scorecard

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def _cdnow() -> Any:
    from clvlens.data import load_cdnow

    return load_cdnow(DATASETS / "cdnow" / "CDNOW_sample.txt.gz").transactions


def _online_retail() -> Any:
    from clvlens.data import load_online_retail

    return load_online_retail(DATASETS / "online_retail" / "online_retail.csv.gz").transactions


def _demo() -> Any:
    from clvlens.data.demo import generate_demo_store

    return generate_demo_store(n_customers=5000, seed=7).clean


CASES: dict[str, tuple[Callable[[], Any], str, str, Path | None]] = {
    "cdnow": (_cdnow, "1997-09-30", "1998-06-30", DATASETS / "cdnow" / "CDNOW_sample.txt.gz"),
    "online_retail": (_online_retail, "2011-09-09", "2011-12-09", DATASETS / "online_retail" / "online_retail.csv.gz"),
    "demo": (_demo, "2024-06-30", "2024-12-31", None),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(CASES))
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()
    for name in args.datasets.split(","):
        load, cal, end, path = CASES[name]
        if path is not None and not path.exists():
            print(f"## {name}\n\nskipped: {path} not found\n")
            continue
        started = time.perf_counter()
        transactions = load()
        loaded = time.perf_counter() - started
        card = scorecard(transactions, cal, end, time_unit="W", n_jobs=args.n_jobs)
        total = time.perf_counter() - started
        customers = card.table.get_column("customers")[0]
        print(f"## {name}: calibration to {cal}, holdout to {end} ({card.holdout_length:.2f} weeks), "
              f"{customers:,} customers")
        print(f"\nload {loaded:.1f} s, scorecard {total - loaded:.1f} s\n")
        print(card.to_markdown())
        notes = [f"- {r['model']}: {r['note']}" for r in card.table.iter_rows(named=True) if r["note"]]
        if notes:
            print("\n" + "\n".join(notes))
        print()


if __name__ == "__main__":
    main()
