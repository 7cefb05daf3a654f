"""Values that add up (issue 9): the model chosen on a time split against BIC's choice, and the ML LTV total
before and after calibration against the BTYD total, the last window's revenue and, where the data go on, the
revenue actually taken in the window.

    python bench/bench_values.py [--cases cdnow_full,cdnow_split,uci_split,uci_full,demo]
    python bench/bench_values.py --selection-cost     # seconds of the models step: BIC alone vs the time split

Each case is one `run_pipeline` (no scorecard) on real or demo data; the table gives, over each case's horizon:
BTYD = sum of expected purchases x expected spend (undiscounted, revenue), ML raw = the ML forecast before the
calibration check, ML = after it, last = revenue in the same length before the observation end, actual = revenue
in the window after it (only where the data continue).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from clvlens.data import load_source
from clvlens.models import parse_horizon
from clvlens.pipeline import RunSettings, run_pipeline
from clvlens.pipeline.modeling import ModelSettings
from clvlens.pipeline.values import window_revenue

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
CASES = {
    "cdnow_full": (DATASETS / "cdnow" / "CDNOW_master.txt.gz", "cdnow", None, "12M"),
    "cdnow_split": (DATASETS / "cdnow" / "CDNOW_master.txt.gz", "cdnow", "1997-09-30", "26W"),
    "uci_split": (DATASETS / "online_retail" / "online_retail.csv.gz", "auto", "2011-09-09", "13W"),
    "uci_full": (DATASETS / "online_retail" / "online_retail.csv.gz", "auto", None, "12M"),
}


def _demo(folder: Path) -> Path:
    from clvlens.data.demo import generate_demo_store, write_flat_log

    store = generate_demo_store(n_customers=5000, seed=7)
    return write_flat_log(store, folder / "demo.csv")


def run_case(name: str, folder: Path) -> dict[str, object]:
    if name == "demo":
        source, fmt, end, horizon = _demo(folder), "auto", None, "12M"
    else:
        source, fmt, end, horizon = CASES[name]
        if not Path(source).exists():
            return {"case": name, "note": f"missing {source}"}
    started = time.perf_counter()
    result = run_pipeline(RunSettings(str(source), folder / name, fmt, "W", end,
                                      models=ModelSettings(horizon=horizon), scorecard=False))
    seconds = time.perf_counter() - started
    info, customers = result.info, result.customers
    observation_end = datetime.fromisoformat(info["observation_end"])
    days = parse_horizon(horizon, "D")
    everything = load_source(str(source), format=fmt).transactions
    after = everything.filter((pl.col("timestamp") >= observation_end + timedelta(days=1))
                              & (pl.col("timestamp") < observation_end + timedelta(days=1 + days)))
    last_day = everything["timestamp"].max()
    actual = float(after["amount"].sum()) if last_day >= observation_end + timedelta(days=days) else None
    btyd = float((customers["expected_purchases"] * customers["expected_spend"]).sum())
    row: dict[str, object] = {
        "case": name, "end": info["observation_end"], "horizon": horizon,
        "chosen": f"{info.get('model')} ({info.get('model_criterion', '').split(':')[0]})",
        "bic_choice": info.get("model_criterion", "").split("BIC would choose ")[-1].split(";")[0]
        if "BIC would choose" in info.get("model_criterion", "") else info.get("model"),
        "btyd": btyd, "last": window_revenue(result.cleaned.transactions, observation_end, days), "actual": actual,
        "seconds": seconds,
    }
    if result.ltv is not None:
        factor = result.ltv.calibration_factor
        ml = float(customers["ltv_ml"].sum())
        row.update({"ml_window": str(result.ltv.horizon), "ml": ml,
                    "ml_raw": ml / factor if np.isfinite(factor) and factor else float("nan"),
                    "calibration": info.get("ml_calibration", "").split(":")[0]})
    return row


def selection_cost() -> None:
    """Seconds of fit_models on all of CDNOW and UCI with holdout="bic" and with the default time split."""
    from clvlens.pipeline.modeling import fit_models
    from clvlens.pipeline.run import build_customer_table, observed_until

    print("| data | customers | criterion | chosen | seconds |\n|---|---|---|---|---|")
    for name in ("cdnow_full", "uci_full"):
        source, fmt, _, _ = CASES[name]
        transactions = load_source(str(source), format=fmt).transactions
        last = transactions["timestamp"].max()
        end = datetime(last.year, last.month, last.day)
        customers = build_customer_table(transactions, "W", end)
        observed = observed_until(transactions, end)
        for holdout in ("bic", "auto"):
            started = time.perf_counter()
            fitted = fit_models(observed, customers, time_unit="W", observation_end=end,
                                settings=ModelSettings(holdout=holdout))
            print(f"| {name} | {customers.height:,} | {holdout} | {fitted.selection.chosen} | "
                  f"{time.perf_counter() - started:.1f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", default="cdnow_full,cdnow_split,uci_split,uci_full,demo")
    parser.add_argument("--selection-cost", action="store_true")
    args = parser.parse_args()
    if args.selection_cost:
        selection_cost()
        return
    columns = ["case", "end", "horizon", "chosen", "bic_choice", "btyd", "ml_window", "ml_raw", "ml", "calibration",
               "last", "actual", "seconds"]
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.cases.split(","):
            row = run_case(name, Path(tmp))
            cells = []
            for column in columns:
                value = row.get(column)
                cells.append(f"{value:,.0f}" if isinstance(value, float) and column != "seconds"
                             else f"{value:.0f}" if isinstance(value, float) else "" if value is None else str(value))
            print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
