"""BG/NBD model: Fader, Hardie & Lee (2005), "Counting your customers the easy way: an alternative to the
Pareto/NBD model", Marketing Science 24(2), 275-284.

Transactions while active follow a Poisson process with rate lambda ~ Gamma(r, alpha); after every repeat
transaction the customer drops out with probability p ~ Beta(a, b). Inputs: ``frequency`` x (repeat
purchases), ``recency`` t_x (time of the last purchase since the first) and ``T`` (age), all in ``time_unit``.

:class:`~clvlens.models.mbgnbd.ModifiedBetaGeo` reuses this file's formulas with ``_shift = 1`` (dropout may
also happen straight after the first purchase).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from scipy import special

from clvlens.errors import ClvlensError
from clvlens.models._base import BaseModel, dedup_rows, start_scales, validate_finite_nonneg, validate_integer
from clvlens.models._bgnbd_likelihood import log_likelihood_derivatives, prepare_rows, row_log_likelihood
from clvlens.models._histories import Histories
from clvlens.models._special import beta_mixture_mean, softplus_and_sigmoid
from clvlens.models.clv import parse_horizon

__all__ = ["BetaGeo"]

P = dict[str, Any]


def _away_from_zero(v: Any) -> Any:
    """``v`` nudged to at least 1e-7 from 0, where the closed forms have a removable singularity (a = 1, or
    a + b = 1 for a customer with no repeat purchase): the result is the value at a parameter 1e-7 away."""
    v = np.asarray(v, dtype=float)
    return np.where(np.abs(v) < 1e-7, np.where(v < 0, -1e-7, 1e-7), v)


#: beyond this ``a`` or ``b`` the closed forms' Gauss functions overflow or lose accuracy in scipy, and
#: :func:`~clvlens.models._special.beta_mixture_mean` evaluates the same expectations by quadrature (large
#: frequencies alone are served by the closed forms, whose bracket check catches any failure)
_LARGE = 1e3


def _closed_form_regime(a: np.ndarray, b: np.ndarray, x: np.ndarray, shift: int) -> np.ndarray:
    return (a < _LARGE) & (b < _LARGE)


def conditional_expected(
    p: P, t: Any, x: Any, tx: Any, T: Any, shift: int, alive: np.ndarray | None = None
) -> np.ndarray:
    """E[Y(t) | x, t_x, T]: FHL (2005) eq. (10) (shift 0) / Batislam et al. (2007) eq. (9) (shift 1).

    ``alive``: P(alive) already computed for these customers (it does not depend on ``t``, so a path over many
    horizons computes it once).

    The factor ``((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x+k; a+b+x+k-1; z)`` is evaluated in one of two
    rewritten forms, both bounded where the original overflows:

    * Pfaff's transformation (DLMF 15.8.1) turns it into ``2F1(r+x, a-1; a+b+x+k-1; z/(z-1))``, which stays
      near 1 even when a and b run to thousands (dropout with no heterogeneity); used while |z/(z-1)| <= 0.9;
    * otherwise Euler's transformation gives ``(1-z)^(a-1-r-x) 2F1(a+b+k-1-r, a-1; a+b+x+k-1; z)``, which
      has small numerator parameters even for x in the thousands.

    Where ``a`` or ``b`` reach ``_LARGE`` (a likelihood ridge toward no dropout, or a bootstrap draw along
    it), or a closed form leaves its bracket ``[1 - (1+u)^-(r+x), (r+x) u]`` (``u = t/(alpha+T)``: the
    expected purchases of a customer alive at T lie between those at p = 1 and p = 0), the expectation
    over ``p`` is computed by :func:`~clvlens.models._special.beta_mixture_mean` instead.
    """
    r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
    am1 = _away_from_zero(np.asarray(a, dtype=float) - 1.0)
    a = am1 + 1.0
    shape = np.broadcast_shapes(*(np.shape(v) for v in (r, alpha, a, b, x, tx, T, t)))
    values = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (r, alpha, a, b, am1, x, tx, T, t)))
    # flat: the branches below assign through masks and flat indices
    r, alpha, a, b, am1, x, tx, T, t = (v.reshape(-1) for v in values)
    u = t / (alpha + T)
    given_alive = np.full(u.shape, np.nan)
    closed = _closed_form_regime(a, b, x, shift)
    if closed.any():
        rc, ac, bc, am1c, xc, uc = (v[closed] for v in (r, a, b, am1, x, u))
        c = _away_from_zero(ac + bc + xc + shift - 1.0)
        z = uc / (1.0 + uc)
        w = -uc
        bracket = np.full(z.shape, np.nan)
        pfaff = np.abs(w) <= 0.9
        with np.errstate(all="ignore"):
            if pfaff.any():
                g = special.hyp2f1((rc + xc)[pfaff], am1c[pfaff], c[pfaff], w[pfaff])
                bracket[pfaff] = 1.0 - g
            euler = ~pfaff
            if euler.any():
                A, B, C, Z = (ac + bc + shift - 1.0 - rc)[euler], am1c[euler], c[euler], z[euler]
                f = special.hyp2f1(A, B, C, Z)
                lu = B * np.log1p(-Z)
                bracket[euler] = -np.expm1(lu) + np.exp(lu) * (1.0 - f)
            value = c / am1c * bracket
            k = rc + xc
            top = k * uc
            bottom = -np.expm1(-k * np.log1p(uc))
        ok = np.isfinite(value) & (value <= top * (1 + 1e-9) + 1e-300) & (value >= bottom * (1 - 1e-9))
        given_alive[np.flatnonzero(closed)[ok]] = value[ok]
        closed[np.flatnonzero(closed)[~ok]] = False
    rest = ~closed
    if rest.any():
        given_alive[rest] = beta_mixture_mean(
            a[rest], (b + x + shift)[rest], u[rest], (r + x)[rest], "purchases"
        )
    if alive is None:
        alive = prob_alive({"r": r, "alpha": alpha, "a": a, "b": b}, x, tx, T, shift)
    else:
        alive = np.broadcast_to(alive, shape).reshape(-1)
    return np.maximum(given_alive * alive, 0.0).reshape(shape)


def prob_alive(p: P, x: Any, tx: Any, T: Any, shift: int) -> np.ndarray:
    """P(alive | x, t_x, T): FHL (2005) eq. (13) (shift 0); Batislam et al. (2007) eq. (8) (shift 1)."""
    r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
    d = np.log(a) - np.log(b + x + shift - 1.0 + (x + shift == 0)) + (r + x) * (np.log(alpha + T) - np.log(alpha + tx))
    soft, _ = softplus_and_sigmoid(d)
    with np.errstate(under="ignore"):  # P(alive) below 1e-308 is 0, also under np.seterr(all="raise")
        pa = np.exp(-soft)
    return np.where(x + shift > 0, pa, 1.0)


def prob_alive_at(p: P, t: Any, x: Any, tx: Any, T: Any, shift: int) -> np.ndarray:
    """P(alive at T + t | x, t_x, T) = P(alive at T | ...) x 2F1(r+x, a; a+b+x+k; -t/(alpha+T)), k = shift.

    Given alive at T, lambda | data ~ Gamma(r+x, alpha+T) and p | data ~ Beta(a, b+x+k) (the customer survived
    x + k dropout chances), and because dropout follows a purchase with probability p, the time to dropout
    after T is exponential with rate lambda p. So the survival factor is E[exp(-lambda p t)] =
    E_p[(1 + p t/(alpha+T))^-(r+x)], which is Euler's integral for the Gauss function above (DLMF 15.6.1);
    derived from the assumptions of FHL (2005) section 2 and Batislam et al. (2007).

    It is evaluated after Pfaff's transformation (DLMF 15.8.1) on its second parameter,
    ``(1+u)^-a 2F1(a, a+b+k-r; a+b+x+k; u/(1+u))`` with ``u = t/(alpha+T)``: small numerator parameters and an
    argument in [0, 1), where scipy's direct evaluation at large x and long t returns values far above 1.
    Where ``a`` or ``b`` reach ``_LARGE``, or that value leaves its bracket ``[(1+u)^-(r+x), 1]``, the
    expectation is computed by :func:`~clvlens.models._special.beta_mixture_mean`.
    """
    r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
    shape = np.broadcast_shapes(*(np.shape(v) for v in (r, alpha, a, b, x, tx, T, t)))
    values = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (r, alpha, a, b, x, tx, T, t)))
    r, alpha, a, b, x, tx, T, t = (v.reshape(-1) for v in values)
    u = t / (alpha + T)
    survival = np.full(u.shape, np.nan)
    closed = _closed_form_regime(a, b, x, shift)
    if closed.any():
        rc, ac, bc, xc, uc = (v[closed] for v in (r, a, b, x, u))
        with np.errstate(all="ignore"):
            f = special.hyp2f1(ac, ac + bc + shift - rc, ac + bc + xc + shift, uc / (1.0 + uc))
            value = np.exp(-ac * np.log1p(uc)) * f
            bottom = np.exp(-(rc + xc) * np.log1p(uc))
        ok = np.isfinite(value) & (value <= 1.0 + 1e-9) & (value >= bottom * (1 - 1e-9))
        survival[np.flatnonzero(closed)[ok]] = value[ok]
        closed[np.flatnonzero(closed)[~ok]] = False
    rest = ~closed
    if rest.any():
        survival[rest] = beta_mixture_mean(a[rest], (b + x + shift)[rest], u[rest], (r + x)[rest], "survival")
    alive = prob_alive({"r": r, "alpha": alpha, "a": a, "b": b}, x, tx, T, shift)
    return np.clip(alive * survival, 0.0, 1.0).reshape(shape)


def prob_n_purchases(p: P, t: Any, n: Any, shift: int) -> np.ndarray:
    """P(X(t) = n) for a new customer: FHL (2005) eq. (8); the tail sum is a regularised incomplete beta."""
    r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
    n = np.asarray(n, dtype=float)
    t = np.asarray(t, dtype=float)
    lz = np.log(t) - np.log(alpha + t)
    lb0 = special.betaln(a, b)
    nb = np.exp(
        special.gammaln(r + n)
        - special.gammaln(r)
        - special.gammaln(n + 1)
        + r * (np.log(alpha) - np.log(alpha + t))
        + np.where(n > 0, n * lz, 0.0)
    )
    first = np.exp(special.betaln(a, b + n + shift) - lb0) * nb
    tail = np.where(n > 0, special.betainc(np.maximum(n, 1.0), r, np.exp(lz)), 1.0)
    bshift = np.maximum(b + n + shift - 1.0, 1e-300)
    second = np.where(n + shift > 0, np.exp(special.betaln(a + 1.0, bshift) - lb0) * tail, 0.0)
    return first + second


class BetaGeo(BaseModel):
    """BG/NBD (Fader, Hardie & Lee 2005). ``params_``: r, alpha, a, b.

    Log-likelihood, FHL (2005) eq. (6), evaluated in log space (:mod:`clvlens.models._bgnbd_likelihood`);
    gradient and Hessian analytic.
    """

    _no_dropout: ClassVar[dict[str, str]] = {"a": "down", "b": "up"}
    _param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "a", "b")
    _column_names: ClassVar[tuple[str, ...]] = ("frequency", "recency", "T")
    _shift: ClassVar[int] = 0
    _analytic_gradient: ClassVar[bool] = True
    _analytic_hessian: ClassVar[bool] = True

    # ------------------------------------------------------------------ fitting
    def fit(self, frequency: Any, recency: Any = None, T: Any = None, *, weights: Any = None) -> BetaGeo:
        """Fit by maximum likelihood. ``frequency`` may be a frame with frequency/recency/T columns;
        ``weights`` (one per row, fractions allowed) count each row that many times."""
        cols = self._read_columns(frequency, [recency, T])
        return self._fit_columns(cols, weights)  # type: ignore[return-value]

    def _l2_scales(self, data: dict[str, Any]) -> np.ndarray:
        """``penalizer="l2"``: lifetimes fits alpha on ages divided by the longest age, so alpha / max(T)."""
        scales = np.ones(len(self._param_names))
        scales[list(self._param_names).index("alpha")] = 1.0 / max(float(np.max(data["cols"][2])), 1e-12)
        return scales

    def _validate(self, cols: list[np.ndarray]) -> None:
        x, tx, T = cols
        for name, c in zip(self._column_names, cols, strict=True):
            validate_finite_nonneg(name, c)
        validate_integer("frequency", x)
        bad = tx > T
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ClvlensError(f"recency: row {i} is greater than T ({tx[i]:g} > {T[i]:g}); fix recency")
        bad = (x > 0) & (tx == 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ClvlensError(
                f"recency: row {i} has frequency {x[i]:g} but recency 0; repeat purchases need recency > 0"
            )
        bad = (x == 0) & (tx > 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ClvlensError(f"recency: row {i} has frequency 0 but recency {tx[i]:g}; set recency to 0")
        if not np.any(T > 0):
            raise ClvlensError("T: every customer has T = 0, so there is no observation time to fit on")

    def _prepare(self, cols: list[np.ndarray], weights: np.ndarray) -> dict[str, Any]:
        return prepare_rows(cols, weights, self._shift)

    def _loglik(self, params: np.ndarray, data: dict[str, Any]) -> np.ndarray:
        return row_log_likelihood(params, data, self._shift)

    def _loglik_grad(self, params: np.ndarray, data: dict[str, Any]) -> tuple[float, np.ndarray]:
        ll, g, _ = log_likelihood_derivatives(params, data, self._shift, hessian=False)
        return ll, g

    def _loglik_hessian(self, params: np.ndarray, data: dict[str, Any]) -> tuple[float, np.ndarray, np.ndarray]:
        ll, g, H = log_likelihood_derivatives(params, data, self._shift, hessian=True)
        assert H is not None
        return ll, g, H

    def _starts(self, data: dict[str, Any]) -> list[np.ndarray]:
        _, a0 = start_scales(data)
        return [
            np.array([1.0, a0 / 2, 1.0, 2.0]),
            np.array([0.3, a0 / 5, 0.7, 2.5]),
            np.array([2.0, a0, 2.0, 5.0]),
            np.ones(4),
        ]

    # ------------------------------------------------------------------ predictions
    def _cols3(self, frequency: Any, recency: Any, T: Any) -> tuple[np.ndarray, ...]:
        x, tx, TT = self._read_columns(frequency, [recency, T])
        self._validate_predict([x, tx, TT])
        return x, tx, TT

    def _validate_predict(self, cols: list[np.ndarray]) -> None:
        _, tx, T = cols
        for name, c in zip(self._column_names, cols, strict=True):
            validate_finite_nonneg(name, c)
        bad = tx > T
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ClvlensError(f"recency: row {i} is greater than T ({tx[i]:g} > {T[i]:g}); fix recency")

    def conditional_probability_alive(self, frequency: Any, recency: Any = None, T: Any = None) -> np.ndarray:
        """P(customer still alive at T | x, t_x, T)."""
        x, tx, TT = self._cols3(frequency, recency, T)
        return prob_alive(self.params_ if hasattr(self, "params_") else self._fail(), x, tx, TT, self._shift)

    def conditional_probability_alive_at(
        self, t: Any, frequency: Any, recency: Any = None, T: Any = None
    ) -> np.ndarray:
        """P(still alive at T + t | x, t_x, T): :func:`prob_alive_at`."""
        self._check_fitted()
        x, tx, TT = self._cols3(frequency, recency, T)
        return prob_alive_at(self.params_, _time(t, self.time_unit), x, tx, TT, self._shift)

    def _fail(self) -> P:
        self._check_fitted()
        return {}

    def conditional_expected_number_of_purchases_up_to_time(
        self, t: Any, frequency: Any, recency: Any = None, T: Any = None
    ) -> np.ndarray:
        """E[number of purchases in (T, T + t] | x, t_x, T]."""
        self._check_fitted()
        x, tx, TT = self._cols3(frequency, recency, T)
        tt = _time(t, self.time_unit)
        if np.ndim(tt) == 0 and x.ndim == 1 and x.shape == tx.shape == TT.shape:
            return self._expected_path(self.params_, np.array([float(tt)]), (x, tx, TT))[:, 0]
        return conditional_expected(self.params_, tt, x, tx, TT, self._shift)

    def conditional_probability_of_n_purchases_up_to_time(
        self, t: Any, n: Any, frequency: Any, recency: Any = None, T: Any = None
    ) -> np.ndarray:
        """P(n purchases in (T, T + t] | x, t_x, T): :mod:`clvlens.models.conditional_counts`."""
        self._check_fitted()
        x, tx, TT = self._cols3(frequency, recency, T)
        return self._conditional_pmf(_time(t, self.time_unit), _counts(n), x, tx, TT)

    def conditional_probability_active(self, t: Any, frequency: Any, recency: Any = None, T: Any = None) -> np.ndarray:
        """p_active: P(at least one purchase in (T, T + t] | x, t_x, T) = 1 - P(X(t) = 0 | x, t_x, T)."""
        self._check_fitted()
        x, tx, TT = self._cols3(frequency, recency, T)
        return self._active(_time(t, self.time_unit), x, tx, TT)

    def _conditional_pmf(
        self, t: np.ndarray, n: np.ndarray, x: np.ndarray, tx: np.ndarray, T: np.ndarray
    ) -> np.ndarray:
        from clvlens.models.conditional_counts import bgnbd_conditional_pmf

        return bgnbd_conditional_pmf(self.params_, t, n, x, tx, T, self._shift)

    def _active(self, t: np.ndarray, x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> np.ndarray:
        from clvlens.models.conditional_counts import bgnbd_active

        return bgnbd_active(self.params_, t, x, tx, T, self._shift)

    def expected_number_of_purchases_up_to_time(self, t: Any) -> np.ndarray:
        """E[X(t)] for a customer just after the first purchase: FHL (2005) eq. (7)."""
        self._check_fitted()
        t = _time(t, self.time_unit)
        z0 = np.zeros_like(t)
        return conditional_expected(self.params_, t, z0, z0, z0, self._shift)

    def probability_of_n_purchases_up_to_time(self, t: Any, n: Any) -> np.ndarray:
        """P(X(t) = n) for a new customer (``t`` > 0, whole ``n`` >= 0): :meth:`_prob_n_purchases`."""
        self._check_fitted()
        n = _counts(n)
        t = _time(t, self.time_unit)
        if np.any(t <= 0):
            raise ClvlensError("t: must be > 0")
        return self._prob_n_purchases(t, n)

    def _prob_n_purchases(self, t: np.ndarray, n: np.ndarray) -> np.ndarray:
        """FHL (2005) eq. (8) (shift 0) / its MBG/NBD analogue."""
        return prob_n_purchases(self.params_, t, n, self._shift)

    def conditional_expected_number_of_purchases_interval(
        self,
        t: Any,
        frequency: Any,
        recency: Any = None,
        T: Any = None,
        *,
        level: float = 0.9,
        n_draws: int = 500,
        seed: int | None = 0,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Parametric-bootstrap (lower, upper) bounds for the conditional expected purchases."""
        x, tx, TT = self._cols3(frequency, recency, T)
        tt = _time(t, self.time_unit)
        k = self._shift
        return self._interval(lambda p: conditional_expected(p, tt, x, tx, TT, k), level, n_draws, seed)

    def _alive_on(self, p: P, histories: Histories) -> np.ndarray:
        """P(alive) of each distinct triple of ``histories``."""
        return prob_alive(p, *histories.cols, self._shift)

    def _given_alive_path(self, p: P, times: np.ndarray, x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """E[X(t) | alive at T, x] at each of ``times`` (columns) for each (x, T) pair (rows)."""
        return conditional_expected(p, times[None, :], x[:, None], T[:, None], T[:, None], self._shift, np.ones(1))

    def _discounted_purchases(
        self, p: P, ends: np.ndarray, factors: np.ndarray, histories: Histories
    ) -> np.ndarray:
        """sum_k factors_k (E[X(ends_k)] - E[X(ends_(k-1))]) for each distinct triple of ``histories``.

        E[X(t) | x, t_x, T] = P(alive | x, t_x, T) E[X(t) | alive at T, x] (FHL 2005 eq. 10; FH05 eq. 21 for
        Pareto/NBD), and the second factor depends on the (x, T) pair alone: the discounted path given alive is
        evaluated once per distinct pair and multiplied by each triple's P(alive).
        """
        (ux, uT), at_pair = histories.pairs("T")
        given = np.empty(ux.size)
        chunk = max(1, 2_000_000 // ends.size)
        for lo in range(0, ux.size, chunk):
            rows = slice(lo, lo + chunk)
            path = self._given_alive_path(p, ends, ux[rows], uT[rows])
            given[rows] = np.diff(path, axis=1, prepend=0.0) @ factors
        return self._alive_on(p, histories) * given[at_pair]

    def _expected_path(self, p: P, times: np.ndarray, cols: tuple[np.ndarray, ...] | None) -> np.ndarray:
        """Cumulative expected purchases at each of ``times`` (columns) for each customer (rows)."""
        if cols is None:
            z = np.zeros(1)
            cols = (z, z, z)
        if cols[0].size > 1000 and np.ndim(p["r"]) == 0:
            # given alive, the path depends on the (x, T) pair alone: once per distinct pair (daily data over
            # years hold far fewer pairs than customers), times P(alive) per customer
            (ux, uT), _, inverse = dedup_rows([cols[0], cols[2]])
            if ux.size < 0.7 * cols[0].size:
                given = conditional_expected(p, times[None, :], ux[:, None], uT[:, None], uT[:, None], self._shift,
                                             np.ones(1))
                return given[inverse] * prob_alive(p, *cols, self._shift)[:, None]
        x, tx, TT = (c[:, None] for c in cols)
        alive = prob_alive(p, x, tx, TT, self._shift)
        return conditional_expected(p, times[None, :], x, tx, TT, self._shift, alive)


def _counts(n: Any) -> np.ndarray:
    """Numbers of purchases: whole numbers >= 0."""
    try:
        arr = np.asarray(n, dtype=float)
    except (TypeError, ValueError):
        arr = np.asarray(np.nan)
    if not np.all(np.isfinite(arr)) or np.any(arr < 0) or np.any(arr != np.round(arr)):
        raise ClvlensError("n: must be non-negative whole numbers of purchases")
    return arr


def _time(t: Any, time_unit: str) -> np.ndarray:
    """A prediction horizon in the model's time unit: numbers as they are, or a length like "12M" or "26W"."""
    if isinstance(t, str):
        return np.asarray(parse_horizon(t, time_unit))
    try:
        arr = np.asarray(t, dtype=float)
    except (TypeError, ValueError):
        raise ClvlensError(f"t: {t!r} is not a prediction horizon; pass numbers of time units or '12M'") from None
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ClvlensError("t: the prediction horizon must be finite and >= 0")
    return arr
