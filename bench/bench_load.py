"""Load and clean the full UCI Online Retail CSV (541,909 rows): time and peak memory, in a fresh process.

Usage: python bench/bench_load.py [--path ../shared/datasets/online_retail/online_retail.csv.gz] [--repeat 3]

Also times, for scale, plain DuckDB reading the same file (no cleaning) and pandas.read_csv (no cleaning).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import emit, measure, run_child

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "online_retail" / "online_retail.csv.gz"


def contender(name: str, path: str) -> None:
    if name == "clvlens":
        from clvlens.data import load_online_retail

        def work():
            result = load_online_retail(path)
            return result.report.input_rows, result.report.kept_rows
    elif name == "duckdb_read":
        import duckdb

        def work():
            rows = duckdb.sql(f"SELECT count(*) FROM read_csv('{path}', all_varchar = true)").fetchall()[0][0]
            return rows, rows
    elif name == "pandas_read":
        import pandas as pd

        def work():
            frame = pd.read_csv(path, dtype=str)
            return len(frame), len(frame)
    else:
        raise SystemExit(f"unknown contender {name}")
    (rows, kept), figures = measure(work)
    emit({**figures, "rows": rows, "kept": kept})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--path", default=str(DEFAULT))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--contender", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.contender:
        contender(args.contender, args.path)
        return
    print(f"Load + clean {args.path} (best of {args.repeat} fresh processes)\n")
    print("| step | seconds | peak RSS MB | added MB | rows in | rows kept |")
    print("|---|---|---|---|---|---|")
    for name in ("clvlens", "duckdb_read", "pandas_read"):
        runs = [run_child(__file__, "--contender", name, "--path", args.path) for _ in range(args.repeat)]
        good = [r for r in runs if "error" not in r]
        if not good:
            print(f"| {name} | failed: {runs[0]['error']} | | | | |")
            continue
        best = min(good, key=lambda r: r["seconds"])
        peak = max(r["peak_mb"] for r in good)
        added = max(r["added_mb"] for r in good)
        print(f"| {name} | {best['seconds']:.2f} | {peak:.0f} | {added:.0f} | {best['rows']:,} | {best['kept']:,} |")


if __name__ == "__main__":
    main()
