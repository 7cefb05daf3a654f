"""A CSV's text timestamps read as a run reads them: the format choice over the distinct values, and the parse.

    python bench/bench_dates.py /tmp/clvlens-scale/scale_1000000.csv.gz --repeat 3
    PYTHONPATH=/tmp/clvlens-old/src python bench/bench_dates.py ... # another version, for a comparison

The column (``--column``, default timestamp) is read as text with Polars, then
``clvlens.data.dates.parse_timestamps`` (strip, ``choose_formats``, ``parse_with``) and ``choose_formats`` alone
are timed: the median wall and CPU seconds (user + system, every thread) of ``--repeat`` runs in this process.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any


def _timed(work: Callable[[], Any], repeat: int) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(repeat):
        began, cpu = time.perf_counter(), os.times()
        work()
        after = os.times()
        walls.append(time.perf_counter() - began)
        cpus.append((after.user - cpu.user) + (after.system - cpu.system))
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--column", default="timestamp")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    import polars as pl

    from clvlens.data import dates

    values = pl.read_csv(args.path, columns=[args.column], infer_schema_length=0).get_column(args.column)
    stripped = values.str.strip_chars()
    print(f"{values.len():,} values, {stripped.drop_nulls().n_unique():,} distinct; clvlens from "
          f"{os.path.dirname(dates.__file__)}")
    print("| step | wall s | CPU s |")
    print("|---|---:|---:|")
    for label, work in (("parse_timestamps", lambda: dates.parse_timestamps(values)),
                        ("choose_formats (stripped text)", lambda: dates.choose_formats(stripped))):
        wall, cpu = _timed(work, args.repeat)
        print(f"| {label} | {wall:.3f} | {cpu:.3f} |", flush=True)


if __name__ == "__main__":
    main()
