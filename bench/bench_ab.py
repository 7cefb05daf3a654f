"""Two versions of clvlens compared on the same run, alternating, so that a shared machine's drift hits both alike.

    git worktree add --detach /tmp/clvlens-old 7029cb7
    python bench/bench_ab.py --old /tmp/clvlens-old/src --new src /tmp/clvlens-scale/scale_100000.parquet --pairs 4

Each pair runs `clvlens run SOURCE` in a fresh process with the old tree's package, then with the new one's (report
included, into a temporary folder), and prints each run's wall seconds (the whole process, as a user waits for it),
the run's own "time:" and CPU, and the host checks of bench/bench_scale.py just before it. Both trees' bytecode is
compiled first (see bench/bench_scale.py). The last lines give each side's median and the median of the paired
differences (new - old).

`--old-env NAME=VALUE` and `--new-env NAME=VALUE` (repeatable) set environment variables for one side's runs only,
so that one tree can be compared with itself under two settings read at start-up (for example
`--old src --new src --new-env POLARS_MAX_THREADS=1`).
"""

from __future__ import annotations

import argparse
import compileall
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scale import host_check

TIME_LINE = re.compile(r"^time: (?P<time>[\d.]+) s .*cpu (?P<cpu>[\d.]+) s", re.MULTILINE)


def one_run(package_root: Path, source: str, settings: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds of one `clvlens run` with the package under ``package_root`` and the environment variables
    ``settings``, its CPU seconds (NaN without a time line) and its time line."""
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, **settings, "PYTHONPATH": str(package_root), "COLUMNS": "200"}
        began = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "clvlens", "run", source, "--out", str(Path(folder) / "ws")],
                              capture_output=True, text=True, env=env)
        seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"{package_root}: exit {done.returncode}: {done.stderr.strip()[-300:]}")
    found = TIME_LINE.search(done.stdout)
    if found is None:
        return seconds, math.nan, "no time line"
    return seconds, float(found["cpu"]), f"run's time {found['time']} s, CPU {found['cpu']} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source")
    parser.add_argument("--old", type=Path, required=True, help="the old tree's src folder")
    parser.add_argument("--new", type=Path, required=True, help="the new tree's src folder")
    parser.add_argument("--pairs", type=int, default=3)
    for side in ("old", "new"):
        parser.add_argument(f"--{side}-env", action="append", default=[], metavar="NAME=VALUE",
                            help=f"an environment variable for the {side} side's runs (repeatable)")
    args = parser.parse_args()
    settings = {side: _assignments(getattr(args, f"{side}_env")) for side in ("old", "new")}
    for root in (args.old, args.new):
        compileall.compile_dir(root / "clvlens", quiet=1)
    walls: dict[str, list[float]] = {"old": [], "new": []}
    cpus: dict[str, list[float]] = {"old": [], "new": []}
    for pair in range(1, args.pairs + 1):
        for side, root in (("old", args.old), ("new", args.new)):
            host = host_check()
            seconds, cpu, line = one_run(root.resolve(), args.source, settings[side])
            walls[side].append(seconds)
            cpus[side].append(cpu)
            print(f"pair {pair} {side}: {seconds:.2f} s wall ({line}; {host})", flush=True)
    differences = [new - old for old, new in zip(walls["old"], walls["new"], strict=True)]
    print(f"median wall: old {statistics.median(walls['old']):.2f} s, new {statistics.median(walls['new']):.2f} s; "
          f"median paired difference {statistics.median(differences):+.2f} s "
          f"(new faster in {sum(d < 0 for d in differences)} of {len(differences)} pairs); median CPU: old "
          f"{statistics.median(cpus['old']):.1f} s, new {statistics.median(cpus['new']):.1f} s")


def _assignments(pairs: list[str]) -> dict[str, str]:
    settings = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not name or not equals:
            raise SystemExit(f"{pair!r}: expected NAME=VALUE")
        settings[name] = value
    return settings


if __name__ == "__main__":
    main()
