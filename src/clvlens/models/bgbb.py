"""BG/BB model for discrete purchase opportunities: Fader, Hardie & Shang (2010), "Customer-base analysis in a
discrete-time noncontractual setting", Marketing Science 29(6), 1086-1108 (FHS10 below).

At each of n opportunities an alive customer buys with probability p ~ Beta(alpha, beta) and, at the start
of each later opportunity, drops out with probability theta ~ Beta(gamma, delta). Inputs use the same names
as the continuous models: ``frequency`` = x (purchases in the n opportunities), ``recency`` = t_x (the
opportunity of the last purchase, 0 if none) and ``T`` = n.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from scipy import special

from clvlens.errors import ClvlensError
from clvlens.models._base import BaseModel, validate_finite_nonneg, validate_integer

__all__ = ["BetaGeoBetaBinom"]

P = dict[str, Any]


def _log_lik_terms(p: P, x: Any, tx: Any, n: Any) -> tuple[np.ndarray, np.ndarray]:
    """(log of the 'alive through n' term, total log-likelihood): FHS10 eq. (5)."""
    al, be, ga, de = p["alpha"], p["beta"], p["gamma"], p["delta"]
    x, tx, n = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x, tx, n)))
    b0 = special.betaln(al, be) + special.betaln(ga, de)
    alive = special.betaln(al + x, be + n - x) + special.betaln(ga, de + n) - b0
    total = alive.copy()
    gap = n - tx
    base = special.betaln(al + x, be + tx - x) * 0  # shape holder
    for i in range(int(gap.max(initial=0))):
        term = special.betaln(al + x, be + tx - x + i) + special.betaln(ga + 1.0, de + tx + i) - b0 + base
        total = np.where(i < gap, np.logaddexp(total, term), total)
    return alive, total


def prob_alive(p: P, x: Any, tx: Any, n: Any, t: Any = 1.0) -> np.ndarray:
    """P(alive at opportunity n+t | x, t_x, n); t = 1 is FHS10 eq. (11).

    Eq. (11) is the 'alive through n' likelihood term times the chance of surviving the dropout chance at the
    start of opportunity n+1, B(gamma, delta+n+1)/B(gamma, delta+n), over the likelihood. Surviving the t
    dropout chances before opportunities n+1 .. n+t instead gives B(gamma, delta+n+t)/B(gamma, delta+n), since
    E[(1-theta)^(n+t)] = B(gamma, delta+n+t)/B(gamma, delta); t = 0 is P(alive through opportunity n | data).
    """
    alive, total = _log_lik_terms(p, x, tx, n)
    ga, de = p["gamma"], p["delta"]
    survival = special.betaln(ga, de + n + t) - special.betaln(ga, de + n)
    return np.clip(np.exp((alive - total) + survival), 0.0, 1.0)


def _log_choose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return special.gammaln(a + 1.0) - special.gammaln(b + 1.0) - special.gammaln(a - b + 1.0)


def prob_n_purchases(p: P, t: Any, n: Any) -> np.ndarray:
    """P(X(t) = n) for a new customer over t opportunities, derived from the FHS10 model assumptions.

    Either the customer survives all t dropout chances, E[(1-theta)^t] = B(gamma, delta+t)/B(gamma, delta),
    and makes n purchases in t opportunities (beta-binomial, C(t, n) B(alpha+n, beta+t-n)/B(alpha, beta)); or
    the customer is alive for exactly i opportunities and drops out at the start of opportunity i+1,
    E[theta (1-theta)^i] = B(gamma+1, delta+i)/B(gamma, delta), i = n .. t-1, having made n purchases in those
    i opportunities (C(i, n) B(alpha+n, beta+i-n)/B(alpha, beta)). This is the BG/BB P(X(n) = x), FHS10 eq. (7)
    in the numbering lifetimes uses (not checked against the paper). P = 0 when n > t.
    """
    al, be, ga, de = p["alpha"], p["beta"], p["gamma"], p["delta"]
    t, n = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (t, n)))
    m = np.minimum(n, t)  # keeps every term finite; rows with n > t are zeroed at the end
    b0 = special.betaln(al, be) + special.betaln(ga, de)
    total = _log_choose(t, m) + special.betaln(al + m, be + t - m) + special.betaln(ga, de + t) - b0
    for i in range(int(t.max(initial=0))):
        ii = np.maximum(float(i), m)
        term = _log_choose(ii, m) + special.betaln(al + m, be + ii - m) + special.betaln(ga + 1.0, de + ii) - b0
        total = np.where((i >= m) & (i < t), np.logaddexp(total, term), total)
    return np.where(n <= t, np.exp(total), 0.0)


def _survival_gap_over_gm1(ga: Any, u: Any, v: Any) -> np.ndarray:
    """``(1 - exp(L)) / (gamma - 1)`` with ``L = [lnG(gamma+u) - lnG(1+u)] - [lnG(gamma+v) - lnG(1+v)]``.

    Both numerator and denominator vanish at gamma = 1 (the limit is psi(1+v) - psi(1+u)); near it ``L / (gamma
    - 1)`` comes from the Taylor series of lnG in gamma (three terms, error below 1e-12 for |gamma - 1| < 1e-3)
    instead of a difference of nearly equal log-gammas divided by a tiny number.
    """
    eps = np.asarray(ga, dtype=float) - 1.0
    small = np.abs(eps) < 1e-3
    e = np.where(small, eps, 0.0)
    series = (special.digamma(1.0 + u) - special.digamma(1.0 + v)
              + e / 2.0 * (special.polygamma(1, 1.0 + u) - special.polygamma(1, 1.0 + v))
              + e**2 / 6.0 * (special.polygamma(2, 1.0 + u) - special.polygamma(2, 1.0 + v)))
    direct = special.gammaln(ga + u) - special.gammaln(1.0 + u) - special.gammaln(ga + v) + special.gammaln(1.0 + v)
    log_ratio = np.where(small, e * series, direct)
    log_ratio_over_eps = np.where(small, series, direct / np.where(small, 1.0, eps))
    nonzero = log_ratio != 0.0
    expm1_over = np.where(nonzero, np.expm1(log_ratio) / np.where(nonzero, log_ratio, 1.0), 1.0)
    return -expm1_over * log_ratio_over_eps


def conditional_expected(p: P, n_star: Any, x: Any, tx: Any, n: Any) -> np.ndarray:
    """E[purchases in opportunities n+1 .. n+n* | x, t_x, n]: FHS10 eq. (13), written as
    ``exp(lead + d1) delta (1 - exp(d2 - d1)) / (gamma - 1)`` so that it is continuous through gamma = 1."""
    al, be, ga, de = p["alpha"], p["beta"], p["gamma"], p["delta"]
    _, total = _log_lik_terms(p, x, tx, n)
    lead = (special.betaln(al + x + 1.0, be + n - x) - special.betaln(al, be) - total
            + special.gammaln(ga + de) - special.gammaln(1.0 + de))
    d1 = special.gammaln(1.0 + de + n) - special.gammaln(ga + de + n)
    gap = _survival_gap_over_gm1(ga, de + n, de + n + n_star)
    return np.maximum(np.exp(lead + d1) * de * gap, 0.0)


def expected(p: P, n: Any) -> np.ndarray:
    """E[X(n)] for a new customer: FHS10 eq. (8) (the numbering lifetimes and PyMC-Marketing use; not checked
    against the paper), continuous through gamma = 1."""
    al, be, ga, de = p["alpha"], p["beta"], p["gamma"], p["delta"]
    return np.maximum(al / (al + be) * de * _survival_gap_over_gm1(ga, de, de + n), 0.0)


class BetaGeoBetaBinom(BaseModel):
    """BG/BB (Fader, Hardie & Shang 2010). ``params_``: alpha, beta, gamma, delta.

    ``time_unit`` records the length of one opportunity. Gradients are finite differences.
    """

    _no_dropout: ClassVar[dict[str, str]] = {"gamma": "down", "delta": "up"}
    _param_names: ClassVar[tuple[str, ...]] = ("alpha", "beta", "gamma", "delta")
    _column_names: ClassVar[tuple[str, ...]] = ("frequency", "recency", "T")

    def fit(self, frequency: Any, recency: Any = None, T: Any = None, *, weights: Any = None) -> BetaGeoBetaBinom:
        """Fit by maximum likelihood; ``frequency`` may be a frame with frequency/recency/T (= n) columns;
        ``weights`` (one per row, fractions allowed) count each row that many times."""
        cols = self._read_columns(frequency, [recency, T])
        return self._fit_columns(cols, weights)  # type: ignore[return-value]

    def _validate(self, cols: list[np.ndarray]) -> None:
        self._validate_rows(cols)
        if not np.any(cols[2] > 0):
            raise ClvlensError("T: every customer has T = 0 opportunities; nothing to fit")

    def _validate_rows(self, cols: list[np.ndarray]) -> None:
        x, tx, n = cols
        for name, c in zip(self._column_names, cols, strict=True):
            validate_finite_nonneg(name, c)
            validate_integer(name, c)
        for mask, msg in (
            (tx > n, "recency: row {i} is after T (the number of opportunities); need recency <= T"),
            (x > tx, "frequency: row {i} exceeds recency; with one purchase per opportunity x <= t_x"),
            ((x == 0) & (tx > 0), "recency: row {i} has frequency 0 but recency > 0; set recency to 0"),
        ):
            if mask.any():
                raise ClvlensError(msg.format(i=int(np.flatnonzero(mask)[0])))

    def _loglik(self, params: np.ndarray, data: dict[str, Any]) -> np.ndarray:
        return _log_lik_terms(dict(zip(self._param_names, params, strict=True)), *data["cols"])[1]

    def _starts(self, data: dict[str, Any]) -> list[np.ndarray]:
        return [np.ones(4), np.array([1.0, 1.0, 0.5, 3.0]), np.array([0.5, 2.0, 2.0, 1.0])]

    def _cols3(self, frequency: Any, recency: Any, T: Any) -> tuple[np.ndarray, ...]:
        cols = self._read_columns(frequency, [recency, T])
        self._validate_rows(cols)
        return tuple(cols)

    def conditional_probability_alive(self, frequency: Any, recency: Any = None, T: Any = None) -> np.ndarray:
        """P(alive at opportunity n+1 | x, t_x, n): FHS10 eq. (11)."""
        self._check_fitted()
        return prob_alive(self.params_, *self._cols3(frequency, recency, T))

    def conditional_probability_alive_at(
        self, t: Any, frequency: Any, recency: Any = None, T: Any = None
    ) -> np.ndarray:
        """P(alive at opportunity n + t | x, t_x, n) for whole ``t`` >= 0: FHS10 eq. (11) at t = 1, generalised
        by :func:`prob_alive` (survival through t more dropout chances)."""
        self._check_fitted()
        return prob_alive(self.params_, *self._cols3(frequency, recency, T), _opps(t))

    def probability_of_n_purchases_up_to_time(self, t: Any, n: Any) -> np.ndarray:
        """P(X(t) = n) for a new customer over ``t`` opportunities: :func:`prob_n_purchases`."""
        self._check_fitted()
        return prob_n_purchases(self.params_, _whole("t", "the number of opportunities", t),
                                _whole("n", "the number of purchases", n))

    def conditional_expected_number_of_purchases_up_to_time(
        self, t: Any, frequency: Any, recency: Any = None, T: Any = None
    ) -> np.ndarray:
        """Expected purchases in the next ``t`` opportunities: FHS10 eq. (13)."""
        self._check_fitted()
        return conditional_expected(self.params_, _opps(t), *self._cols3(frequency, recency, T))

    def conditional_probability_of_n_purchases_up_to_time(
        self, t: Any, n: Any, frequency: Any, recency: Any = None, T: Any = None
    ) -> np.ndarray:
        """P(n purchases in the next ``t`` opportunities | x, t_x, n): :mod:`clvlens.models.conditional_counts`."""
        from clvlens.models.conditional_counts import bgbb_conditional_pmf

        self._check_fitted()
        counts = _whole("n", "the number of purchases", n)
        return bgbb_conditional_pmf(self.params_, _opps(t), counts, *self._cols3(frequency, recency, T))

    def conditional_probability_active(self, t: Any, frequency: Any, recency: Any = None, T: Any = None) -> np.ndarray:
        """p_active: P(at least one purchase in the next ``t`` opportunities | x, t_x, n)."""
        from clvlens.models.conditional_counts import bgbb_active

        self._check_fitted()
        return bgbb_active(self.params_, _opps(t), *self._cols3(frequency, recency, T))

    def expected_number_of_purchases_up_to_time(self, t: Any) -> np.ndarray:
        """E[X(n)] in the first ``t`` opportunities: FHS10 eq. (8)."""
        self._check_fitted()
        return expected(self.params_, _opps(t))

    def conditional_expected_number_of_purchases_interval(
        self, t: Any, frequency: Any, recency: Any = None, T: Any = None, *,
        level: float = 0.9, n_draws: int = 500, seed: int | None = 0,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Parametric-bootstrap (lower, upper) bounds for the conditional expected purchases."""
        x, tx, n = self._cols3(frequency, recency, T)
        tt = _opps(t)
        return self._interval(lambda p: conditional_expected(p, tt, x, tx, n), level, n_draws, seed)

    def _expected_path(self, p: P, times: np.ndarray, cols: tuple[np.ndarray, ...] | None) -> np.ndarray:
        times = np.floor(times + 1e-9)
        if cols is None:
            return np.atleast_2d(expected(p, times[None, :]))
        x, tx, n = (c[:, None] for c in cols)
        return conditional_expected(p, times[None, :], x, tx, n)


def _whole(name: str, what: str, values: Any) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        arr = np.asarray(np.nan)
    if not np.all(np.isfinite(arr)) or np.any(arr < 0) or np.any(arr != np.round(arr)):
        raise ClvlensError(f"{name}: {what} must be a whole number >= 0")
    return arr


def _opps(t: Any) -> np.ndarray:
    return _whole("t", "the number of future opportunities", t)
