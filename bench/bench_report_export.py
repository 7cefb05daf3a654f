"""Time the report and the BI export on the UCI workspace and on a simulated large workspace.

Usage: python bench/bench_report_export.py [--customers 1000000] [--uci-workspace DIR] [--work DIR]

- UCI: a full `run_pipeline` on the real Online Retail file (4,327 customers, 389,875 kept lines), unless an existing
  workspace is given with --uci-workspace.
- Simulated: a 5,000-customer demo-store run, its customer-level tables (customers, next_best_offer) and its
  transactions replicated in DuckDB with suffixed customer ids until there are at least --customers customers
  (whole copies; about three order lines each); the small tables (KPIs, segments, cohorts, regions, rules,
  scorecard) are copied as they are.
  Its numbers are not a real store's; it only gives the report and export their full size.

Each task (report HTML, export to parquet, csv and xlsx) runs in a fresh process; seconds and peak resident memory
come from bench/_harness.py. A task that refuses (xlsx beyond Excel's row limit) shows its one-line error.
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import emit, measure, run_child

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
TASKS = ("report", "parquet", "csv", "xlsx")
REPLICATED = ("customers", "next_best_offer")


def child(task: str, folder: str) -> None:
    from clvlens.errors import ClvlensError
    from clvlens.export import export_workspace
    from clvlens.report import write_report

    out = Path(folder) / f"bench-{task}"
    try:
        if task == "report":
            path, stats = measure(lambda: write_report(folder, out.with_suffix(".html")))
            stats["size_mb"] = path.stat().st_size / 2**20
        else:
            result, stats = measure(lambda: export_workspace(folder, task, out))
            stats["size_mb"] = sum(f.stat().st_size for f in result.files) / 2**20
            stats["lines"] = result.rows.get("fact_order_lines", 0)
    except ClvlensError as exc:
        emit({"error": str(exc)})
        return
    emit(stats)


def build_uci(work: Path) -> Path:
    from clvlens.pipeline import RunSettings, run_pipeline

    folder = work / "uci"
    run_pipeline(RunSettings(str(DATASETS / "online_retail" / "online_retail.csv.gz"), folder))
    return folder


def build_simulated(work: Path, customers: int) -> Path:
    import duckdb

    from clvlens.data.demo import generate_demo_store, write_flat_log
    from clvlens.pipeline import RunSettings, run_pipeline

    seed_folder = work / "seed"
    store = generate_demo_store(n_customers=5000, seed=7)
    log = write_flat_log(store, seed_folder / "demo_transactions.csv")
    run_pipeline(RunSettings(str(log), seed_folder, "auto", store.truth.time_unit, currency="BRL"))
    folder = work / f"sim-{customers}"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "clvlens.duckdb"
    target.unlink(missing_ok=True)
    shutil.copytree(seed_folder / "models", folder / "models", dirs_exist_ok=True)
    connection = duckdb.connect(str(target))
    connection.execute(f"ATTACH '{seed_folder / 'clvlens.duckdb'}' AS seed (READ_ONLY)")
    base = connection.execute("SELECT count(*) FROM seed.customers").fetchone()[0]
    copies = math.ceil(customers / base)
    tables = [row[0] for row in connection.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'seed'").fetchall()]
    for table in tables:
        if table in REPLICATED:
            connection.execute(
                f"CREATE TABLE {table} AS SELECT * REPLACE (customer_id || '-' || k AS customer_id) "
                f"FROM seed.{table}, range({copies}) AS r(k)")
        elif table == "transactions":
            connection.execute(
                f"CREATE TABLE transactions AS SELECT * REPLACE (customer_id || '-' || k AS customer_id, "
                f"order_id || '-' || k AS order_id, source_row * {copies} + k AS source_row) "
                f"FROM seed.transactions, range({copies}) AS r(k)")
        else:
            connection.execute(f"CREATE TABLE {table} AS SELECT * FROM seed.{table}")
    total = connection.execute("SELECT count(*) FROM customers").fetchone()[0]
    connection.execute("UPDATE run_info SET value = ? WHERE key = 'customers'", [str(total)])
    connection.close()
    return folder


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--uci-workspace", type=Path)
    parser.add_argument("--work", type=Path)
    parser.add_argument("--child", nargs=2, metavar=("TASK", "FOLDER"))
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    work = args.work or Path(tempfile.mkdtemp(prefix="clvlens-bench-report-"))
    workspaces = {
        "UCI Online Retail": args.uci_workspace or build_uci(work),
        f"simulated {args.customers:,} customers": build_simulated(work, args.customers),
    }
    print("| workspace | customers | order lines | task | seconds | peak RSS MB | output MB |")
    print("|---|---|---|---|---|---|---|")
    import duckdb

    for name, folder in workspaces.items():
        with duckdb.connect(str(folder / "clvlens.duckdb"), read_only=True) as connection:
            customers = connection.execute("SELECT count(*) FROM customers").fetchone()[0]
            lines = connection.execute("SELECT count(*) FROM transactions").fetchone()[0]
        for task in TASKS:
            result = run_child(__file__, "--child", task, str(folder), timeout=3600)
            label = "report HTML" if task == "report" else f"export {task}"
            if "error" in result:
                print(f"| {name} | {customers:,} | {lines:,} | {label} | refused: {result['error']} | | |", flush=True)
                continue
            print(f"| {name} | {customers:,} | {lines:,} | {label} | {result['seconds']:.1f} | "
                  f"{result['peak_mb']:.0f} | {result['size_mb']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
