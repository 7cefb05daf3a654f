"""CLV intervals at scale: the full parametric bootstrap against its first-order (linearised) version.

    python bench/bench_clv_interval.py [--customers 20000,100000] [--draws 100]

Simulated BG/NBD customers (continuous T) with Gamma-Gamma spend; "one CLV" is a single point estimate for all of
them (what each bootstrap draw costs). Both methods use the same seeded draws of both
models' parameters. Reports seconds for each and how far apart the bounds are, as a share of the bootstrap
interval's width, next to the gap between two bootstrap runs with different seeds (the Monte Carlo noise of the
bootstrap itself).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from clvlens.models import BetaGeo, GammaGamma, customer_lifetime_value, customer_lifetime_value_interval
from clvlens.models.simulate import simulate_bgnbd


def _gap(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> tuple[float, float]:
    width = np.maximum(b[1] - b[0], 1e-9)
    gaps = np.concatenate([np.abs(a[i] - b[i]) / width for i in (0, 1)])
    return float(np.median(gaps)), float(np.quantile(gaps, 0.95))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", default="20000,100000")
    ap.add_argument("--draws", type=int, default=100)
    args = ap.parse_args()
    print("| customers | one CLV s | draws | bootstrap s | linear s | speed-up | linear vs bootstrap gap (median / "
          "p95 of width) | bootstrap seed-to-seed gap (median / p95) |")
    print("|---:|---:|---:|---:|---:|---:|---|---|")
    for n in (int(v) for v in args.customers.split(",")):
        d = simulate_bgnbd(n, r=0.24, alpha=4.4, a=0.79, b=2.43, T_max=78.0, seed=2024)
        x, tx, T = d["frequency"], d["recency"], d["T"]
        spend = np.where(x > 0, np.random.default_rng(0).gamma(3.0, 20.0, n), 0.0)
        bg = BetaGeo().fit(x, tx, T)
        gg = GammaGamma().fit(x[x > 0], spend[x > 0])
        kw = {"monetary_value": spend, "n_draws": args.draws}
        start = time.perf_counter()
        customer_lifetime_value(bg, gg, x, tx, T, monetary_value=spend)
        t0 = time.perf_counter()
        boot = customer_lifetime_value_interval(bg, gg, x, tx, T, method="bootstrap", seed=1, **kw)
        t1 = time.perf_counter()
        linear = customer_lifetime_value_interval(bg, gg, x, tx, T, method="linear", seed=1, **kw)
        t2 = time.perf_counter()
        other = customer_lifetime_value_interval(bg, gg, x, tx, T, method="bootstrap", seed=2, **kw)
        lin_gap, seed_gap = _gap(linear, boot), _gap(other, boot)
        print(f"| {n:,} | {t0 - start:.2f} | {args.draws} | {t1 - t0:.2f} | {t2 - t1:.2f} "
              f"| {(t1 - t0) / (t2 - t1):.0f}x | {lin_gap[0]:.1%} / {lin_gap[1]:.1%} "
              f"| {seed_gap[0]:.1%} / {seed_gap[1]:.1%} |")


if __name__ == "__main__":
    main()
