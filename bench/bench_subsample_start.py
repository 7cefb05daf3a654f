"""A large fit's subsample start, stopped early (as shipped) against the strict start alone (as before).

    python bench/bench_subsample_start.py [--seeds 3-8] [--source /tmp/demo100k/demo_transactions.csv] [--repeat 3]

First, Pareto/NBD fits of simulated stores whose dropout rates barely vary, in whole weeks (20,000 and 40,000
customers; four (s, beta) pairs of one mean dropout rate; each seed a store): the fits run along the likelihood's
ridge towards no dropout heterogeneity, where a fit's ending depends on its path. So that the subsample path runs
at these sizes, each fit subsamples above 1,000 distinct rows, to 2,000 rows (shipped: above 20,000, to 10,000).
Each store is fitted both ways; a line per store gives seconds, log-likelihood or the error, and whether the early
stop's Newton steps converged ("early") or the fit took the strict start's path ("fell back"). The summary counts
failed fits each way, total seconds, the largest log-likelihood difference where the early stop converged, and
whether every fall-back ended on the strict fit's parameters to the bit.

With ``--source``, the run's "fit models" work (model choice and fits, ``fit_models``) on that file, alternating
the two ways ``--repeat`` times: wall and CPU seconds of each.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from _harness import fit_models_alternately

from clvlens.errors import ClvlensError
from clvlens.models import ParetoNBD, _engine
from clvlens.models.simulate import in_whole_periods, simulate_paretonbd

#: (s, beta) with one mean dropout rate (0.01 a week) and ever less heterogeneity
DROPOUT = ((5.0, 500.0), (50.0, 5_000.0), (500.0, 50_000.0), (2_000.0, 200_000.0))
SIZES = (20_000, 40_000)


@contextmanager
def _strict_start(strict: bool) -> Iterator[None]:
    shipped = _engine._WARM_FTOL
    _engine._WARM_FTOL = _engine._FTOL if strict else shipped
    try:
        yield
    finally:
        _engine._WARM_FTOL = shipped


def _store(n: int, s: float, beta: float, seed: int) -> tuple[np.ndarray, ...]:
    d = simulate_paretonbd(n, r=0.9, alpha=50.0, s=s, beta=beta, T_max=100.0, seed=seed)
    return tuple(in_whole_periods(d))


def _fit(columns: tuple[np.ndarray, ...], strict: bool) -> tuple[float, ParetoNBD | str]:
    started = time.perf_counter()
    with _strict_start(strict):
        try:
            model: ParetoNBD | str = ParetoNBD().fit(*columns)
        except ClvlensError as exc:
            model = str(exc).split(";")[0]
    return time.perf_counter() - started, model


@contextmanager
def _small_subsample() -> Iterator[None]:
    shipped = ParetoNBD._subsample_above, ParetoNBD._subsample_rows
    ParetoNBD._subsample_above, ParetoNBD._subsample_rows = 1_000, 2_000
    try:
        yield
    finally:
        ParetoNBD._subsample_above, ParetoNBD._subsample_rows = shipped


def ridge_stores(seeds: range) -> None:
    print("n | s | beta | seed | early-stop s | strict s | early-stop log-likelihood | strict log-likelihood | path")
    totals = {"early": 0.0, "strict": 0.0}
    failed = {"early": 0, "strict": 0}
    largest_gap, fell_back, fell_back_same = 0.0, 0, 0
    for n in SIZES:
        for s, beta in DROPOUT:
            for seed in seeds:
                columns = _store(n, s, beta, seed)
                with _small_subsample():
                    results: dict[str, tuple[float, Any]] = {way: _fit(columns, way == "strict")
                                                             for way in ("early", "strict")}
                path = ""
                for way, (seconds, model) in results.items():
                    totals[way] += seconds
                    failed[way] += isinstance(model, str)
                early, strict = results["early"][1], results["strict"][1]
                if not isinstance(early, str):
                    starts = [a for a in early.fit_result_.attempts if a.startswith("L-BFGS-B on a subsample")]
                    path = "early" if len(starts) == 1 else "fell back"
                    if path == "early" and not isinstance(strict, str):
                        gap = abs(early.fit_result_.log_likelihood - strict.fit_result_.log_likelihood)
                        largest_gap = max(largest_gap, gap)
                    elif path == "fell back":
                        fell_back += 1
                        fell_back_same += not isinstance(strict, str) and early.params_ == strict.params_
                cells = [f"{results[w][0]:.2f}" for w in ("early", "strict")]
                cells += [m if isinstance(m, str) else f"{m.fit_result_.log_likelihood:.4f}" for m in (early, strict)]
                print(f"{n:,} | {s:g} | {beta:g} | {seed} | {' | '.join(cells)} | {path}")
    stores = len(SIZES) * len(DROPOUT) * len(seeds)
    print(f"\nfailed fits: early stop {failed['early']}, strict {failed['strict']} of {stores}")
    print(f"seconds: early stop {totals['early']:.1f}, strict {totals['strict']:.1f}")
    print(f"largest log-likelihood difference where the early stop converged: {largest_gap:.4f}")
    print(f"fell back: {fell_back}, of which on the strict fit's parameters to the bit: {fell_back_same}")


def fits(source: str, repeat: int) -> None:
    fit_models_alternately(source, {"strict": lambda: _strict_start(True),
                                    "early stop": lambda: _strict_start(False)}, repeat)


def _seeds(text: str) -> range:
    first, _, last = text.partition("-")
    return range(int(first), int(last or first) + 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=_seeds, default=_seeds("3-8"), help="stores' seeds, as FIRST-LAST")
    parser.add_argument("--source", help="a transaction file to time the run's model fits on")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    ridge_stores(args.seeds)
    if args.source:
        fits(args.source, args.repeat)


if __name__ == "__main__":
    main()
