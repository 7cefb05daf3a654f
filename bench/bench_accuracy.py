"""Forecast accuracy against what customers did next: health AUC and Brier score, predicted against actual purchases
and value in the next window, and the ML LTV total against the BTYD and historical baselines.

    PYTHONPATH=src python bench/bench_accuracy.py [--datasets cdnow,online_retail,demo,olist_demo]

Each data set is cut at an observation end; `clvlens run` (the pipeline, with the horizon and the health window
set to the next window and no discounting, so that its values are comparable with the window's revenue) sees only
what happened before, and its outputs are scored against the window after:

- CDNOW master (23,570 customers): observed to 1997-09-30, next 39 weeks;
- UCI Online Retail: observed to 2011-09-09, next 13 weeks;
- demo store (5,000 customers, seed 7, clean log): observed to 2024-06-30, next 26 weeks;
- Olist-format demo (5,000 customers, seed 7, `olist_like`, written as the Olist CSVs): observed to 2018-04-17,
  next 26 weeks.

Per data set: the run (chosen model, chosen health score) and, for each transaction model fitted on the same
customers, the AUC / Brier score / calibration error of its p_active, the AUC of its P(alive), and its predicted
purchases and value (x the run's expected spend) against the actual ones. Purchases are purchase days, as in the
RFM summary. The real data sets are read from ../shared/datasets beside the checkout; a missing one is skipped.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from clvlens.analytics.evaluation.metrics import auc, brier, calibration_error
from clvlens.analytics.health import heuristic_score
from clvlens.models import parse_horizon
from clvlens.models.selection import TRANSACTION_MODELS
from clvlens.pipeline import RunSettings, run_pipeline
from clvlens.pipeline.modeling import ModelSettings

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def _cdnow(_: Path) -> Path:
    return DATASETS / "cdnow" / "CDNOW_master.txt.gz"


def _online_retail(_: Path) -> Path:
    return DATASETS / "online_retail" / "online_retail.csv.gz"


def _demo(folder: Path) -> Path:
    from clvlens.data.demo import generate_demo_store

    store = generate_demo_store(n_customers=5000, seed=7)
    path = folder / "demo.csv"
    store.clean.to_csv(path, index=False)
    return path


def _olist_demo(folder: Path) -> Path:
    from clvlens.data.demo import generate_demo_store, write_olist_folder

    return write_olist_folder(generate_demo_store(n_customers=5000, seed=7, olist_like=True), folder / "olist")


CASES: dict[str, tuple[Callable[[Path], Path], str, str]] = {
    "cdnow": (_cdnow, "1997-09-30", "39W"),
    "online_retail": (_online_retail, "2011-09-09", "13W"),
    "demo": (_demo, "2024-06-30", "26W"),
    "olist_demo": (_olist_demo, "2018-04-17", "26W"),
}


def _fmt(value: float, digits: int = 3) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:,.{digits}f}"


def _refit(cls: type, x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> tuple[object | None, str]:
    for penalizer in (0.0, 0.01, 0.1):
        try:
            return cls(time_unit="W", penalizer_coef=penalizer).fit(x, tx, T), (
                f"penalizer {penalizer}" if penalizer else "")
        except Exception as exc:  # a model that cannot be fitted is reported, not fatal
            error = str(exc)[:80]
    return None, error


def bench(name: str, folder: Path) -> None:
    make, end_text, window = CASES[name]
    source = make(folder)
    if not source.exists():
        print(f"## {name}\n\nskipped: {source} not found\n")
        return
    end = datetime.fromisoformat(end_text)
    started = time.perf_counter()
    settings = RunSettings(
        str(source), folder / f"ws-{name}", observation_end=end_text, health_window=window, scorecard=False,
        models=ModelSettings(horizon=window, discount_rate=0.0, interval_draws=20),
    )
    result = run_pipeline(settings)
    seconds = time.perf_counter() - started
    customers = result.customers
    days = parse_horizon(window, "D")
    lines = result.cleaned.transactions
    future = lines.filter((pl.col("timestamp") >= end + timedelta(days=1))
                          & (pl.col("timestamp") < end + timedelta(days=1 + days)))
    actual = future.group_by("customer_id").agg(
        pl.col("timestamp").dt.truncate("1d").n_unique().alias("actual_purchases"),
        pl.col("amount").sum().alias("actual_value"),
    )
    frame = customers.join(actual, on="customer_id", how="left").with_columns(
        pl.col("actual_purchases").fill_null(0), pl.col("actual_value").fill_null(0.0))
    bought = frame.get_column("actual_purchases").to_numpy() > 0
    actual_purchases = float(frame.get_column("actual_purchases").sum())
    actual_value = float(frame.get_column("actual_value").sum())
    x, tx, T = (frame.get_column(c).to_numpy().astype(float) for c in ("frequency", "recency", "T"))
    info = result.info
    print(f"## {name}: observed to {end_text}, next {window}; {frame.height:,} customers, "
          f"{bought.mean():.1%} bought in the window\n")
    print(f"run: {seconds:.0f} s; model {info.get('model')}; health score {info.get('health_score')} "
          f"(validated on {info.get('health_validation_window', 'n/a')}); skipped: "
          f"{', '.join(k for k in info if k.startswith('skipped_')) or 'none'}\n")

    health = frame.get_column("health").to_numpy()
    print("| health score (as of the observation end) | AUC | Brier | calibration error | mean | share bought |")
    print("|---|---|---|---|---|---|")
    for label, values, is_probability in (
        (f"health = {info.get('health_score')} (drives the asset matrix)", health, True),
        ("p_active of the chosen model", frame.get_column("p_active").to_numpy(), True),
        ("p_active_ml (classifier)", frame.get_column("p_active_ml").fill_null(np.nan).to_numpy(), True),
        ("P(alive) of the chosen model", frame.get_column("p_alive").to_numpy(), True),
        ("heuristic (raw, not a probability)", heuristic_score(x, tx, T), False),
    ):
        ok = np.isfinite(values)
        if not ok.all():
            print(f"| {label} | not available | | | | |")
            continue
        score_brier = brier(values, bought) if is_probability else math.nan
        print(f"| {label} | {_fmt(auc(values, bought))} | {_fmt(score_brier)} "
              f"| {_fmt(calibration_error(values, bought) if is_probability else math.nan)} "
              f"| {_fmt(float(values.mean()) if is_probability else math.nan)} | {bought.mean():.3f} |")

    spend = frame.get_column("expected_spend").to_numpy()
    print("\n| model | p_active AUC | p_active Brier | calibration error | P(alive) AUC | predicted purchases | "
          "actual purchases | predicted value | actual value | note |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    units = days / 7.0
    for model_name, cls in TRANSACTION_MODELS.items():
        model, note = _refit(cls, x, tx, T)
        if model is None:
            print(f"| {model_name} | | | | | | | | | not fitted: {note} |")
            continue
        active = model.conditional_probability_active(units, x, tx, T)  # type: ignore[attr-defined]
        alive = model.conditional_probability_alive(x, tx, T)  # type: ignore[attr-defined]
        expected = model.conditional_expected_number_of_purchases_up_to_time(units, x, tx, T)  # type: ignore
        chosen = " (chosen)" if model_name == info.get("model") else ""
        print(f"| {model_name}{chosen} | {_fmt(auc(active, bought))} | {_fmt(brier(active, bought))} "
              f"| {_fmt(calibration_error(active, bought))} | {_fmt(auc(alive, bought))} "
              f"| {_fmt(float(expected.sum()), 0)} | {_fmt(actual_purchases, 0)} "
              f"| {_fmt(float((expected * spend).sum()), 0)} | {_fmt(actual_value, 0)} | {note} |")

    observed = lines.filter(pl.col("timestamp") < end + timedelta(days=1))
    last = observed.filter(pl.col("timestamp") >= end + timedelta(days=1) - timedelta(days=days))
    total_value = frame.get_column("total_value").to_numpy().astype(float)
    history_rate = total_value / np.maximum(T, units) * units
    ltv = frame.get_column("ltv_ml").fill_null(0.0).sum() if "ltv_ml" in frame.columns else math.nan
    print(f"\n| value in the next {window} | total |")
    print("|---|---|")
    for label, value in (
        ("actual", actual_value),
        ("BTYD (chosen model x spend, `clv` undiscounted, margin 1)", float(frame.get_column("clv").sum())),
        ("ML (`ltv_ml`)", float(ltv)),
        (f"baseline: all revenue of the last {window} before the observation end (first orders included)",
         float(last.get_column("amount").sum())),
        ("baseline: each customer's historical revenue rate x window (age floored at the window)",
         float(history_rate.sum())),
    ):
        print(f"| {label} | {_fmt(value, 0)} |")
    for key, reason in info.items():
        if key.startswith("skipped_"):
            print(f"\n{key}: {reason}")
    if info.get("ml_label_window"):
        print(f"\nML label window: {info['ml_label_window']}")
    if info.get("health_notes"):
        print(f"\nhealth notes: {info['health_notes']}")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(CASES))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.datasets.split(","):
            bench(name, Path(tmp))


if __name__ == "__main__":
    main()
