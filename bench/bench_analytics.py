"""Time `clvlens.analytics.strategy_tables` on the demo store (5,000 customers) and on UCI Online Retail.

Usage: python bench/bench_analytics.py [--repeats 3]

Inputs are prepared before timing: the clean transactions, the pipeline's customer table and the model columns
(BG/NBD P(alive) and 52-week expected purchases, Gamma-Gamma expected spend, clv = their product). Each row of
the markdown table is the best of `--repeats` runs of `strategy_tables` alone; the target is under 5 s.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
TARGET_SECONDS = 5.0


def with_model_columns(customers: pl.DataFrame) -> pl.DataFrame:
    """p_alive, expected_purchases (52 weeks), expected_spend and clv from fitted BG/NBD and Gamma-Gamma."""
    from clvlens.models import BetaGeo, GammaGamma

    x, tx, T = (customers[c].to_numpy() for c in ("frequency", "recency", "T"))
    model = BetaGeo().fit(customers.select("frequency", "recency", "T").to_pandas())
    repeaters = customers.filter((pl.col("frequency") > 0) & (pl.col("monetary_value") > 0))
    spend = GammaGamma().fit(repeaters["frequency"].to_numpy(), repeaters["monetary_value"].to_numpy())
    purchases = np.asarray(model.conditional_expected_number_of_purchases_up_to_time(52.0, x, tx, T), dtype=float)
    order_value = np.asarray(spend.conditional_expected_average_profit(x, customers["monetary_value"].to_numpy()))
    return customers.with_columns(
        pl.Series("p_alive", np.asarray(model.conditional_probability_alive(x, tx, T), dtype=float)),
        pl.Series("expected_purchases", purchases),
        pl.Series("expected_spend", order_value),
        pl.Series("clv", purchases * order_value),
    )


def demo_inputs() -> tuple[pl.DataFrame, pl.DataFrame]:
    from clvlens.data.demo import generate_demo_store
    from clvlens.pipeline import build_customer_table

    transactions = pl.from_pandas(generate_demo_store().clean)
    return transactions, with_model_columns(build_customer_table(transactions, "W", None))


def retail_inputs() -> tuple[pl.DataFrame, pl.DataFrame] | None:
    from clvlens.data import load_online_retail
    from clvlens.pipeline import build_customer_table

    path = DATASETS / "online_retail" / "online_retail.csv.gz"
    if not path.exists():
        return None
    transactions = load_online_retail(path).transactions
    return transactions, with_model_columns(build_customer_table(transactions, "W", None))


def best_of(repeats: int, function: Callable[[], object]) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    from clvlens.analytics import strategy_tables

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = [f"| data set | transactions | customers | strategy_tables best of {args.repeats} (s) | target |",
            "|---|---:|---:|---:|---|"]
    for name, loader in (("demo store", demo_inputs), ("UCI Online Retail", retail_inputs)):
        inputs = loader()
        if inputs is None:
            rows.append(f"| {name} | - | - | skipped: data set not found under {DATASETS} | - |")
            continue
        transactions, customers = inputs
        seconds = best_of(args.repeats, lambda t=transactions, c=customers: strategy_tables(t, c))
        verdict = "ok" if seconds < TARGET_SECONDS else f"over {TARGET_SECONDS:g} s"
        rows.append(f"| {name} | {transactions.height:,} | {customers.height:,} | {seconds:.3f} | {verdict} |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
