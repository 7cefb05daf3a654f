"""Dashboard page times on a large simulated workspace (issue 13: each page under 2 s at 1M customers).

A real pipeline run on a demo store of --base customers gives every table and the saved models; its customers and
transactions are then replicated in DuckDB (customer ids suffixed) up to --customers, so the large workspace has the
real shapes and the real models. Each page is rendered with Streamlit's AppTest (the server-side work of a page:
every workspace query and every figure built and serialised; the browser's drawing is not included), first cold
(empty caches) and then warm, with no filter and with a region filter.

    PYTHONPATH=src python bench/bench_dashboard.py --customers 1000000
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "src" / "clvlens" / "dashboard" / "app.py"


def build(folder: Path, base: int, customers: int) -> Path:
    from clvlens.data.demo import generate_demo_store, write_flat_log
    from clvlens.pipeline import RunSettings, run_pipeline
    from clvlens.pipeline.workspace import workspace_path

    small = folder / "base"
    store = generate_demo_store(n_customers=base, seed=5)
    log = write_flat_log(store, folder / "base.csv")
    started = time.perf_counter()
    run_pipeline(RunSettings(str(log), small, "auto", store.truth.time_unit, currency="BRL",
                             skip=frozenset({"ml", "scorecard"})))
    print(f"base run on {base:,} customers: {time.perf_counter() - started:.1f} s", flush=True)
    large = folder / "large"
    shutil.copytree(small, large)
    copies = math.ceil(customers / base)
    started = time.perf_counter()
    with duckdb.connect(str(workspace_path(large))) as con:
        con.execute(f"""CREATE TABLE customers_big AS
            SELECT * REPLACE (customer_id || '-' || lpad(CAST(k AS VARCHAR), 4, '0') AS customer_id)
            FROM customers, range({copies}) r(k)
            ORDER BY k, customer_id LIMIT {customers}""")
        con.execute(f"""CREATE TABLE transactions_big AS
            SELECT * REPLACE (customer_id || '-' || lpad(CAST(k AS VARCHAR), 4, '0') AS customer_id,
                              order_id || '-' || CAST(k AS VARCHAR) AS order_id)
            FROM transactions, range({copies}) r(k)
            WHERE customer_id || '-' || lpad(CAST(k AS VARCHAR), 4, '0') IN (SELECT customer_id FROM customers_big)""")
        for table in ("customers", "transactions"):
            con.execute(f"DROP TABLE {table}")
            con.execute(f"ALTER TABLE {table}_big RENAME TO {table}")
        con.execute("CHECKPOINT")
        rows = con.execute("SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM transactions)").fetchone()
    print(f"replicated to {rows[0]:,} customers and {rows[1]:,} transaction rows: "
          f"{time.perf_counter() - started:.1f} s", flush=True)
    return large


def time_pages(folder: Path, region: str | None) -> list[tuple[str, float, float]]:
    from streamlit.testing.v1 import AppTest

    from clvlens.dashboard.navigation import PAGE_NAMES

    os.environ["CLVLENS_WORKSPACE"] = str(folder)
    app = AppTest.from_file(str(APP), default_timeout=600)
    app.query_params["page"] = "upload-run"  # start on the page with no query, so every timed visit is the first
    app.run()
    # every timed visit comes from a light workspace page (Data quality), so each page renders again on its visit
    started = time.perf_counter()
    app.sidebar.radio[0].set_value("Data quality").run()
    results = [("(first workspace page: open, filter choices, Data quality)", time.perf_counter() - started, 0.0)]
    if region:
        app.multiselect(key="filter_region").set_value([region]).run()
    for page in PAGE_NAMES:
        if page == "Upload and run":
            continue
        times = []
        for _ in range(2):  # cold, then warm
            started = time.perf_counter()
            app.sidebar.radio[0].set_value(page).run()
            times.append(time.perf_counter() - started)
            if app.exception:
                raise SystemExit(f"{page}: {app.exception[0].value}")
            away = "Segments and playbooks" if page == "Data quality" else "Data quality"
            app.sidebar.radio[0].set_value(away).run()  # leave, so the next visit renders again
        if region:
            assert app.multiselect(key="filter_region").value == [region]
        results.append((page, times[0], times[1]))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--base", type=int, default=2000)
    parser.add_argument("--keep", type=Path, help="Folder to build in and keep (default: a temporary one).")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-dashboard-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        large = build(folder, args.base, args.customers)
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; seconds per page (AppTest, server side)")
        for label, region in (("no filter", None), ("region = SP", "SP")):
            print(f"\n{label}\n| page | cold s | warm s |\n| --- | ---: | ---: |")
            for page, cold, warm in time_pages(large, region):
                print(f"| {page} | {cold:.2f} | {warm:.2f} |", flush=True)
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
