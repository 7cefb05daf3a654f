"""Pareto/NBD fits with the analytic gradient against forward differences, on real and simulated logs (issue 14).

    python bench/bench_pareto_gradient.py [--repeat 3] SOURCE[:FORMAT[:UNIT]] ...

e.g. ``../shared/datasets/cdnow/CDNOW_master.txt.gz:cdnow:W /tmp/clvlens-scale/scale_100000.parquet:auto:D``.
Each source is loaded and summarised as a run does (every customer, to its last date), then ParetoNBD is fitted
``--repeat`` times each way in this process: as shipped (the analytic gradient in the quasi-Newton steps and the
standard errors' Hessian) and with ``_analytic_gradient`` off (forward differences everywhere, as before). Reported:
the fit's best CPU seconds of this thread, likelihood evaluations (a gradient pass counts one), the log-likelihood,
and the largest relative difference of the parameters and of their standard errors between the two ways.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np


def _fit(columns: list[np.ndarray], unit: str, repeat: int) -> tuple[Any, float]:
    from clvlens.models import ParetoNBD

    best = float("inf")
    model = None
    for _ in range(repeat):
        started = time.thread_time()
        model = ParetoNBD(time_unit=unit).fit(*columns)
        best = min(best, time.thread_time() - started)
    return model, best


def _largest_gap(a: dict[str, Any], b: dict[str, Any]) -> float:
    gaps = [abs(a[k] - b[k]) / abs(b[k]) for k in a if a[k] is not None and b[k] is not None and b[k] != 0]
    return max(gaps) if gaps else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="+")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from clvlens.data import load_source
    from clvlens.models import ParetoNBD
    from clvlens.pipeline.run import build_customer_table

    print("| source | customers | gradient | best CPU s | evaluations | log-likelihood | params rel diff "
          "| SE rel diff |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for spec in args.sources:
        parts = spec.split(":")
        path, form, unit = parts[0], *(parts[1:] + ["auto", "W"][len(parts) - 1:])[:2]
        customers = build_customer_table(load_source(path, format=form).transactions, unit, None)
        columns = [customers[c].to_numpy().astype(float) for c in ("frequency", "recency", "T")]
        analytic, analytic_s = _fit(columns, unit, args.repeat)
        ParetoNBD._analytic_gradient = False
        try:
            differences, differences_s = _fit(columns, unit, args.repeat)
        finally:
            ParetoNBD._analytic_gradient = True
        for label, model, seconds in (("analytic", analytic, analytic_s), ("differences", differences, differences_s)):
            result = model.fit_result_
            print(f"| {path.rsplit('/', 1)[-1]} | {customers.height:,} | {label} | {seconds:.3f} | "
                  f"{result.n_evaluations} | {result.log_likelihood:.4f} | "
                  f"{_largest_gap(model.params_, differences.params_):.1e} | "
                  f"{_largest_gap(result.standard_errors, differences.fit_result_.standard_errors):.1e} |")


if __name__ == "__main__":
    main()
