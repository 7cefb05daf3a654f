"""Shared maximum-likelihood engine, input validation and bookkeeping for every clvlens model.

Parameters are optimised on the log scale. The objective is the mean negative log-likelihood over the
*unique* data rows weighted by their counts, plus ``penalizer_coef * sum(log(params)**2)``. L-BFGS-B runs
first; when it fails the engine restarts from other starting points and finally tries Nelder-Mead. A fit
that still does not converge raises :class:`~clvlens.errors.ClvlensError`; NaN parameters are never returned.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Self

import numpy as np
from scipy import special

from clvlens.errors import ClvlensError
from clvlens.models._engine import _LOG_BOUND, FitResult, maximise
from clvlens.timeunits import parse_time_unit

__all__ = ["BaseModel", "FitResult", "as_float_array", "dedup_rows", "extract_columns", "frequency_index"]


#: fits on more rows than this group identical histories only when a sample shows enough of them
_GROUP_ROWS_UP_TO = 200_000

#: interval draws: proposals of the asymptotic normal are tried up to this many times the number asked for
#: (proposals are cheap; only those inside the box cost a likelihood evaluation)
_DRAW_ROUNDS = 200
_DRAW_SECONDS = 10.0  # and for at most this long (each likelihood check is one pass over the data)


def as_float_array(name: str, values: Any) -> np.ndarray:
    """Convert ``values`` to a 1-D float64 array, raising ClvlensError naming ``name`` on failure."""
    if values is None:
        raise ClvlensError(f"{name}: missing; pass an array or a frame with a '{name}' column")
    if hasattr(values, "to_numpy"):
        values = values.to_numpy()
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ClvlensError(f"{name}: cannot be converted to numbers ({exc}); pass numeric values") from None
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ClvlensError(f"{name}: expected a 1-D array, got shape {arr.shape}; flatten it first")
    return arr


def extract_columns(first: Any, rest: Sequence[Any], names: Sequence[str]) -> list[Any]:
    """Return the raw column objects, taking them from a frame/dict ``first`` when the rest are None."""
    is_frame = first is not None and not isinstance(first, np.ndarray | list | tuple)
    if all(v is None for v in rest) and is_frame:
        try:
            return [first[n] for n in names]
        except (KeyError, IndexError, TypeError, ValueError):
            raise ClvlensError(
                f"input frame: needs columns {', '.join(names)}; rename your columns or pass arrays"
            ) from None
    return [first, *rest]


def fit_weights(weights: Any, n_rows: int) -> np.ndarray:
    """``weights=`` of ``fit``: finite numbers >= 0, one per row, not all 0 (a row of weight w counts w times,
    lifetimes' and PyMC-Marketing's convention for grouped customers; fractions are allowed)."""
    w = as_float_array("weights", weights)
    if w.shape[0] != n_rows:
        raise ClvlensError(f"weights: has {w.shape[0]} rows but the data has {n_rows}")
    validate_finite_nonneg("weights", w)
    if not np.any(w > 0):
        raise ClvlensError("weights: every weight is 0, so there is nothing to fit")
    return w


def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def validate_finite_nonneg(name: str, arr: np.ndarray) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ClvlensError(f"{name}: row {_first_bad(bad)} is NaN or infinite; drop or fill missing values")
    neg = arr < 0
    if neg.any():
        i = _first_bad(neg)
        raise ClvlensError(f"{name}: row {i} is negative ({arr[i]:g}); values must be >= 0")


def validate_integer(name: str, arr: np.ndarray) -> None:
    bad = arr != np.round(arr)
    if bad.any():
        raise ClvlensError(
            f"{name}: row {_first_bad(bad)} is not a whole number ({arr[bad][0]:g}); counts must be integers"
        )


def start_scales(data: dict[str, Any]) -> tuple[float, float]:
    """Mean age ``T`` and a rough ``alpha`` scale (mean age per mean repeat purchase), for starting points."""
    x, _, T = data["cols"]
    w = data["w"]
    mean_age = max(float(w @ T / w.sum()), 1e-3)
    mean_repeats = float(w @ x / w.sum())
    return mean_age, mean_age / max(mean_repeats, 0.05)


def frequency_index(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct whole-number frequencies and each row's index into them.

    A table of every count up to the largest (O(n), no sort) while that table is small; a sort when a few
    customers have frequencies in the millions, where the table would not fit in memory.
    """
    if x.size == 0 or float(x.max()) > 4 * x.size + 65_536:
        distinct, inverse = np.unique(x, return_inverse=True)
        return distinct.astype(float), inverse.ravel()
    xi = x.astype(np.int64)
    present = np.bincount(xi) > 0
    distinct = np.flatnonzero(present)
    lookup = np.cumsum(present) - 1
    return distinct.astype(float), lookup[xi]


def row_hashes(cols: Sequence[np.ndarray]) -> np.ndarray:
    """A 64-bit hash of each row's bit patterns (multiply-rotate, column by column)."""
    n = cols[0].shape[0]
    h = np.zeros(n, dtype=np.uint64)
    mults = (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x27D4EB2F165667C5)
    with np.errstate(over="ignore"):
        for i, c in enumerate(cols):
            c = np.ascontiguousarray(c, dtype=np.float64) + 0.0  # +0.0 maps -0.0 to 0.0
            h ^= c.view(np.uint64) * np.uint64(mults[i % 4])
            h = (h << np.uint64(13)) | (h >> np.uint64(51))
    return h


def _finalise(h: np.ndarray, seed: int) -> np.ndarray:
    """splitmix64's finaliser on ``h`` xor a seed: independent-looking hashes from one row hash."""
    with np.errstate(over="ignore"):
        z = h ^ np.uint64(seed * 0x9E3779B97F4A7C15 % 2**64)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def mostly_unique(cols: Sequence[np.ndarray], sample: int = 20_000, threshold: float = 0.9) -> bool:
    """Whether an evenly spaced sample of rows is at least `threshold` distinct: then grouping identical rows
    would cost a sort of every row and save almost nothing (continuous T, for example)."""
    n = cols[0].shape[0]
    step = max(1, n // sample)
    picked = [c[::step] for c in cols]
    return np.unique(row_hashes(picked)).size >= threshold * picked[0].size


def dedup_rows(cols: Sequence[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Unique rows of the stacked columns: ``(unique_columns, counts, inverse)``.

    A 64-bit multiplicative hash of the rows' bit patterns is sorted (much faster than
    ``np.unique(axis=0)``); the grouping is then verified exactly and falls back to ``np.unique`` on the
    stacked rows in the (astronomically unlikely) event of a hash collision. Rows are returned sorted by
    hash, a deterministic order.
    """
    n = cols[0].shape[0]
    h = row_hashes(cols)
    order = np.argsort(h, kind="stable")
    hs = h[order]
    start = np.empty(n, dtype=bool)
    start[0] = True
    np.not_equal(hs[1:], hs[:-1], out=start[1:])
    group = np.cumsum(start) - 1
    first = order[start]
    ok = all(np.array_equal(c[order], c[first][group]) for c in cols)
    if not ok:  # pragma: no cover - hash collision
        stacked = np.column_stack(cols)
        uniq, inverse, counts = np.unique(stacked, axis=0, return_inverse=True, return_counts=True)
        return [uniq[:, j].copy() for j in range(len(cols))], counts.astype(float), inverse.ravel()
    counts = np.diff(np.append(np.flatnonzero(start), n)).astype(np.float64)
    inverse = np.empty(n, dtype=np.intp)
    inverse[order] = group
    return [c[first] for c in cols], counts, inverse


def data_hash(cols: Sequence[np.ndarray], counts: np.ndarray) -> str:
    """sha256 of the fitted data as a multiset of rows: the same for any row order, and for the rows given
    one by one or grouped with their counts (the sums of two independent 64-bit row hashes, weighted by count,
    modulo 2^64, with the number of rows)."""
    weights = np.asarray(counts).astype(np.uint64)
    sums = [np.uint64(0), np.uint64(0)]
    block = 65_536  # cache-sized pieces: the hash is a sum, so it adds up block by block
    with np.errstate(over="ignore"):
        for start in range(0, weights.size, block):
            base = row_hashes([c[start : start + block] for c in cols])
            w = weights[start : start + block]
            for i, seed in enumerate((1, 2)):
                sums[i] += np.sum(_finalise(base, seed) * w, dtype=np.uint64)
    text = f"{len(cols)}:{int(np.sum(counts))}:{int(sums[0]):016x}:{int(sums[1]):016x}"
    return hashlib.sha256(text.encode()).hexdigest()


class BaseModel:
    """Base class: scikit-learn style estimator with a shared maximum-likelihood ``fit``.

    Subclasses define ``_param_names``, ``_column_names``, ``_validate`` and ``_loglik`` (per-row
    log-likelihood at natural parameters) and may define ``_loglik_grad`` (total weighted
    log-likelihood and its gradient in natural parameters), ``_loglik_hessian`` (the same plus the Hessian)
    and ``_starts``.
    """

    _param_names: ClassVar[tuple[str, ...]] = ()
    _column_names: ClassVar[tuple[str, ...]] = ()
    #: above this many unique rows the engine warm-starts from a deterministic subsample
    _subsample_above: ClassVar[int] = 200_000
    #: True when ``_loglik_grad`` is implemented (otherwise forward finite differences are used)
    _analytic_gradient: ClassVar[bool] = False
    #: True to keep L-BFGS-B on forward differences even with ``_loglik_grad`` (see ParetoNBD)
    _lbfgs_by_differences: ClassVar[bool] = False
    #: True when ``_loglik_hessian`` (total log-likelihood, gradient and Hessian) is implemented
    _analytic_hessian: ClassVar[bool] = False
    #: parameters whose move "up" or "down" leads toward a model without dropout (identification diagnostics)
    _no_dropout: ClassVar[dict[str, str]] = {}

    def __init__(self, time_unit: str = "W", penalizer_coef: float = 0.0, penalizer: str = "log") -> None:
        self.time_unit = time_unit
        self.penalizer_coef = penalizer_coef
        #: "log": coef * sum(log(theta)^2) (towards 1); "l2": lifetimes' coef * sum(theta^2) (towards 0)
        self.penalizer = penalizer

    # ----------------------------------------------------------------- hooks for subclasses
    def _validate(self, cols: list[np.ndarray]) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _prepare(self, cols: list[np.ndarray], weights: np.ndarray) -> dict[str, Any]:
        return {"cols": cols, "w": weights}

    def _loglik(self, params: np.ndarray, data: dict[str, Any]) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def _loglik_grad(self, params: np.ndarray, data: dict[str, Any]) -> tuple[float, np.ndarray] | None:
        return None

    def _loglik_hessian(
        self, params: np.ndarray, data: dict[str, Any]
    ) -> tuple[float, np.ndarray, np.ndarray] | None:
        return None

    def _starts(self, data: dict[str, Any]) -> list[np.ndarray]:
        k = len(self._param_names)
        return [np.ones(k), np.full(k, 0.5), np.full(k, 3.0)]

    @classmethod
    def from_params(cls, params: Mapping[str, float], time_unit: str = "W") -> Self:
        """A model with the given parameters (from a paper, another tool or a table) instead of a fit.

        It predicts exactly like a fitted model with those parameters; what needs the fit itself (intervals,
        standard errors) says so in one line, and ``to_json`` saves the parameters alone.
        """
        model = cls(time_unit=time_unit)
        model._check_settings()
        if set(params) != set(cls._param_names):
            got = ", ".join(sorted(map(str, params))) or "none"
            raise ClvlensError(f"params: {cls.__name__} takes exactly {', '.join(cls._param_names)}; got {got}")
        values: dict[str, float] = {}
        for name in cls._param_names:
            try:
                value = float(params[name])
            except (TypeError, ValueError):
                value = float("nan")
            if not (math.isfinite(value) and value > 0):
                raise ClvlensError(f"params: {name} = {params[name]!r} must be a finite number > 0")
            values[name] = value
        model.params_ = values
        return model

    # ----------------------------------------------------------------- public helpers
    def _check_settings(self) -> None:
        parse_time_unit(self.time_unit)  # H, D, W, M, Q or a multiple such as "2W": one-line error otherwise
        pen = self.penalizer_coef
        if not (isinstance(pen, int | float) and math.isfinite(pen) and pen >= 0):
            raise ClvlensError(f"penalizer_coef: {pen!r} must be a finite number >= 0")
        if getattr(self, "penalizer", "log") not in ("log", "l2"):
            raise ClvlensError(f"penalizer: {self.penalizer!r} must be 'log' (towards 1) or 'l2' (lifetimes' form)")

    def _check_fitted(self) -> None:
        if not hasattr(self, "params_"):
            name = type(self).__name__
            raise ClvlensError(f"{name}: model is not fitted; call fit() or load_model() first")

    def _pvec(self) -> np.ndarray:
        self._check_fitted()
        return np.array([self.params_[k] for k in self._param_names], dtype=float)

    def _read_columns(self, first: Any, rest: Sequence[Any]) -> list[np.ndarray]:
        raw = extract_columns(first, rest, self._column_names)
        cols = [as_float_array(n, v) for n, v in zip(self._column_names, raw, strict=True)]
        n0 = cols[0].shape[0]
        for name, c in zip(self._column_names, cols, strict=True):
            if c.shape[0] != n0:
                raise ClvlensError(f"{name}: has {c.shape[0]} rows but {self._column_names[0]} has {n0}")
        if n0 == 0:
            raise ClvlensError(f"{self._column_names[0]}: input is empty; pass at least one customer")
        return cols

    # ----------------------------------------------------------------- fitting
    def _fit_columns(self, cols: list[np.ndarray], weights: Any = None) -> BaseModel:
        self._check_settings()
        self._validate(cols)
        w = None if weights is None else fit_weights(weights, cols[0].shape[0])
        if w is not None:  # rows of weight 0 take no part; the rest count w times
            cols = [c[w > 0] for c in cols]
            w = w[w > 0]
        if cols[0].shape[0] > _GROUP_ROWS_UP_TO and mostly_unique(cols):
            uniq, counts = list(cols), np.ones(cols[0].shape[0]) if w is None else w
        else:
            uniq, counts, inverse = dedup_rows(cols)
            if w is not None:
                counts = np.bincount(inverse, weights=w, minlength=counts.size)
        data = self._prepare(uniq, counts)
        n_customers = int(cols[0].shape[0]) if w is None else max(1, round(float(w.sum())))
        params, result = maximise(self, data, n_customers=n_customers)
        self.params_ = dict(zip(self._param_names, map(float, params), strict=True))
        self.fit_result_ = result
        whole = bool(np.all(counts == np.round(counts)))
        # fractional weights enter the hash as a column, so that different weights never share a hash
        self.data_hash_ = data_hash(uniq, counts) if whole else data_hash([*uniq, counts], np.ones(counts.size))
        self.n_customers_ = n_customers
        self._fit_data = data  # for the plausible region of interval draws; not saved with the model
        return self

    def log_likelihood(self, *args: Any) -> float:
        """Total log-likelihood of the given data at the fitted parameters."""
        rest = args[1:] if len(args) > 1 else [None] * (len(self._column_names) - 1)
        cols = self._read_columns(args[0], rest)
        self._validate(cols)
        uniq, counts, _ = dedup_rows(cols)
        data = self._prepare(uniq, counts)
        return float(np.sum(counts * self._loglik(self._pvec(), data)))

    def summary(self, level: float = 0.95) -> Any:
        """Parameters, standard errors and Wald confidence intervals computed on the log scale.

        Returns a pandas DataFrame when pandas is importable, otherwise a list of dicts.
        """
        self._check_fitted()
        zq = float(special.ndtri(0.5 + level / 2))  # the normal quantile (scipy.stats.norm.ppf)
        rows = []
        result = getattr(self, "fit_result_", None)
        for k in self._param_names:
            est = self.params_[k]
            se = None if result is None else result.standard_errors.get(k)
            if se is not None and np.isfinite(se) and est > 0:
                half = zq * se / est  # delta method: sd(log theta) = se / theta
                lo, hi = est * math.exp(-half), est * math.exp(half)
            else:
                lo = hi = float("nan")
            weak = {} if result is None else getattr(result, "weakly_identified", {}) or {}
            rows.append({"parameter": k, "estimate": est, "std_error": se, "lower": lo, "upper": hi,
                         "identification": weak.get(k, "ok" if result is not None else "not fitted")})
        try:
            import pandas as pd
        except ImportError:  # pragma: no cover
            return rows
        return pd.DataFrame(rows).set_index("parameter")

    def sample_params(self, n_draws: int, seed: int | None = 0) -> np.ndarray:
        """Draw parameter vectors from the asymptotic normal of the log-parameters, shape (m, k), m <= n_draws.

        Draws are kept only inside a plausible region: the optimiser's box of log-parameters and, while the
        fitted data are at hand, the likelihood-ratio region ``2 (LL_hat - LL(theta)) <= chi2_k(0.999)``.
        Where a parameter is weakly identified the normal approximation reaches values the data rule out (b of
        1e13 where the fit says 250, say); they are rejected and replaced by further draws, up to
        ``_DRAW_ROUNDS`` times as many proposals as asked for. What happened is in ``draw_report_``
        (requested, accepted, proposed, outside_box, outside_likelihood_region). Fewer than a tenth of the
        draws accepted (at least 10) raises one line: no interval can be given.
        """
        self._check_fitted()
        if getattr(self, "fit_result_", None) is None:
            raise ClvlensError(
                f"{type(self).__name__}: built from parameters, so there is no covariance to draw intervals "
                "from; fit the model on data for intervals"
            )
        cov = self.fit_result_.covariance_log
        if cov is None:
            raise ClvlensError(
                f"{type(self).__name__}: no covariance (singular Hessian); intervals cannot be drawn"
            )
        rng = np.random.default_rng(seed)
        mean = np.log(self._pvec())
        bound = getattr(self, "_log_bound", _LOG_BOUND)
        data = getattr(self, "_fit_data", None)
        limit = float(special.chdtri(mean.size, 1.0 - 0.999))  # chi2_k quantile 0.999 (scipy.stats.chi2.ppf)
        ll_hat = None if data is None else self._total_loglik(np.exp(mean), data)
        kept: list[np.ndarray] = []
        report: dict[str, Any] = {"requested": int(n_draws), "accepted": 0, "proposed": 0, "outside_box": 0,
                  "outside_likelihood_region": 0}
        deadline = time.monotonic() + _DRAW_SECONDS
        for _ in range(_DRAW_ROUNDS):
            if time.monotonic() > deadline:
                report["stopped"] = f"sampling budget of {_DRAW_SECONDS:g} s reached"
                break
            phi = rng.multivariate_normal(mean, np.asarray(cov), size=n_draws, method="eigh")
            inside = np.all(np.isfinite(phi) & (np.abs(phi) <= bound), axis=1)
            for row, ok in zip(phi, inside, strict=True):
                report["proposed"] += 1
                if not ok:
                    report["outside_box"] += 1
                    continue
                if ll_hat is not None and 2.0 * (ll_hat - self._total_loglik(np.exp(row), data)) > limit:
                    report["outside_likelihood_region"] += 1
                    continue
                kept.append(row)
                if len(kept) == n_draws:
                    break
            if len(kept) == n_draws:
                break
        report["accepted"] = len(kept)
        self.draw_report_ = report
        if len(kept) < max(10, n_draws // 10):
            why = report.get("stopped") or "weakly identified parameters"
            raise ClvlensError(
                f"{type(self).__name__}: only {len(kept)} of {report['proposed']} parameter draws lie in the "
                f"plausible region ({why}); intervals cannot be drawn"
            )
        return np.exp(np.array(kept))

    def _total_loglik(self, theta: np.ndarray, data: dict[str, Any]) -> float:
        """Total weighted log-likelihood (-inf where it is not finite), for the plausible region of interval draws.
        A model may sum it in a cheaper order (grouped rows, sums of its terms): the same total up to rounding."""
        with np.errstate(all="ignore"):
            value = float(np.sum(data["w"] * self._loglik(theta, data)))
        return value if math.isfinite(value) else -math.inf

    def _with_params(self, pvec: np.ndarray) -> dict[str, np.ndarray]:
        """Parameter dict of column vectors (for broadcasting draws against customers)."""
        return {k: pvec[:, i : i + 1] for i, k in enumerate(self._param_names)}

    def _interval(
        self, fn: Callable[[dict[str, Any]], np.ndarray], level: float, n_draws: int, seed: int | None
    ) -> tuple[np.ndarray, np.ndarray]:
        if not 0 < level < 1:
            raise ClvlensError(f"level: {level} must lie strictly between 0 and 1, e.g. 0.9")
        draws = self.sample_params(n_draws, seed)
        vals = fn(self._with_params(draws))
        q = np.nanquantile(vals, [(1 - level) / 2, (1 + level) / 2], axis=0)
        return q[0], q[1]

    def __repr__(self) -> str:
        if hasattr(self, "params_"):
            inner = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
            return f"<{type(self).__name__} fitted: {inner}>"
        return f"<{type(self).__name__} time_unit={self.time_unit!r} penalizer_coef={self.penalizer_coef}>"


def _to_json(self: BaseModel, path: str | None = None) -> str:
    """Serialise the fitted model to JSON (and write it to ``path`` if given)."""
    import json

    from clvlens.models.persistence import model_to_dict

    text = json.dumps(model_to_dict(self), indent=2)
    if path is not None:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    return text


def _from_json(cls: type[BaseModel], source: str) -> BaseModel:
    """Rebuild a fitted model from ``to_json`` output (a JSON string or a path)."""
    from clvlens.models.persistence import load_model

    model = load_model(source)
    if not isinstance(model, cls):
        got = type(model).__name__
        raise ClvlensError(f"model: the JSON holds a {got}, not a {cls.__name__}; use load_model")
    return model


BaseModel.to_json = _to_json  # type: ignore[attr-defined]
BaseModel.from_json = classmethod(_from_json)  # type: ignore[attr-defined]
