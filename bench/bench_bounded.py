"""Bounded time on weakly identified data: `python -m clvlens run` end to end, one fresh process per case.

    python bench/bench_bounded.py [--seeds 3,0] [--retail /work/shared/datasets/online_retail/online_retail.csv.gz]

Cases: transaction logs written from `clvlens.models.simulate.simulate_bgnbd` at the parameters of issue 9's
retail log (about 4,300 customers, BG/NBD r = 0.88, alpha = 10.3, a = 0.33, b = 250, 53 weeks), where the dropout
process is barely identified and the CLV interval's bootstrap used to draw b up to 1e13 and hang in arbitrary
precision; and a real retail log when it is present. Prints, per case, the wall time of the whole run, the chosen
model, its identification line and the run_info `clv_interval` line, as a Markdown table, with the CPU time
of the run (user + system) next to its wall time, since the machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from clvlens.models.simulate import simulate_bgnbd

WEEKS = 53.0


def write_simulated_log(path: Path, seed: int, n: int = 4_300) -> int:
    """A CSV transaction log (customer_id, date, amount) whose BG/NBD summary is one simulate_bgnbd draw."""
    d = simulate_bgnbd(n, r=0.88, alpha=10.3, a=0.33, b=250.0, T_max=WEEKS, T_min=1.0, seed=seed)
    rng = np.random.default_rng(seed + 1000)
    end = date(2011, 12, 9)
    rows = []
    for i, (x, tx, T) in enumerate(zip(d["frequency"], d["recency"], d["T"], strict=True)):
        first = WEEKS - T
        # repeat purchases: x - 1 uniform times before the last one at t_x (whole days, distinct from the first)
        times = [0.0, *np.sort(rng.uniform(0.0, tx, int(x) - 1)), tx] if x > 0 else [0.0]
        days = sorted({round((first + t) * 7) for t in times})
        for day in days:
            when = end - timedelta(days=round(WEEKS * 7) - day)
            rows.append(f"C{i:05d},{when.isoformat()},{rng.gamma(2.0, 12.0):.2f}")
    path.write_text("customer_id,date,amount\n" + "\n".join(rows) + "\n")
    return len(rows)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_case(source: str, extra: list[str]) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-m", "clvlens", "run", source, "--out", out, *extra]
        start, cpu = time.perf_counter(), _children_cpu()
        done = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy(), timeout=1_800)
        seconds, cpu = time.perf_counter() - start, _children_cpu() - cpu
        info: dict[str, object] = {}
        run_info = Path(out) / "run_info.json"
        if run_info.exists():
            info = json.loads(run_info.read_text())
        else:  # the workspace keeps run_info in its database
            try:
                import duckdb

                con = duckdb.connect(str(Path(out) / "clvlens.duckdb"), read_only=True)
                rows = con.execute("select key, value from run_info").fetchall()
                info = dict(rows)
            except Exception as exc:
                info = {"error": str(exc)}
    return {"seconds": seconds, "cpu": cpu, "exit": done.returncode, "stderr": done.stderr.strip()[-300:], **info}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="3,0")
    ap.add_argument("--retail", default="/work/shared/datasets/online_retail/online_retail.csv.gz")
    args = ap.parse_args()
    cases: list[tuple[str, str, list[str]]] = []
    with tempfile.TemporaryDirectory() as folder:
        for seed in (int(s) for s in args.seeds.split(",")):
            path = Path(folder) / f"simulated_{seed}.csv"
            rows = write_simulated_log(path, seed)
            cases.append((f"simulated issue-9 log, seed {seed} ({rows:,} rows)", str(path), []))
        if Path(args.retail).exists():
            cases.append((f"{Path(args.retail).name}", args.retail, []))
        print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print("| case | exit | wall s | CPU s | model | identification | clv_interval |")
        print("|---|---:|---:|---:|---|---|---|")
        for name, source, extra in cases:
            r = run_case(source, extra)
            print(f"| {name} | {r['exit']} | {r['seconds']:.1f} | {r['cpu']:.1f} | {r.get('model', '-')} | "
                  f"{r.get('identification', '-')} | {r.get('clv_interval', r.get('skipped_models', '-'))} |",
                  flush=True)
            if r["exit"] != 0:
                print(f"<!-- stderr: {r['stderr']} -->", flush=True)


if __name__ == "__main__":
    main()
