"""The measurements behind docs/benchmarks.md's notes on the 1M-customer run (issue 14), each on its own.

    _RJEM_MALLOC_CONF=dirty_decay_ms:0,muzzy_decay_ms:0 PYTHONPATH=src \
        python bench/bench_scale_parts.py /tmp/clvlens-scale/scale_1000000.parquet [--no-run]

Pointing PYTHONPATH at an older checkout's src measures that code the same way (the "before" figures); --no-run
leaves out the whole run.

On the cleaned log (loaded and cleaned as `clvlens run` does), best of two, CPU seconds:
- a minimum timestamp per customer: an eager group-by over the lines, and the same query built lazily;
- the distinct (item, order) keys of the basket's item values: `np.unique` against one sort;
- the basket's line codes, once dropped: the memory Arrow's pool still holds and gives back when asked
  (``release_unused``, as ``basket_tables`` does);
- the order sets of the frequent items (``analytics.basket._mining._bitsets``): the most memory above the level
  before, a column at a time as now and every cell scattered at once as before;
- the transactions written into DuckDB keeping their order, and in any order;
- the transactions written as a run writes them beside its stages (``pipeline.lines_write``: one DuckDB thread)
  with DuckDB's default memory limit and with the run's: the most memory above the level before, and the wall
  seconds;
- one expression (a cast of `amount`) over the six columns the ML features read: the most memory the process held
  during it above what it held before, and the chunks per column as loaded (an older checkout's loader left the columns
  chunked differently, and Polars then copies every column the expression touches: see clvlens.data._chunks);
- the offers' customer weights (one value per customer id, 1M ids) kept by their first row: the most memory above
  the level before, by Polars' `unique` and by a first-occurrence filter;
- the raw text of the gzip CSV beside the Parquet file (`scale_N.csv.gz`), read as `clvlens` reads it (every column
  as text), and its chunks joined column by column: the memory held after the read, and the most above it during
  the join;
- the whole load (read, mapped and cleaned) of the Parquet file and the gzip CSV beside it: the most memory above
  the level before, with the kept rows copied from the whole table at once and a column at a time;
- the memory that importing the model libraries adds (a run imports them after a large input has loaded);
- the early-behaviour features of every customer (``ml.features._early_and_timing``): CPU, and the most memory
  the process held during the call above what it held before;
and then the process's memory between the steps of a whole `run_pipeline` (garbage collected and the C heap
trimmed at each step); the environment variable above makes Polars' allocator return freed pages at once.
"""

from __future__ import annotations

import ctypes
import gc
import gzip
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa

from clvlens.analytics.basket._matrix import LineCodes, matrix_from_codes
from clvlens.analytics.basket._mining import _bitsets, min_count_for
from clvlens.data import load_source
from clvlens.data._chunks import single_chunk
from clvlens.data.canonical import to_canonical
from clvlens.data.cleaning import clean
from clvlens.data.readers import read_table
from clvlens.ml.features import _early_and_timing, canonical_transactions
from clvlens.pipeline.lines_write import WRITE_MEMORY, WRITE_THREADS
from clvlens.pipeline.run import RunSettings, run_pipeline
from clvlens.pipeline.workspace import write_table


def cpu_seconds(work: Callable[[], object], repeats: int = 2) -> float:
    best = float("inf")
    for _ in range(repeats):
        usage = resource.getrusage(resource.RUSAGE_SELF)
        began = usage.ru_utime + usage.ru_stime
        work()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        best = min(best, usage.ru_utime + usage.ru_stime - began)
    return best


def resident_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def peak_rise_mb(work: Callable[[], object]) -> float:
    """The most resident memory during ``work()`` above the level before it (sampled every 10 ms)."""
    gc.collect()
    base = peak = resident_mb()
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.01):
            peak = max(peak, resident_mb())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        work()
    finally:
        done.set()
        sampler.join()
    return max(peak, resident_mb()) - base


def write_cpu(lines: pl.DataFrame, keep_order: bool) -> float:
    folder = Path(tempfile.mkdtemp())
    try:
        connection = duckdb.connect(str(folder / "lines.duckdb"))
        connection.execute(f"SET preserve_insertion_order = {str(keep_order).lower()}")
        arrow = lines.to_arrow(compat_level=pl.CompatLevel.newest())
        return cpu_seconds(lambda: (connection.register("incoming", arrow), connection.execute(
            "CREATE OR REPLACE TABLE lines AS SELECT * FROM incoming"), connection.execute("CHECKPOINT")), 1)
    finally:
        shutil.rmtree(folder)


def lines_write_mb(lines: pl.DataFrame, memory_limit: str | None) -> tuple[float, float]:
    """(memory above the level before, wall seconds) of writing the lines as a run does beside its stages: one
    DuckDB thread, and DuckDB's memory limit (None: its default)."""
    folder = Path(tempfile.mkdtemp())
    try:
        connection = duckdb.connect(str(folder / "lines.duckdb"))
        connection.execute(f"SET threads = {WRITE_THREADS}")
        if memory_limit is not None:
            connection.execute(f"SET memory_limit = '{memory_limit}'")
        began = time.perf_counter()
        rise = peak_rise_mb(lambda: write_table(connection, "transactions", lines))
        seconds = time.perf_counter() - began
        connection.close()
        return rise, seconds
    finally:
        shutil.rmtree(folder)


def cast_amount(lines: pl.DataFrame) -> pl.DataFrame:
    # the columns and the cast of ml.features.canonical_transactions
    return lines.select("customer_id", "order_id", "timestamp", "amount", "category", "region").with_columns(
        pl.col("amount").cast(pl.Float64))


def raw_csv_join_mb(csv: Path) -> tuple[float, float]:
    """Memory held after reading the CSV's text (every column as text) above the level before, and the most above
    that while its chunks are joined column by column (``clvlens.data._chunks.single_chunk``)."""
    folder = Path(tempfile.mkdtemp())
    try:
        text = folder / "lines.csv"
        with gzip.open(csv, "rb") as packed, open(text, "wb") as plain:
            shutil.copyfileobj(packed, plain, 1 << 24)
        gc.collect()
        before = resident_mb()
        frame = pl.read_csv(text, infer_schema=False)
        held = resident_mb() - before
        joined = peak_rise_mb(lambda: single_chunk(frame))
        return held, joined
    finally:
        shutil.rmtree(folder)


def arrow_kept_mb(lines: pl.DataFrame) -> float:
    """Memory Arrow's pool keeps once the basket's line codes (every line's ids through Arrow's dictionary
    encoding) are dropped: what the process's resident memory falls by when the pool is asked to give it back
    (``release_unused``, as ``basket_tables`` does), read just before and after."""
    codes = LineCodes.of(lines, "item_id", with_names="item_name" in lines.columns)
    del codes
    gc.collect()
    kept = resident_mb()
    pa.default_memory_pool().release_unused()
    return kept - resident_mb()


def order_sets(lines: pl.DataFrame) -> tuple[int, float, float, bool]:
    """The order sets of the items with 1% support (the basket's default): cells, and the most memory above the level
    before while ``_bitsets`` builds them a column at a time and while every cell is scattered at once (as before),
    and whether both give the same words."""
    basket = matrix_from_codes(LineCodes.of(lines, "item_id", with_customers=False), "item")
    counts = np.diff(basket.matrix.indptr)
    frequent = basket.matrix[:, np.flatnonzero(counts >= min_count_for(0.01, basket.n_orders))]
    del basket

    def every_cell_at_once() -> np.ndarray:
        n_rows, n_cols = frequent.shape
        bits = np.zeros((n_cols, max(1, (n_rows + 63) // 64)), dtype=np.uint64)
        rows = frequent.indices.astype(np.int64)
        cols = np.repeat(np.arange(n_cols), np.diff(frequent.indptr))
        np.bitwise_or.at(bits, (cols, rows >> 6), np.left_shift(np.uint64(1), (rows & 63).astype(np.uint64)))
        return bits

    same = sys.byteorder == "little" and bool(np.array_equal(_bitsets(frequent), every_cell_at_once()))
    return frequent.nnz, peak_rise_mb(lambda: _bitsets(frequent)), peak_rise_mb(every_cell_at_once), same


def load_peak_mb(source: str | Path, release: bool) -> float:
    """The most memory above the level before while a file is read, mapped and cleaned as ``load_transactions``
    does, the cleaning given the canonical table to let go (``release``: the kept rows copied a column at a time,
    each source column freed once copied) or not (the whole table held twice while its kept rows are copied). In a
    fresh process each time, so that no freed memory from an earlier load is reused."""
    # the kernel's peak (VmHWM) is reset first: a child forked from this process starts with this one's peak
    script = (
        "import sys\n"
        "sys.path.insert(0, sys.argv[3])\n"
        "from bench_scale_parts import load_once, resident_mb\n"
        "open('/proc/self/clear_refs', 'w').write('5')\n"
        "before = resident_mb()\n"
        "load_once(sys.argv[1], sys.argv[2] == 'True')\n"
        "status = dict(line.split(':', 1) for line in open('/proc/self/status'))\n"
        "print(int(status['VmHWM'].split()[0]) * 1024 / 1e6 - before)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(source), str(release), str(Path(__file__).parent)],
                          capture_output=True, text=True, check=True)
    return float(done.stdout.split()[-1])


def load_once(source: str | Path, release: bool) -> None:
    raw = read_table(source)
    canonical, _ = to_canonical(raw, None, keep_columns=("order_status",), release=True)
    del raw
    clean(canonical, None, release=release)


def import_mb() -> float:
    """What importing the model libraries a run preloads (LightGBM, scikit-learn's ensembles) adds to a fresh process
    that has imported the data libraries and clvlens's pipeline, as a run has when it starts them."""
    script = (
        "import sys\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "import numpy, polars, scipy.linalg\n"
        "from bench_scale_parts import resident_mb\n"
        "before = resident_mb()\n"
        "import lightgbm, sklearn.ensemble\n"
        "print(resident_mb() - before)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(Path(__file__).parent)], capture_output=True, text=True,
                          check=True)
    return float(done.stdout.split()[-1])


def time_parts(source: str) -> None:
    lines = load_source(source, format="auto").transactions
    # first: an eager group-by joins a frame's chunks in place, so after the parts below there would be one
    chunks = sorted(set(lines.n_chunks("all")))
    cast_rise = peak_rise_mb(lambda: cast_amount(lines))
    first = pl.col("timestamp").min()
    eager = cpu_seconds(lambda: lines.group_by("customer_id").agg(first))
    lazy = cpu_seconds(lambda: lines.lazy().group_by("customer_id").agg(first).collect())
    print(f"{lines.height:,} lines; CPU seconds, best of two")
    print(f"  one cast over six columns, memory above the lines: {cast_rise:,.0f} MB (chunks per column as "
          f"loaded: {chunks})")
    print(f"  min timestamp per customer, eager group-by: {eager:.2f}; the same, lazy: {lazy:.2f}")
    codes = LineCodes.of(lines, "item_id", with_customers=False)
    keys = codes.item.astype(np.int64) * (codes.orders.len() + 1) + codes.order.astype(np.int64) + 1
    hashed = cpu_seconds(lambda: np.unique(keys), 1)
    print(f"  distinct (item, order) keys, np.unique ({np.__version__}): {hashed:.2f}; by one sort: "
          f"{cpu_seconds(lambda: np.sort(keys)):.2f}")
    codes = keys = None  # let go before the parts below
    print(f"  basket line codes dropped: Arrow's pool gave back {arrow_kept_mb(lines):,.0f} MB when asked")
    cells, by_column, at_once, same = order_sets(lines)
    print(f"  order sets of the frequent items ({cells:,} cells): {by_column:,.0f} MB above a column at a time, "
          f"{at_once:,.0f} MB every cell at once (same words: {same})")
    print(f"  transactions into DuckDB, order kept: {write_cpu(lines, True):.2f}")
    print(f"  the same, any order: {write_cpu(lines, False):.2f}")
    for limit in (None, WRITE_MEMORY):
        rise, seconds = lines_write_mb(lines, limit)
        print(f"  the lines written beside a run ({WRITE_THREADS} DuckDB thread, memory limit {limit or 'default'}): "
              f"{rise:,.0f} MB above the level before, {seconds:.1f} s")
    weights = pl.DataFrame({"customer_id": lines.get_column("customer_id").unique(maintain_order=True)})
    weights = weights.with_columns(value=pl.int_range(pl.len()).cast(pl.Float64))
    print(f"  customer weights, first row per customer: unique "
          f"{peak_rise_mb(lambda: weights.unique('customer_id', keep='first')):,.0f} MB, first-occurrence filter "
          f"{peak_rise_mb(lambda: weights.filter(pl.col('customer_id').is_first_distinct())):,.0f} MB above")
    csv = Path(source).with_suffix("").with_suffix(".csv.gz")
    if csv.exists():
        held, joined = raw_csv_join_mb(csv)
        print(f"  raw gzip CSV text: {held:,.0f} MB held after the read, {joined:,.0f} MB more to join its chunks")
    for path in (Path(source), csv):
        if path.exists():
            whole, by_column = load_peak_mb(path, False), load_peak_mb(path, True)
            print(f"  {path.name} read and cleaned: {whole:,.0f} MB above the level before with the table held "
                  f"twice for its kept rows, {by_column:,.0f} MB a column at a time")
    print(f"  importing LightGBM and scikit-learn's ensembles: {import_mb():,.0f} MB")
    seen = canonical_transactions(lines)
    features_cpu = cpu_seconds(lambda: _early_and_timing(seen, 7.0))
    print(f"  early-behaviour features: {features_cpu:.2f}, memory above the lines "
          f"{peak_rise_mb(lambda: _early_and_timing(seen, 7.0)):,.0f} MB")


def main(source: str, run: bool) -> None:
    time_parts(source)  # its tables are let go before the run below
    if not run:
        return
    libc = ctypes.CDLL("libc.so.6")

    def at_step(step: str) -> None:
        gc.collect()
        libc.malloc_trim(0)
        print(f"  before {step}: {resident_mb():,.0f} MB", flush=True)

    folder = Path(tempfile.mkdtemp()) / "workspace"
    print("memory between the steps of run_pipeline:")
    result = run_pipeline(RunSettings(source=source, out=folder), at_step)
    at_step("the end (result kept)")
    del result
    at_step("the end (result dropped)")
    shutil.rmtree(folder.parent)


if __name__ == "__main__":
    main(sys.argv[1], "--no-run" not in sys.argv[2:])
