"""`clvlens run` on a simulated larger shop (issue 14): every stage's time, CPU and peak memory, beside the floor.

The log comes from bench/scale_log.py (about ten order lines per customer, 2,000 items, 20 regions, two years), as
gzip CSV and as Parquet. Each run is the real command line in a fresh process; its stage lines (wall seconds, CPU
seconds, the process's peak resident memory during the stage) are read from its output, and the whole process's
peak from the kernel (`wait4`). The floor is a plain DuckDB read of the same file aggregated per customer (count of
orders, revenue, first and last purchase), also in a fresh process, with DuckDB's default threads.

    python bench/bench_scale.py --customers 100000 1000000 --data /tmp/clvlens-scale [--repeat 3]

Every run reads the package's compiled bytecode, as an installed package's runs do (pip compiles it at install;
Python writes it on a package's first import): this machine sets PYTHONDONTWRITEBYTECODE=1, under which a run
from the source tree would compile every clvlens module again, about 0.2 s of each run, so the bench compiles
them once before the first run (into src/clvlens/**/__pycache__, ignored by git).

The machine is shared: the same run's CPU seconds can differ by a fifth from one hour to the next. Right before each
run two fixed checks are timed in a fresh process: a pure-Python loop (the "host check" column, seconds of CPU; a
larger figure means a slower core at that moment) and copies of a 256 MB array (the "memory GB/s" column: the
memory bandwidth one core gets, which the loop, held in the processor's caches, does not see and a run's large
tables do). Runs are compared at similar checks. `--repeat` runs every case that many times.

`--demo` also runs the demo store of `clvlens demo` at each customer count (its flat CSV log, seed 7, written once
into --data): a second kind of shop, about three order lines per customer over two years, on which the Pareto/NBD
likelihood is flat along a ridge (no dropout), so its fits cost several times the simulated log's.

Writes bench/results/scale.md (a Markdown table for docs/benchmarks.md) and prints it.
"""

from __future__ import annotations

import argparse
import compileall
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale_log import write_log

ROOT = Path(__file__).resolve().parents[1]
STAGE = re.compile(
    r"^\[\d+/\d+\] (?P<name>[^:]+): (?P<wall>[\d.]+) s \(cpu (?P<cpu>[\d.]+) s, peak (?P<peak>[\d,]+) MB\)"
)

FLOOR = """
import sys, time, duckdb
path = sys.argv[1]
reader = "read_parquet" if path.endswith(".parquet") else "read_csv"
duckdb.execute("SET enable_progress_bar = false")
began = time.perf_counter()
# every aggregate is used by the outer query, so none can be optimised away
rows = duckdb.execute(f'''SELECT count(*), sum(orders), sum(revenue), min(first_purchase), max(last_purchase) FROM (
    SELECT customer_id, count(DISTINCT order_id) AS orders, sum(amount) AS revenue,
           min(timestamp) AS first_purchase, max(timestamp) AS last_purchase
    FROM {reader}('{path}') GROUP BY customer_id)''').fetchall()[0][0]
print(f"{rows} {time.perf_counter() - began:.3f}")
"""


HOST_CHECK = """
import time
import numpy as np
began = time.process_time()
total = 0
for i in range(20_000_000):
    total += i * i
loop = time.process_time() - began
source = np.ones(2**25)  # 256 MB
target = source.copy()
began = time.perf_counter()
for _ in range(8):
    np.copyto(target, source)
print(f"{loop:.3f} {8 * 2 * source.nbytes / (time.perf_counter() - began) / 1e9:.1f}")
"""


@dataclass(frozen=True)
class HostCheck:
    """The shared machine's speed right now, measured in a fresh process: CPU seconds of a fixed pure-Python loop
    and the GB/s of copying a 256 MB array (bytes read and written)."""

    seconds: float
    memory_gbps: float

    def __str__(self) -> str:
        return f"host check {self.seconds:.2f} s, memory {self.memory_gbps:.1f} GB/s"


def host_check() -> HostCheck:
    """The two checks of the module docstring, in a fresh process."""
    output = subprocess.run([sys.executable, "-c", HOST_CHECK], capture_output=True, text=True, check=True).stdout
    seconds, memory = output.split()[-2:]
    return HostCheck(float(seconds), float(memory))


@dataclass
class Measured:
    label: str
    seconds: float
    cpu_seconds: float
    peak_mb: float
    stages: list[tuple[str, float, float, float]] = field(default_factory=list)
    failure: str = ""
    host: HostCheck | None = None


def run_process(command: list[str], env: dict[str, str] | None = None) -> tuple[str, float, float, float, int]:
    """Run `command`; returns its output, wall seconds, CPU seconds (user+sys), peak RSS in MB and return code."""
    began = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT)
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - began
    return output, seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, process.returncode


def measure_run(source: Path, workspace: Path, skip: str) -> Measured:
    shutil.rmtree(workspace, ignore_errors=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "COLUMNS": "200"}
    command = [sys.executable, "-m", "clvlens", "run", str(source), "--out", str(workspace)]
    if skip:
        command += ["--skip", skip]
    output, seconds, cpu, peak, code = run_process(command, env)
    stages = [(m["name"], float(m["wall"]), float(m["cpu"]), float(m["peak"].replace(",", "")))
              for m in map(STAGE.match, output.splitlines()) if m]
    failure = "" if code == 0 else f"exit {code}: {output.strip().splitlines()[-1] if output.strip() else ''}"
    shutil.rmtree(workspace, ignore_errors=True)
    return Measured(source.name, seconds, cpu, peak, stages, failure)


def measure_floor(source: Path) -> Measured:
    output, seconds, cpu, peak, code = run_process([sys.executable, "-c", FLOOR, str(source)])
    if code != 0:
        return Measured(source.name, seconds, cpu, peak, failure=output.strip()[-200:])
    customers, query_seconds = output.split()[-2:]
    return Measured(f"{source.name} ({int(customers):,} customers)", float(query_seconds), cpu, peak)


def demo_log(customers: int, folder: Path) -> tuple[Path, int]:
    """The demo store's flat CSV log at ``customers`` (written on the first call) and its order lines."""
    import polars as pl

    from clvlens.data.demo import generate_demo_store, write_flat_log

    path = folder / f"demo_{customers}.csv"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        write_flat_log(generate_demo_store(n_customers=customers, seed=7), path)
    return path, pl.scan_csv(path).select(pl.len()).collect().item()


def kind_of(source_name: str) -> str:
    """The input's kind as the tables name it."""
    if source_name.startswith("demo_"):
        return "demo store CSV"
    return "Parquet" if source_name.endswith(".parquet") else "gzip CSV"


def table(rows: list[tuple[int, int, Measured, Measured]]) -> str:
    names: list[str] = []
    for _, _, run, _ in rows:
        names += [name for name, *_ in run.stages if name not in names]
    header = ["customers", "order lines", "input", *names, "total s", "CPU s", "peak MB", "DuckDB floor s",
              "total / floor", "host check s", "memory GB/s"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * 3 + "---:|" * (len(header) - 3)]
    for customers, order_lines, run, floor in rows:
        stage = {name: wall for name, wall, *_ in run.stages}
        kind = kind_of(run.label)
        walls = (f"{stage[n]:.1f}" if n in stage else "-" for n in names)
        floor_ok = not floor.failure and floor.seconds > 0
        cells = [f"{customers:,}", f"{order_lines:,}", kind, *walls,
                 f"**{run.seconds:.1f}**", f"{run.cpu_seconds:.1f}", f"{run.peak_mb:,.0f}",
                 f"{floor.seconds:.1f}" if floor_ok else f"failed: {floor.failure[-80:]}",
                 f"{run.seconds / floor.seconds:.0f}x" if floor_ok else "-",
                 f"{run.host.seconds:.2f}" if run.host else "-", f"{run.host.memory_gbps:.1f}" if run.host else "-"]
        lines.append("| " + " | ".join(cells) + " |")
        if run.failure:
            lines.append(f"| | | failed: {run.failure} |")
    return "\n".join(lines)


def stage_memory(rows: list[tuple[int, int, Measured, Measured]]) -> str:
    lines = ["| run | " + " | ".join(name for name, *_ in rows[0][2].stages) + " |"] if rows else []
    if rows:
        lines.append("|---|" + "---:|" * len(rows[0][2].stages))
    for customers, _, run, _ in rows:
        kind = kind_of(run.label)
        cells = [f"{cpu:.1f} / {peak:,.0f}" for _, _, cpu, peak in run.stages]
        lines.append(f"| {customers:,} {kind} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--data", type=Path, default=Path("/tmp/clvlens-scale"))
    parser.add_argument("--formats", nargs="+", default=["parquet", "csv.gz"], choices=["parquet", "csv.gz"])
    parser.add_argument("--skip", default="", help="stages to leave out, as `clvlens run --skip` (default none)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of every case (default 1)")
    parser.add_argument("--demo", action="store_true", help="also the demo store at each customer count")
    args = parser.parse_args()
    compileall.compile_dir(ROOT / "src" / "clvlens", quiet=1)
    rows: list[tuple[int, int, Measured, Measured]] = []
    for customers in args.customers:
        parquet, csv, order_lines = write_log(customers, args.data)
        cases = [(kind, parquet if kind == "parquet" else csv, order_lines) for kind in args.formats]
        if args.demo:
            cases.append(("demo store", *demo_log(customers, args.data)))
        for kind, source, source_lines in cases:
            floor = measure_floor(source)
            for _ in range(max(1, args.repeat)):
                host = host_check()
                run = measure_run(source, args.data / f"ws_{customers}", args.skip)
                run.host = host
                print(f"{customers:,} customers, {kind}: {run.seconds:.1f} s, CPU {run.cpu_seconds:.1f} s, peak "
                      f"{run.peak_mb:,.0f} MB, floor {floor.seconds:.1f} s, {host} {run.failure}",
                      flush=True)
                rows.append((customers, source_lines, run, floor))
    text = (
        "Stage wall seconds, the whole process's wall and CPU seconds and peak memory, and the DuckDB floor\n\n"
        f"{table(rows)}\n\nPer stage, CPU seconds / the process's peak MB during the stage\n\n{stage_memory(rows)}\n"
    )
    out = ROOT / "bench" / "results" / "scale.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
