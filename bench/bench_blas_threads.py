"""What a run costs when BLAS may use every core between the model fits, against one BLAS thread throughout.

    PYTHONPATH=src python bench/bench_blas_threads.py /tmp/clvlens-scale/scale_100000.parquet [--repeat 3]

`clvlens run` holds one BLAS thread for the whole run (``clvlens.resources.single_threaded_blas``); before, only
each model fit held it. Each run here is `run_pipeline` in a fresh process, alternating the two ways so that a
change in the machine's load falls on both: "fits only" replaces the run's limit with a no-op, which is how the
code ran before. Printed: wall and CPU seconds (user + system, the run's process) of every run, and the medians.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUN = """
import contextlib, sys
import clvlens.pipeline.run as run
if sys.argv[3] == "fits only":
    run.single_threaded_blas = contextlib.nullcontext
run.run_pipeline(run.RunSettings(source=sys.argv[1], out=sys.argv[2]))
"""
WAYS = ("whole run", "fits only")


def one_run(source: str, way: str) -> tuple[float, float]:
    """Wall and CPU seconds of one run in a fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run([sys.executable, "-c", RUN, source, str(Path(folder) / "ws"), way], check=True)
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list[tuple[float, float]]] = {way: [] for way in WAYS}
    for round_ in range(args.repeat):
        for way in WAYS if round_ % 2 == 0 else WAYS[::-1]:
            wall, cpu = one_run(args.source, way)
            results[way].append((wall, cpu))
            print(f"{way:10s} wall {wall:6.1f} s  CPU {cpu:6.1f} s", flush=True)
    print(f"\n{Path(args.source).name}, {args.repeat} runs each, alternating\n")
    print("| BLAS threads limited | median wall s | median CPU s | runs (wall / CPU) |")
    print("|---|---:|---:|---|")
    for way, runs in results.items():
        cells = ", ".join(f"{wall:.1f} / {cpu:.1f}" for wall, cpu in runs)
        print(f"| {way} | {statistics.median(w for w, _ in runs):.1f} | {statistics.median(c for _, c in runs):.1f} "
              f"| {cells} |")


if __name__ == "__main__":
    main()
