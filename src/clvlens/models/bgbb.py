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


def prob_alive(p: P, x: Any, tx: Any, n: Any) -> np.ndarray:
    """P(alive at opportunity n+1 | x, t_x, n): FHS10 eq. (11)."""
    alive, total = _log_lik_terms(p, x, tx, n)
    ga, de = p["gamma"], p["delta"]
    return np.exp(alive + special.betaln(ga, de + n + 1.0) - special.betaln(ga, de + n) - total)


def _gm1(ga: Any) -> Any:
    g = np.asarray(ga, dtype=float) - 1.0
    return np.where(np.abs(g) < 1e-7, 1e-7, g)


def conditional_expected(p: P, n_star: Any, x: Any, tx: Any, n: Any) -> np.ndarray:
    """E[purchases in opportunities n+1 .. n+n* | x, t_x, n]: FHS10 eq. (13)."""
    al, be, ga, de = p["alpha"], p["beta"], p["gamma"], p["delta"]
    _, total = _log_lik_terms(p, x, tx, n)
    gm1 = _gm1(ga)
    lead = (special.betaln(al + x + 1.0, be + n - x) - special.betaln(al, be) - total
            + special.gammaln(ga + de) - special.gammaln(1.0 + de))
    d1 = special.gammaln(1.0 + de + n) - special.gammaln(ga + de + n)
    d2 = special.gammaln(1.0 + de + n + n_star) - special.gammaln(ga + de + n + n_star)
    return np.maximum(np.exp(lead) * de / gm1 * (np.exp(d1) - np.exp(d2)), 0.0)


def expected(p: P, n: Any) -> np.ndarray:
    """E[X(n)] for a new customer: FHS10 eq. (7)."""
    al, be, ga, de = p["alpha"], p["beta"], p["gamma"], p["delta"]
    gm1 = _gm1(ga)
    ratio = np.exp(special.gammaln(ga + de) - special.gammaln(ga + de + n)
                   + special.gammaln(1.0 + de + n) - special.gammaln(1.0 + de))
    return np.maximum(al / (al + be) * de / gm1 * (1.0 - ratio), 0.0)


class BetaGeoBetaBinom(BaseModel):
    """BG/BB (Fader, Hardie & Shang 2010). ``params_``: alpha, beta, gamma, delta.

    ``time_unit`` records the length of one opportunity. Gradients are finite differences.
    """

    _param_names: ClassVar[tuple[str, ...]] = ("alpha", "beta", "gamma", "delta")
    _column_names: ClassVar[tuple[str, ...]] = ("frequency", "recency", "T")

    def fit(self, frequency: Any, recency: Any = None, T: Any = None) -> BetaGeoBetaBinom:
        """Fit by maximum likelihood; ``frequency`` may be a frame with frequency/recency/T (= n) columns."""
        return self._fit_columns(self._read_columns(frequency, [recency, T]))  # type: ignore[return-value]

    def _validate(self, cols: list[np.ndarray]) -> None:
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
        if not np.any(n > 0):
            raise ClvlensError("T: every customer has T = 0 opportunities; nothing to fit")

    def _loglik(self, params: np.ndarray, data: dict[str, Any]) -> np.ndarray:
        return _log_lik_terms(dict(zip(self._param_names, params, strict=True)), *data["cols"])[1]

    def _starts(self, data: dict[str, Any]) -> list[np.ndarray]:
        return [np.ones(4), np.array([1.0, 1.0, 0.5, 3.0]), np.array([0.5, 2.0, 2.0, 1.0])]

    def _cols3(self, frequency: Any, recency: Any, T: Any) -> tuple[np.ndarray, ...]:
        cols = self._read_columns(frequency, [recency, T])
        self._validate(cols) if np.any(cols[2] > 0) else None
        return tuple(cols)

    def conditional_probability_alive(self, frequency: Any, recency: Any = None, T: Any = None) -> np.ndarray:
        """P(alive at opportunity n+1 | x, t_x, n): FHS10 eq. (11)."""
        self._check_fitted()
        return prob_alive(self.params_, *self._cols3(frequency, recency, T))

    def conditional_expected_number_of_purchases_up_to_time(
        self, t: Any, frequency: Any, recency: Any = None, T: Any = None
    ) -> np.ndarray:
        """Expected purchases in the next ``t`` opportunities: FHS10 eq. (13)."""
        self._check_fitted()
        return conditional_expected(self.params_, _opps(t), *self._cols3(frequency, recency, T))

    def expected_number_of_purchases_up_to_time(self, t: Any) -> np.ndarray:
        """E[X(n)] in the first ``t`` opportunities: FHS10 eq. (7)."""
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


def _opps(t: Any) -> np.ndarray:
    arr = np.asarray(t, dtype=float)
    if not np.all(np.isfinite(arr)) or np.any(arr < 0) or np.any(arr != np.round(arr)):
        raise ClvlensError("t: the number of future opportunities must be a whole number >= 0")
    return arr
