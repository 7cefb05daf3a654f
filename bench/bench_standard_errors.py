"""Pareto/NBD's standard errors where the likelihood is flat: the Hessian at each fit, four ways.

    python bench/bench_standard_errors.py [FILE ...]

Each store is fitted once (weekly units). At the fitted point the Hessian of the objective in log-parameters is
computed as the standard errors took it before 2026-12-01 (forward differences of the gradient, step 1e-5), as
they take it now (``_Objective.hessian(for_errors=True)``: second differences of the likelihood's values, step
``_engine._ERRORS_STEP``), and by second differences of the values at two other steps (2e-4 and 3e-3): where those
two agree, the curvature is resolved. A line per store and way gives the smallest eigenvalue of the Hessian of the
mean objective and sd(log parameter) for r, alpha, s and beta ("-": the Hessian is not positive definite, so no
standard errors). The stores: simulated Pareto/NBD customers (r = 0.87, alpha = 51.6; s and beta as given), in
whole weeks, then each FILE's customers as a run summarises them (for example the demo stores of
`clvlens demo --customers N`).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import numpy as np

from clvlens.models import ParetoNBD, _engine
from clvlens.models._base import dedup_rows
from clvlens.models.simulate import in_whole_periods, simulate_paretonbd

#: (customers, s, beta, seed)
SIMULATED = ((10_000, 3.0, 378.0, 1), (20_000, 3.0, 378.0, 1), (40_000, 3.0, 378.0, 2), (20_000, 5.0, 500.0, 4))


def _simulated() -> Iterator[tuple[str, list[np.ndarray]]]:
    for n, s, beta, seed in SIMULATED:
        d = simulate_paretonbd(n, r=0.87, alpha=51.6, s=s, beta=beta, T_max=104.0, seed=seed)
        yield f"simulated {n:,}, s {s:g}, beta {beta:g}, seed {seed}", in_whole_periods(d)


def _files(paths: list[str]) -> Iterator[tuple[str, list[np.ndarray]]]:
    from clvlens.data import load_source
    from clvlens.pipeline.run import build_customer_table, observed_until
    from clvlens.summary.rfm import resolve_period

    for path in paths:
        transactions = load_source(path).transactions
        period = resolve_period(transactions, "W", None, None, "D")
        customers = build_customer_table(observed_until(transactions, period.observation_end), "W",
                                         period.observation_end)
        yield path, [customers[c].to_numpy().astype(float) for c in ("frequency", "recency", "T")]


def _from_gradient(objective: _engine._Objective, phi: np.ndarray, step: float) -> np.ndarray:
    k = phi.size
    hessian = np.empty((k, k))
    g0 = objective.grad(phi)[1]
    for i in range(k):
        e = np.zeros(k)
        e[i] = step
        hessian[:, i] = (objective.grad(phi + e)[1] - g0) / step
    return 0.5 * (hessian + hessian.T) * objective.n


def _line(label: str, hessian: np.ndarray, n: float) -> str:
    smallest = float(np.linalg.eigvalsh(hessian)[0]) / n
    sd = "-" if smallest <= 0 else " / ".join(f"{v:.3g}" for v in np.sqrt(np.diag(np.linalg.inv(hessian))))
    return f"| {label} | {smallest:.3g} | {sd} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="*")
    args = parser.parse_args()
    print("| store | Hessian | smallest eigenvalue (mean objective) "
          "| sd(log r) / sd(log alpha) / sd(log s) / sd(log beta) |")
    print("|---|---|---|---|")
    for name, columns in [*_simulated(), *_files(args.files)]:
        model = ParetoNBD().fit(*columns)
        distinct, _, row_of = dedup_rows(columns)
        data = model._prepare(list(distinct), np.bincount(row_of).astype(float))
        objective = _engine._Objective(model, data, 0.0)
        phi = np.log([model.params_[p] for p in ParetoNBD._param_names])
        ways = {
            "gradient, forward 1e-5 (before)": _from_gradient(objective, phi, 1e-5),
            f"values, {_engine._ERRORS_STEP:g} (now)": objective.hessian(phi, for_errors=True),
        }
        objective.analytic = False
        ways["values, 2e-4"] = objective.hessian(phi)
        step = _engine._ERRORS_STEP
        try:
            _engine._ERRORS_STEP = 3e-3
            ways["values, 3e-3"] = objective.hessian(phi, for_errors=True)
        finally:
            _engine._ERRORS_STEP = step
        for way, hessian in ways.items():
            print(_line(f"{name} | {way}", hessian, objective.n))


if __name__ == "__main__":
    main()
