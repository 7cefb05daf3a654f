"""Two versions of clvlens compared on the same run, alternating, so that a shared machine's drift hits both alike.

    git worktree add --detach /tmp/clvlens-old 7029cb7
    python bench/bench_ab.py --old /tmp/clvlens-old/src --new src /tmp/clvlens-scale/scale_100000.parquet --pairs 4

Each pair runs `clvlens run SOURCE` in a fresh process with the old tree's package, then with the new one's (report
included, into a temporary folder), and prints each run's wall seconds (the whole process, as a user waits for it),
the run's own "time:" and CPU, and the host checks of bench/bench_scale.py just before it. Both trees' bytecode is
compiled first (see bench/bench_scale.py). The last lines give each side's median and the median of the paired
differences (new - old).
"""

from __future__ import annotations

import argparse
import compileall
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


def one_run(package_root: Path, source: str) -> tuple[float, str]:
    """Wall seconds of one `clvlens run` with the package under ``package_root``, and its time line."""
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "PYTHONPATH": str(package_root), "COLUMNS": "200"}
        began = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "clvlens", "run", source, "--out", str(Path(folder) / "ws")],
                              capture_output=True, text=True, env=env)
        seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"{package_root}: exit {done.returncode}: {done.stderr.strip()[-300:]}")
    found = TIME_LINE.search(done.stdout)
    return seconds, (f"run's time {found['time']} s, CPU {found['cpu']} s" if found else "no time line")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source")
    parser.add_argument("--old", type=Path, required=True, help="the old tree's src folder")
    parser.add_argument("--new", type=Path, required=True, help="the new tree's src folder")
    parser.add_argument("--pairs", type=int, default=3)
    args = parser.parse_args()
    for root in (args.old, args.new):
        compileall.compile_dir(root / "clvlens", quiet=1)
    walls: dict[str, list[float]] = {"old": [], "new": []}
    for pair in range(1, args.pairs + 1):
        for side, root in (("old", args.old), ("new", args.new)):
            host = host_check()
            seconds, line = one_run(root.resolve(), args.source)
            walls[side].append(seconds)
            print(f"pair {pair} {side}: {seconds:.2f} s wall ({line}; {host})", flush=True)
    differences = [new - old for old, new in zip(walls["old"], walls["new"], strict=True)]
    print(f"median wall: old {statistics.median(walls['old']):.2f} s, new {statistics.median(walls['new']):.2f} s; "
          f"median paired difference {statistics.median(differences):+.2f} s "
          f"(new faster in {sum(d < 0 for d in differences)} of {len(differences)} pairs)")


if __name__ == "__main__":
    main()
