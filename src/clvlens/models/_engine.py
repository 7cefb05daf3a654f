"""The maximum-likelihood engine shared by every clvlens model (see :mod:`clvlens.models._base`).

The objective is the mean negative log-likelihood over unique data rows weighted by their counts (times any
``weights=`` given to ``fit``), plus ``penalizer_coef * sum(log(params)**2)`` (``penalizer="log"``, the default)
or lifetimes' ``penalizer_coef * sum(params**2)`` (``penalizer="l2"``, see :func:`penalty_scales`), minimised
over log-parameters. Large data sets are first fitted on
a deterministic subsample and then polished with quasi-Newton steps on the full data. Otherwise L-BFGS-B runs
from several starting points, then (unless the parameters are drifting to an edge of the box, which no local
optimiser can fix) a boxed Nelder-Mead. Standard errors come from the model's analytic Hessian where it has one,
else from finite differences. Fits run with one BLAS thread (see :func:`single_threaded_blas`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from clvlens.errors import ClvlensError
from clvlens.resources import single_threaded_blas

if TYPE_CHECKING:
    from scipy import optimize

    from clvlens.models._base import BaseModel

__all__ = ["FitResult", "identification", "maximise"]

_LOG_BOUND = 18.0  # log-parameters are boxed in [-18, 18] (about 1.5e-8 .. 6.6e7)
_LOG_DRIFT = 9.0  # beyond about 1e-4 .. 8e3 an unconverged fit may be drifting to an edge: fewer retries
_LOG_EDGE = 14.0  # a fitted parameter outside [8e-7, 1.2e6] is treated as having run off to 0 or infinity
_WEAK_LOG_SD = 1.0  # sd(log theta) above this (a 95% interval wider than a factor 50 each way): weakly identified
_MAX_NEWTON_STEP = 1.0  # largest change of a log-parameter in one quasi-Newton step
_ILL_CONDITIONED = 1e10  # Hessian condition number beyond which its inverse is not to be trusted
_ERRORS_STEP = 1e-3  # the step of the standard errors' Hessian by differences (see _Objective.hessian)
_FTOL = 1e-13  # L-BFGS-B stops when an iteration lowers the objective by less than this (relative) ...
_WARM_FTOL = 1e-12  # ... or, first, a subsample's fit by less than this (see _subsample_start)


@dataclass
class FitResult:
    """Diagnostics of one maximum-likelihood fit (stored as ``model.fit_result_``)."""

    converged: bool
    message: str
    optimizer: str
    iterations: int
    n_evaluations: int
    log_likelihood: float
    gradient_norm: float
    params: dict[str, float]
    standard_errors: dict[str, float | None]
    covariance_log: list[list[float]] | None
    aic: float
    bic: float
    n_customers: int
    n_unique_rows: int
    penalizer_coef: float
    attempts: list[str] = field(default_factory=list)
    penalizer: str = "log"
    #: parameters the data barely identify, each with the reason (see :func:`identification`)
    weakly_identified: dict[str, str] = field(default_factory=dict)
    #: condition number of the log-parameter Hessian (None when it is not finite)
    hessian_condition: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def penalty_scales(model: BaseModel, data: dict[str, Any], n: float) -> tuple[float, np.ndarray] | None:
    """Coefficient multiplier and per-parameter scales of the ``penalizer="l2"`` form, None for ``"log"``.

    ``"log"`` (the default) adds ``coef * sum(log(theta)^2)``, pulling every parameter towards 1. ``"l2"`` is
    lifetimes 0.11.3's form, ``coef * sum((s_k theta_k)^2)``, pulling towards 0, where ``s_k`` expresses each
    parameter in the units lifetimes optimises it in (``model._l2_scales``: its time-scale parameters per longest
    customer age, for instance), so that a lifetimes fit with the same coefficient is reproduced.
    """
    if getattr(model, "penalizer", "log") != "l2":
        return None
    scales = getattr(model, "_l2_scales", None)
    factors = scales(data) if scales is not None else np.ones(len(model._param_names))
    per_row = n if getattr(model, "_l2_per_customer", False) else 1.0
    return 1.0 / per_row, np.asarray(factors, dtype=float)


class _Objective:
    """Mean penalised negative log-likelihood in log-parameter space, with gradient."""

    def __init__(self, model: BaseModel, data: dict[str, Any], pen: float) -> None:
        self.model, self.data, self.pen = model, data, pen
        self.n = float(np.sum(data["w"]))
        self.l2 = penalty_scales(model, data, self.n)
        self.evals = 0
        self.analytic = model._analytic_gradient
        self._memo: tuple[bytes, float, np.ndarray] | None = None

    def penalty(self, phi: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """The penalty at log-parameters ``phi``, its gradient and the diagonal of its Hessian."""
        if self.l2 is None:
            return self.pen * float(phi @ phi), 2 * self.pen * phi, np.full(phi.size, 2 * self.pen)
        coef = self.pen * self.l2[0]
        with np.errstate(over="ignore"):
            sq = (self.l2[1] * np.exp(phi)) ** 2
        return coef * float(np.sum(sq)), 2 * coef * sq, 4 * coef * sq

    def value(self, phi: np.ndarray) -> float:
        self.evals += 1
        ll = np.sum(self.data["w"] * self.model._loglik(np.exp(phi), self.data))
        v = -ll / self.n + self.penalty(phi)[0]
        return float(v) if np.isfinite(v) else 1e300

    def grad(self, phi: np.ndarray) -> tuple[float, np.ndarray]:
        key = phi.tobytes()
        if self._memo is not None and self._memo[0] == key:
            return self._memo[1], self._memo[2].copy()
        v, g = self._grad(phi)
        self._memo = (key, v, g.copy())
        return v, g

    def _grad(self, phi: np.ndarray) -> tuple[float, np.ndarray]:
        if self.analytic:
            self.evals += 1
            theta = np.exp(phi)
            ll, g = self.model._loglik_grad(theta, self.data)  # type: ignore[misc]
            pen_value, pen_grad, _ = self.penalty(phi)
            v = -ll / self.n + pen_value
            gphi = -g * theta / self.n + pen_grad
        else:
            return self.difference_grad(phi)
        if not (np.isfinite(v) and np.all(np.isfinite(gphi))):
            return 1e300, np.zeros_like(phi)
        return float(v), gphi

    def difference_grad(self, phi: np.ndarray) -> tuple[float, np.ndarray]:
        """The value and its gradient by forward differences (k + 1 evaluations; accurate to ~1e-8, ample for the
        1e-5 tolerance)."""
        v = self.value(phi)
        h = 1e-7
        gphi = np.empty_like(phi)
        for i in range(phi.size):
            e = np.zeros_like(phi)
            e[i] = h
            gphi[i] = (self.value(phi + e) - v) / h
        if not (np.isfinite(v) and np.all(np.isfinite(gphi))):
            return 1e300, np.zeros_like(phi)
        return float(v), gphi

    def hessian(self, phi: np.ndarray, *, for_errors: bool = False) -> np.ndarray:
        """Hessian of the *total* penalised NLL (mean x n) in log-parameter space.

        The model's analytic Hessian where it has one. Otherwise, for quasi-Newton steps to start from, forward
        differences of the gradient; ``for_errors`` (the standard errors' and the identification's Hessian),
        second differences of the likelihood's values of step ``_ERRORS_STEP``. Pareto/NBD's gradient is summed
        from series and carries rounding noise of 2e-9 to 3e-7 of the mean objective, more where its
        hypergeometric terms need the continued fraction; differences of it (forward, of step 1e-5) put errors of
        1e-4 to 1e-1 in the Hessian, more than its smallest eigenvalue where the likelihood is flat (1.2e-5 on a
        60k-customer demo store), so that the standard errors of s and beta came out several times too small, or
        the Hessian indefinite. Its values carry less noise and cost a fifth to a half of a gradient (the 100k demo
        store, the simulated 100k log), so the 21 second differences cost what 4 to 10 gradients do; their noise
        over a step of 1e-3 is about 2e-6 and their truncation error of order the step squared
        (bench/bench_standard_errors.py)."""
        k = phi.size
        if self.model._analytic_hessian:
            # with theta = exp(phi): d2f/dphi_i dphi_j = theta_i theta_j H_ij + [i = j] theta_i g_i
            self.evals += 1
            theta = np.exp(phi)
            _, g, H = self.model._loglik_hessian(theta, self.data)  # type: ignore[misc]
            return -(H * np.outer(theta, theta) + np.diag(g * theta)) + self.n * np.diag(self.penalty(phi)[2])
        if self.analytic and not for_errors:
            h = 1e-5
            g0 = self.grad(phi)[1]
            H = np.empty((k, k))
            for i in range(k):
                e = np.zeros(k)
                e[i] = h
                H[:, i] = (self.grad(phi + e)[1] - g0) / h
        else:
            h = _ERRORS_STEP if for_errors else 2e-4
            f0 = self.value(phi)
            E = np.eye(k) * h
            fp = np.array([self.value(phi + E[i]) for i in range(k)])
            fm = np.array([self.value(phi - E[i]) for i in range(k)])
            H = np.empty((k, k))
            for i in range(k):
                H[i, i] = (fp[i] - 2 * f0 + fm[i]) / h**2
                for j in range(i):
                    fpp = self.value(phi + E[i] + E[j])
                    fmm = self.value(phi - E[i] - E[j])
                    H[i, j] = H[j, i] = (fpp - fp[i] - fp[j] + 2 * f0 - fm[i] - fm[j] + fmm) / (2 * h**2)
        return 0.5 * (H + H.T) * self.n


def _lbfgs(obj: _Objective, x0: np.ndarray, maxiter: int = 500, *, ftol: float = _FTOL) -> optimize.OptimizeResult:
    bound = getattr(obj.model, "_log_bound", _LOG_BOUND)
    bounds = [(-bound, bound)] * x0.size
    from scipy import optimize  # here, not at import: scipy.optimize costs a CLI call that fits nothing

    gradient = obj.difference_grad if obj.model._lbfgs_by_differences else obj.grad
    return optimize.minimize(
        gradient, x0, jac=True, method="L-BFGS-B", bounds=bounds,
        options={"maxiter": maxiter, "ftol": ftol, "gtol": 1e-9, "maxcor": 20},
    )


def _subsample(data: dict[str, Any], model: BaseModel) -> dict[str, Any]:
    cols, w = data["cols"], data["w"]
    step = math.ceil(w.size / getattr(model, "_subsample_rows", model._subsample_above // 4))
    idx = np.arange(0, w.size, step)
    return model._prepare([c[idx] for c in cols], w[idx])


def _newton_polish(
    obj: _Objective, phi: np.ndarray, H: np.ndarray, tol: float, max_steps: int = 25
) -> tuple[np.ndarray, float, int]:
    """Quasi-Newton iterations from the Hessian approximation ``H``, with step halving.

    Each step's change in gradient refines the inverse Hessian by the BFGS update (Nocedal & Wright 2006,
    eq. 6.17), so a subsample's Hessian that is a few per cent off costs one or two extra steps, not five. Along
    a flat ridge ``H`` may be indefinite or singular; its eigenvalues are taken in absolute value with a floor
    (a modified Newton method, Nocedal & Wright 2006, section 3.4) so that every step descends.
    """
    try:
        eig, vec = np.linalg.eigh(0.5 * (H + H.T))
    except np.linalg.LinAlgError:
        return phi, 1e300, 0
    if not (np.all(np.isfinite(eig)) and np.max(np.abs(eig)) > 0):
        return phi, 1e300, 0
    eig = np.maximum(np.abs(eig), 1e-8 * float(np.max(np.abs(eig))))
    Hinv = (vec / eig) @ vec.T
    f, g = obj.grad(phi)
    steps = 0
    eye = np.eye(phi.size)
    while steps < max_steps and np.max(np.abs(g)) >= tol * 0.1:
        step = -Hinv @ g
        length = float(np.max(np.abs(step)))
        if length > _MAX_NEWTON_STEP:  # a trust region: a near-null direction's step stays a factor e at most
            step *= _MAX_NEWTON_STEP / length
        for _ in range(30):
            cand = phi + step
            fc, gc = obj.grad(cand)
            if fc <= f + 1e-12 * abs(f):
                break
            step = step / 2
        else:
            break
        y = gc - g
        curvature = float(y @ step)
        if curvature > 1e-12 * float(np.linalg.norm(y) * np.linalg.norm(step)):
            rho = 1.0 / curvature
            Hinv = (eye - rho * np.outer(step, y)) @ Hinv @ (eye - rho * np.outer(y, step)) + rho * np.outer(
                step, step
            )
        phi, f, g = cand, fc, gc
        steps += 1
    return phi, f, steps


def _subsample_start(
    obj: _Objective, sub: _Objective, x0: np.ndarray, tol: float, ok: Callable[[np.ndarray, float], bool]
) -> tuple[tuple[np.ndarray, float, str, int] | None, np.ndarray | None, list[str]]:
    """A large fit's start: L-BFGS-B on the subsample ``sub`` from ``x0``, polished by Newton steps on all rows.

    Returns the polished fit (None if not finite), the point to try first after it and the attempts' notes.
    The subsample's L-BFGS-B first stops once an iteration lowers its objective by less than ``_WARM_FTOL``
    (relative): its optimum is off the full data's by sampling error anyway, and along a likelihood ridge the
    strict tolerance sits below the noise of a difference gradient, where L-BFGS-B spent 500 of a 100k demo
    store's 630 evaluations (0.9 s) in line searches that could not succeed (docs/benchmarks.md, issue 14).
    Where the Newton steps from that point do not converge, the subsample is fitted again to the strict
    tolerance and the fit goes on from that point as it did before the early stop: on a ridge, where the steps
    from two nearby points can end apart, the early stop never loses a fit that the strict start found.
    """
    notes: list[str] = []
    for ftol in dict.fromkeys((_WARM_FTOL, _FTOL)):
        warm = _lbfgs(sub, x0, ftol=ftol)
        if not (np.all(np.isfinite(warm.x)) and warm.fun < 1e299):
            continue
        phi, fval, nsteps = _newton_polish(obj, warm.x, sub.hessian(warm.x) / sub.n, tol)
        early = " (stopped early)" if ftol != _FTOL else ""
        notes.append(f"L-BFGS-B on a subsample ({warm.nit} iterations{early}) + {nsteps} Newton steps")
        if ftol == _FTOL or (fval < 1e299 and ok(phi, fval)):
            polished = (phi, fval, "L-BFGS-B (subsample) + Newton", int(warm.nit) + nsteps) if fval < 1e299 else None
            return polished, phi, notes
    return None, None, notes


def maximise(model: BaseModel, data: dict[str, Any], n_customers: int) -> tuple[np.ndarray, FitResult]:
    """Maximum-likelihood fit of ``model`` on prepared ``data``: fitted parameters and diagnostics."""
    with single_threaded_blas():
        return _maximise(model, data, n_customers)


def _maximise(model: BaseModel, data: dict[str, Any], n_customers: int) -> tuple[np.ndarray, FitResult]:
    pen = float(model.penalizer_coef)
    obj = _Objective(model, data, pen)
    names = model._param_names
    starts = [np.log(np.clip(s, 1e-6, 1e6)) for s in model._starts(data)]
    attempts: list[str] = []
    tol = 1e-5  # accepted max |gradient| of the mean objective w.r.t. log-parameters
    # a model may box its parameters tighter (where its likelihood gets expensive or degenerate); a fit that
    # ends on that box has run to the edge just as one beyond _LOG_EDGE
    edge = min(_LOG_EDGE, getattr(model, "_log_bound", _LOG_BOUND) - 1e-3)

    def ok(phi: np.ndarray, fval: float, jac: np.ndarray | None = None) -> bool:
        if not (np.all(np.isfinite(phi)) and fval < 1e299):
            return False
        if np.any(np.abs(phi) > edge):
            return False
        g = obj.grad(phi)[1] if jac is None else jac
        return bool(np.max(np.abs(g)) < tol)

    best: tuple[np.ndarray, float, str, int] | None = None
    if data["w"].size > model._subsample_above:
        # Fit a deterministic subsample, then take Newton steps on the full data using the subsample's
        # Hessian (the mean objective's curvature barely changes with n): a handful of full-data gradients.
        sub = _Objective(model, _subsample(data, model), pen)
        best, polished, notes = _subsample_start(obj, sub, starts[0], tol, ok)
        attempts += notes
        if polished is not None:
            starts.insert(0, polished)
    for i, x0 in enumerate(starts):
        if best is not None and ok(best[0], best[1]):
            break
        res = _lbfgs(obj, x0)
        attempts.append(f"L-BFGS-B from start {i + 1}: {res.message}")
        if best is None or res.fun < best[1] or best[2].endswith("Newton"):
            best = (res.x, float(res.fun), "L-BFGS-B", int(res.nit))
        if ok(res.x, float(res.fun), res.jac):
            best = (res.x, float(res.fun), "L-BFGS-B", int(res.nit))
            break
        near = np.all(np.isfinite(res.x)) and float(np.max(np.abs(res.jac))) < 100 * tol
        if near and not np.any(np.abs(res.x) > edge):
            # L-BFGS-B stopped on its relative-reduction test close to the optimum, as it does where the
            # likelihood rises ever more slowly along a ridge: Newton steps with the full data's curvature
            # finish from there, where another start would crawl along the ridge all over again
            phi, fval, nsteps = _newton_polish(obj, res.x, obj.hessian(res.x) / obj.n, tol)
            attempts.append(f"{nsteps} Newton steps from the L-BFGS-B point")
            if fval <= best[1]:
                best = (phi, fval, "L-BFGS-B + Newton", int(res.nit) + nsteps)
            if ok(phi, fval):
                break
        if i >= 1 and np.all(np.isfinite(res.x)) and np.any(np.abs(res.x) > _LOG_DRIFT):
            break  # two starts drifting to an edge: more starts of the same optimiser would only follow
    assert best is not None
    drifting = bool(np.all(np.isfinite(best[0])) and np.any(np.abs(best[0]) > _LOG_DRIFT))
    tried_nelder_mead = not ok(best[0], best[1]) and not drifting
    if tried_nelder_mead:
        # Nelder-Mead cannot rescue a likelihood that keeps rising towards a parameter edge (an unidentified
        # direction), so it only runs from a point well inside the box, and stays in the box.
        budget = 300 * best[0].size
        bound = getattr(model, "_log_bound", _LOG_BOUND)
        from scipy import optimize

        nm = optimize.minimize(
            obj.value, best[0], method="Nelder-Mead", bounds=[(-bound, bound)] * best[0].size,
            options={"maxiter": budget, "maxfev": budget, "xatol": 1e-9, "fatol": 1e-13, "adaptive": True},
        )
        attempts.append(f"Nelder-Mead: {nm.message}")
        if nm.fun <= best[1]:
            best = (nm.x, float(nm.fun), "Nelder-Mead", int(nm.nit))
        if not ok(best[0], best[1]):  # polish once more from the Nelder-Mead point
            res = _lbfgs(obj, best[0])
            if res.fun <= best[1]:
                best = (res.x, float(res.fun), "Nelder-Mead + L-BFGS-B", best[3] + int(res.nit))
    phi, fval, used, nit = best
    gnorm = float(np.max(np.abs(obj.grad(phi)[1]))) if np.all(np.isfinite(phi)) else float("inf")
    if not ok(phi, fval):
        where = ""
        if np.all(np.isfinite(phi)):
            gone = [n for n, p in zip(names, phi, strict=True) if abs(p) > _LOG_DRIFT]
            where = f" (parameters {', '.join(gone)} running to 0 or infinity)" if gone else ""
        raise ClvlensError(
            f"{type(model).__name__}.fit: maximum likelihood did not converge{where} after "
            f"L-BFGS-B from {sum(a.startswith('L-BFGS-B from') for a in attempts)} starts"
            f"{' and Nelder-Mead' if tried_nelder_mead else ''} (max |gradient| {gnorm:.2g}); "
            "the data may "
            "not identify the model: check the input or set penalizer_coef (e.g. 0.01)"
        )
    theta = np.exp(phi)
    f_best, g_best = obj.grad(phi)
    ll = -(f_best - obj.penalty(phi)[0]) * obj.n
    H = obj.hessian(phi, for_errors=True)
    cov_log: np.ndarray | None
    try:
        cov_log = np.linalg.inv(H)
        if not (np.all(np.isfinite(cov_log)) and np.all(np.linalg.eigvalsh(cov_log) > 0)):
            cov_log = None
    except np.linalg.LinAlgError:
        cov_log = None
    ses: dict[str, float | None] = dict.fromkeys(names)
    if cov_log is not None:
        # Natural-scale Hessian: H_theta = D^-1 (H_phi - diag(g_phi)) D^-1 with D = diag(theta).
        g_phi = g_best * obj.n
        Hn = (H - np.diag(g_phi)) / np.outer(theta, theta)
        try:
            cov_nat = np.linalg.inv(Hn)
            ses = {
                n: (float(math.sqrt(v)) if v > 0 else None)
                for n, v in zip(names, np.diag(cov_nat), strict=True)
            }
        except np.linalg.LinAlgError:
            pass
    k = len(names)
    weak, condition = identification(model, theta, H, cov_log, ses)
    result = FitResult(
        converged=True,
        message="converged",
        optimizer=used,
        iterations=nit,
        n_evaluations=obj.evals,
        log_likelihood=ll,
        gradient_norm=gnorm,
        params=dict(zip(names, map(float, theta), strict=True)),
        standard_errors=ses,
        covariance_log=None if cov_log is None else cov_log.tolist(),
        aic=2 * k - 2 * ll,
        bic=k * math.log(n_customers) - 2 * ll,
        n_customers=n_customers,
        n_unique_rows=int(data["w"].size),
        penalizer_coef=pen,
        attempts=attempts,
        penalizer=str(getattr(model, "penalizer", "log")),
        weakly_identified=weak,
        hessian_condition=condition,
    )
    return theta, result


def identification(
    model: BaseModel, theta: np.ndarray, H: np.ndarray, cov_log: np.ndarray | None,
    ses: dict[str, float | None],
) -> tuple[dict[str, str], float | None]:
    """Which parameters the data barely identify, and why; and the Hessian's condition number.

    A parameter is flagged when its standard error is missing or not finite (singular Hessian), when the
    standard deviation of its logarithm exceeds ``_WEAK_LOG_SD`` (relative standard error above about 100%),
    when it dominates the weakest direction of an ill-conditioned Hessian, or when its estimate sits beyond
    ``_LOG_DRIFT`` on the log scale (near 0 or infinity). A flagged parameter that has moved toward its model's
    no-dropout limit (``model._no_dropout``: BG/NBD ``b`` up or ``a`` down, say) is named as a likelihood ridge
    toward no dropout: the data say customers hardly leave but not how slowly.
    """
    names = model._param_names
    weak: dict[str, str] = {}
    condition: float | None = None
    try:
        eig, vec = np.linalg.eigh(0.5 * (H + H.T))
        if np.all(np.isfinite(eig)) and eig[-1] > 0:
            condition = float(abs(eig[-1]) / max(abs(eig[0]), 1e-300))
    except (np.linalg.LinAlgError, ValueError):
        eig = vec = None
    phi = np.log(theta)
    for i, name in enumerate(names):
        se = ses.get(name)
        reason = None
        if cov_log is None:
            reason = "covariance singular (Hessian not invertible)"
        elif se is None or not math.isfinite(se):
            reason = "standard error not finite"
        elif math.sqrt(max(cov_log[i][i], 0.0)) > _WEAK_LOG_SD:
            reason = f"relative standard error {se / theta[i]:.0%}"
        elif condition is not None and condition > _ILL_CONDITIONED and vec is not None and abs(vec[i, 0]) > 0.5:
            reason = f"Hessian ill-conditioned (condition number {condition:.1e})"
        if abs(phi[i]) > _LOG_DRIFT:
            edge = f"estimate {theta[i]:.3g} drifting to {'infinity' if phi[i] > 0 else '0'}"
            reason = edge if reason is None else f"{reason}; {edge}"
        if reason is None:
            continue
        toward = getattr(model, "_no_dropout", {}).get(name)
        if (toward == "up" and theta[i] > 100.0) or (toward == "down" and theta[i] < 0.05):
            reason += f"; likelihood ridge toward no dropout ({name} -> {'infinity' if toward == 'up' else '0'})"
        weak[name] = reason
    return weak, condition
