"""Pareto/NBD model: Schmittlein, Morrison & Colombo (1987), "Counting your customers: who are they and what
will they do next?", Management Science 33(1); likelihood and expressions as derived in Fader & Hardie
(2005), "A note on deriving the Pareto/NBD model and related expressions" (referred to as FH05 below).

Purchases while alive ~ Poisson(lambda), lambda ~ Gamma(r, alpha); lifetime ~ Exponential(mu),
mu ~ Gamma(s, beta). ``params_``: r, alpha, s, beta.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
from scipy import special

from clvlens.models._base import dedup_rows, frequency_index, start_scales
from clvlens.models._histories import Histories
from clvlens.models._pareto_likelihood import loglik_and_gradient, pair_terms, per_unit_loglik
from clvlens.models._special import log_pareto_integral_term, softplus_and_sigmoid
from clvlens.models.bgnbd import BetaGeo, _time

__all__ = ["ParetoNBD"]

#: likelihood data of more rows than this are grouped into distinct (x, t_x, T) triples when that leaves at most
#: ``_GROUP_SHARE`` of the rows (grouping costs a sort; the gather back per row costs one operation)
_GROUP_ABOVE = 1_000
_GROUP_SHARE = 0.7


def _distinct_pair_terms(
    r: float, alpha: float, s: float, beta: float, x: np.ndarray, t: np.ndarray, exact: bool
) -> np.ndarray:
    """:func:`log_pareto_integral_term` per row, evaluated once per distinct (x, t) pair."""
    pairs, counts, inverse = dedup_rows([x, t])
    if counts.size > 0.7 * x.size:  # mostly distinct: grouping saves little
        return log_pareto_integral_term(r, alpha, s, beta, x, t, exact)
    return log_pareto_integral_term(r, alpha, s, beta, pairs[0], pairs[1], exact)[inverse]


P = dict[str, Any]


def _log_terms(
    p: P, x: Any, tx: Any, T: Any, exact: bool = True, histories: Histories | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The two log-terms of FH05 eq. (22) without the common factor Gamma(r+x) alpha^r beta^s / Gamma(r).

    ``L1 = -(r+x) log(alpha+T) - s log(beta+T)`` (alive at T) and ``L2 = log(s/(r+s+x)) + log A_0``
    (died in (t_x, T]) where ``A_0 = term(t_x) - term(T)`` (see :func:`log_pareto_integral_term`).
    ``histories``: the distinct triples whose (x, t_x) and (x, T) pairs are already grouped (x, tx, T are its
    ``cols``).
    """
    r, alpha, s, beta = p["r"], p["alpha"], p["s"], p["beta"]
    l1 = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    x, tx = np.asarray(x, dtype=float), np.asarray(tx, dtype=float)
    if histories is not None:
        u1, u2 = (log_pareto_integral_term(r, alpha, s, beta, pair[0], pair[1], exact)[at]
                  for pair, at in (histories.pairs("tx"), histories.pairs("T")))
    elif x.ndim == 1 and np.ndim(r) == 0 and x.size > 1000 and np.shape(T) == x.shape:
        # the terms depend on the (x, t) pair alone: evaluate each distinct pair once (daily data over years
        # hold far fewer pairs than customers)
        u1, u2 = (_distinct_pair_terms(r, alpha, s, beta, x, t, exact) for t in (tx, np.asarray(T, dtype=float)))
    else:
        u1 = log_pareto_integral_term(r, alpha, s, beta, x, tx, exact)
        u2 = log_pareto_integral_term(r, alpha, s, beta, x, T, exact)
    diff = np.minimum(u2 - u1, 0.0)
    with np.errstate(divide="ignore"):
        log_a0 = u1 + np.log(-np.expm1(diff))
    l2 = np.log(s) - np.log(r + s + x) + log_a0
    return l1, l2


def prob_alive(p: P, x: Any, tx: Any, T: Any, histories: Histories | None = None) -> np.ndarray:
    """P(alive | x, t_x, T) = exp(L1) / (exp(L1) + exp(L2)): FH05 eq. (18). ``histories``: see :func:`_log_terms`."""
    l1, l2 = _log_terms(p, x, tx, T, histories=histories)
    soft, _ = softplus_and_sigmoid(l2 - l1)
    with np.errstate(under="ignore"):  # P(alive) below 1e-308 is 0, also under np.seterr(all="raise")
        return np.exp(-soft)


def conditional_expected(p: P, t: Any, x: Any, tx: Any, T: Any, alive: Any = None) -> np.ndarray:
    """E[Y(t) | x, t_x, T]: FH05 eq. (21),
    P(alive) (r+x)(beta+T)/((alpha+T)(s-1)) [1 - ((beta+T)/(beta+T+t))^(s-1)].

    ``[1 - u^(s-1)]/(s-1)`` is computed as ``-expm1((s-1) log u)/(s-1)``, continuous through s = 1.
    ``alive``: P(alive) when already at hand (it does not depend on ``t``).
    """
    r, alpha, s, beta = p["r"], p["alpha"], p["s"], p["beta"]
    sm1 = np.asarray(s, dtype=float) - 1.0
    lu = np.log1p(t / (beta + T))
    small = np.abs(sm1) < 1e-10
    g = np.where(small, lu, -np.expm1(-sm1 * lu) / np.where(small, 1.0, sm1))
    if alive is not None:
        pa = alive
    else:
        pa = prob_alive(p, x, tx, T) if np.any(np.asarray(T) > 0) or np.any(np.asarray(x) > 0) else 1.0
    return pa * (r + x) / (alpha + T) * (beta + T) * g


_GAUSS_NODES, _GAUSS_WEIGHTS = np.polynomial.legendre.leggauss(32)


def prob_n_purchases(p: P, t: Any, n: Any) -> np.ndarray:
    """P(X(t) = n) for a new customer.

    Given lambda and mu, the customer is either alive at t (probability e^(-mu t)) with Poisson(lambda t)
    purchases, or died at tau < t with Poisson(lambda tau); averaging over the gamma mixing distributions
    (the route of Fader & Hardie 2006, "Deriving an expression for P(X(t) = x) under the Pareto/NBD model"):

        P(X(t) = n) = NB(n; r, alpha/(alpha+t)) (beta/(beta+t))^s
                      + s beta^s alpha^r Gamma(r+n) / (Gamma(r) n!) I(n),
        I(n) = int_0^t tau^n (alpha+tau)^-(r+n) (beta+tau)^-(s+1) d tau.

    Fader & Hardie write I(n) as a finite sum of Gauss hypergeometric functions; here it is integrated
    directly, in log space, by 32-point Gauss-Legendre rules on [0, m/16] and doubling pieces up to t
    (m = min(alpha, beta)), so that the integrand's singularities at -alpha and -beta are never nearer a piece
    than its own length: accurate to about 1e-14 for any parameters, and for hundreds of purchases.
    """
    r, alpha, s, beta = p["r"], p["alpha"], p["s"], p["beta"]
    t, n = np.broadcast_arrays(np.asarray(t, dtype=float), np.asarray(n, dtype=float))
    if t.size == 0:
        return np.zeros(t.shape)
    times, t_index = np.unique(t, return_inverse=True)
    edges = [0.0]
    edge = min(alpha, beta) / 16.0
    while edge < times.max():
        edges.append(edge)
        edge *= 2.0
    edges.append(float(times.max()))
    lo = np.minimum(np.array(edges[:-1])[None, :], times[:, None])
    half = (np.minimum(np.array(edges[1:])[None, :], times[:, None]) - lo) / 2.0
    tau = lo[..., None] + half[..., None] * (_GAUSS_NODES + 1.0)  # (times, pieces, nodes)
    with np.errstate(divide="ignore"):  # pieces beyond t have zero length: weight 0, log -inf
        log_weight = np.log(half[..., None] * _GAUSS_WEIGHTS)
    log_tau, log_a, log_b = np.log(tau), np.log(alpha + tau), np.log(beta + tau)
    counts, count_index = np.unique(n, return_inverse=True)
    log_integral = np.empty((counts.size, times.size))
    chunk = max(1, 4_000_000 // tau.size)  # counts per batch: a few million integrand values at a time
    for start in range(0, counts.size, chunk):
        c = counts[start : start + chunk, None, None, None]
        log_integral[start : start + chunk] = special.logsumexp(
            c * log_tau - (r + c) * log_a - (s + 1.0) * log_b + log_weight, axis=(2, 3)
        )
    log_nb = special.gammaln(r + n) - special.gammaln(r) - special.gammaln(n + 1.0)
    alive = log_nb + r * np.log(alpha / (alpha + t)) + n * np.log(t / (alpha + t)) + s * np.log(beta / (beta + t))
    died = (log_nb + np.log(s) + s * np.log(beta) + r * np.log(alpha)
            + log_integral[count_index.reshape(t.shape), t_index.reshape(t.shape)])
    return np.exp(alive) + np.exp(died)


class ParetoNBD(BetaGeo):
    """Pareto/NBD (Schmittlein et al. 1987; FH05). ``params_``: r, alpha, s, beta.

    The log-likelihood (FH05 eq. 22) is evaluated in log space; the Gauss hypergeometric functions are
    transformed so that they stay bounded (see :mod:`clvlens.models._special`). The gradient is analytic,
    summed with the likelihood's series (:mod:`clvlens.models._pareto_likelihood`).
    """

    #: parameters boxed in [1e-5, 1e5]: beyond it the likelihood is flat along s/beta (no dropout heterogeneity)
    #: and each evaluation of its hypergeometric terms grows slow as z -> 1; a fit there is reported as degenerate
    _log_bound: ClassVar[float] = 11.5
    _no_dropout: ClassVar[dict[str, str]] = {"s": "down", "beta": "up"}
    _param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "s", "beta")
    _subsample_above: ClassVar[int] = 20_000
    #: a likelihood evaluation costs the distinct (x, t) pairs' special functions (see ``_prepare``), so the warm
    #: start can afford a subsample of 10,000 rows, large enough to land near the full data's optimum
    _subsample_rows: ClassVar[int] = 10_000
    _analytic_gradient: ClassVar[bool] = True
    _analytic_hessian: ClassVar[bool] = False
    #: L-BFGS-B keeps the forward-difference gradient, so that it stops where it stopped before the analytic one:
    #: along a flat likelihood ridge (no dropout, or no dropout heterogeneity) the exact gradient carries it on to
    #: the parameter box, which turned a flagged ridge fit of a 300-customer demo store into an error and an error
    #: on UCI into a flagged fit. The quasi-Newton steps on all rows use the analytic gradient; the standard errors'
    #: Hessian takes second differences of the likelihood's values, which carry less rounding noise (see
    #: ``_engine._Objective.hessian``).
    _lbfgs_by_differences: ClassVar[bool] = True

    #: ``penalizer="l2"``: lifetimes' Pareto/NBD adds its penalty to the *total* log-likelihood (it divides by
    #: the mean weight), so per customer the coefficient is divided by their number
    _l2_per_customer: ClassVar[bool] = True

    def fit(self, frequency: Any, recency: Any = None, T: Any = None, *, weights: Any = None) -> ParetoNBD:
        """Fit by maximum likelihood. ``frequency`` may be a frame with frequency/recency/T columns;
        ``weights`` (one per row, fractions allowed) count each row that many times."""
        cols = self._read_columns(frequency, [recency, T])
        return self._fit_columns(cols, weights)  # type: ignore[return-value]

    def _l2_scales(self, data: dict[str, Any]) -> np.ndarray:
        """``penalizer="l2"``: lifetimes fits alpha and beta on ages divided by the longest age."""
        per_age = 1.0 / max(float(np.max(data["cols"][2])), 1e-12)
        return np.array([1.0, per_age, 1.0, per_age])

    def _prepare(self, cols: list[np.ndarray], weights: np.ndarray) -> dict[str, Any]:
        """The rows plus the distinct (x, t_x, T) triples, the distinct (x, t_x) and (x, T) pairs and distinct
        ages, each with an index into them: the hypergeometric terms depend on a pair alone and the rest of a
        row's log-likelihood on its triple, and daily data hold far fewer distinct pairs and triples than rows
        (a 1M-customer log over two years: 19,000 pairs of each kind, 449,000 triples), so a likelihood
        evaluation costs the pairs' special functions, a few cheap operations per triple and one gather per
        row. Each row's value is computed from the same inputs by the same element-wise operations as without
        the grouping, so the per-row log-likelihood (and the fit) is the same to the bit."""
        x = cols[0]
        units, at_unit = cols, None
        if x.size > _GROUP_ABOVE:
            distinct, _, inverse = dedup_rows(cols)
            if distinct[0].size <= _GROUP_SHARE * x.size:
                units, at_unit = distinct, inverse
        ux_rows, tx_rows, T_rows = units
        ux, xi = frequency_index(ux_rows)
        pairs_tx, _, tx_pair = dedup_rows([ux_rows, tx_rows])
        pairs_T, _, T_pair = dedup_rows([ux_rows, T_rows])
        # one term per distinct pair of either kind: a recency of one customer is often the age of another with
        # the same frequency (1M customers: 22,800 distinct pairs where the two kinds hold 38,300)
        n_tx = pairs_tx[0].size
        pairs, _, union_of = dedup_rows([np.concatenate([pairs_tx[0], pairs_T[0]]),
                                         np.concatenate([pairs_tx[1], pairs_T[1]])])
        ages, at_age = np.unique(T_rows, return_inverse=True)
        unit_w = weights if at_unit is None else np.bincount(at_unit, weights=weights, minlength=units[0].size)
        return {"cols": cols, "w": weights, "units": units, "at_unit": at_unit, "unit_w": unit_w, "ux": ux,
                "xi": xi, "pairs_tx": pairs_tx, "pairs_T": pairs_T, "pairs": pairs, "at_tx": union_of[:n_tx][tx_pair],
                "at_T": union_of[n_tx:][T_pair], "ages": ages, "at_age": at_age.ravel()}

    def _loglik(self, params: np.ndarray, data: dict[str, Any]) -> np.ndarray:
        """Per-row log-likelihood, FH05 eq. (22), from the hypergeometric terms of the distinct pairs."""
        r, alpha, s, beta = params
        # pair_terms has no slow mpmath fallback (exact=False): inside the optimiser a NaN just rejects the step
        per_unit = per_unit_loglik(params, data, pair_terms(r, alpha, s, beta, data["pairs"]))
        return self._rows_of(per_unit, data)

    @staticmethod
    def _rows_of(per_unit: np.ndarray, data: dict[str, Any]) -> np.ndarray:
        at_unit = data["at_unit"]
        return per_unit if at_unit is None else per_unit[at_unit]

    def _loglik_grad(self, params: np.ndarray, data: dict[str, Any]) -> tuple[float, np.ndarray]:
        """The weighted total of :meth:`_loglik` (the same sum, to the bit) and its gradient in the parameters,
        from one pass over the pairs' hypergeometric series (:mod:`clvlens.models._pareto_likelihood`)."""
        return loglik_and_gradient(params, data, self._rows_of)

    def _total_loglik(self, theta: np.ndarray, data: dict[str, Any]) -> float:
        """The weighted sum of :meth:`_loglik` over the distinct triples, with every term that depends on a pair
        alone (the hypergeometric terms, L1 and the constant of FH05 eq. 22) combined per pair first: per triple
        it costs four gathers and five element-wise functions (the plausible-region check of interval draws
        evaluates it once per proposal). Equal to the row sum up to rounding (relative 1e-13 on CDNOW, tested). The
        optimiser keeps the row sum of :meth:`_loglik`: on a flat likelihood ridge a different rounding can turn
        a converged fit into one that drifts to the edge."""
        r, alpha, s, beta = theta
        x, t = data["pairs"]
        with np.errstate(all="ignore"):
            terms = pair_terms(r, alpha, s, beta, data["pairs"])
            constant = special.gammaln(r + x) + (r * np.log(alpha) + s * np.log(beta) - special.gammaln(r))
            alive = -(r + x) * np.log(alpha + t) - s * np.log(beta + t) + constant  # as a (x, T) pair
            died = terms + np.log(s) - np.log(r + s + x) + constant  # as a (x, t_x) pair
            at_tx, at_T = data["at_tx"], data["at_T"]
            gap = terms[at_T]
            gap -= terms[at_tx]
            np.minimum(gap, 0.0, out=gap)
            np.expm1(gap, out=gap)
            np.negative(gap, out=gap)
            np.log(gap, out=gap)
            gap += died[at_tx]
            # log(e^a + e^b) as max + log1p(exp(min - max)): np.logaddexp takes four times as long
            first = alive[at_T]
            high = np.maximum(first, gap)
            np.minimum(first, gap, out=gap)
            gap -= high
            np.exp(gap, out=gap)
            np.log1p(gap, out=gap)
            gap += high
            # the weighted sum without a product array, and not a BLAS dot (its threads would spin against ours)
            value = float(np.einsum("i,i->", data["unit_w"], gap))
        return value if math.isfinite(value) else -math.inf

    def _starts(self, data: dict[str, Any]) -> list[np.ndarray]:
        mt, a0 = start_scales(data)
        return [np.array([0.5, a0 / 2, 0.5, mt / 3]), np.array([1.0, a0, 1.0, mt]),
                np.array([0.2, a0 / 5, 2.0, mt * 3]), np.ones(4)]

    # ------------------------------------------------------------------ predictions
    def conditional_probability_alive(self, frequency: Any, recency: Any = None, T: Any = None) -> np.ndarray:
        """P(alive | x, t_x, T): FH05 eq. (18)."""
        self._check_fitted()
        x, tx, TT = self._cols3(frequency, recency, T)
        return prob_alive(self.params_, x, tx, TT)

    def conditional_probability_alive_at(
        self, t: Any, frequency: Any, recency: Any = None, T: Any = None
    ) -> np.ndarray:
        """P(still alive at T + t | x, t_x, T) = P(alive at T | ...) x ((beta+T)/(beta+T+t))^s.

        Given alive at T, the dropout rate mu | data ~ Gamma(s, beta+T) (Fader & Hardie 2005 note, eq. 16), and the
        lifetime is exponential, so the survival factor is E[exp(-mu t)] = ((beta+T)/(beta+T+t))^s.
        """
        self._check_fitted()
        x, tx, TT = self._cols3(frequency, recency, T)
        s, beta = self.params_["s"], self.params_["beta"]
        survival = np.exp(-s * np.log1p(_time(t, self.time_unit) / (beta + TT)))
        return np.clip(prob_alive(self.params_, x, tx, TT) * survival, 0.0, 1.0)

    def conditional_expected_number_of_purchases_up_to_time(
        self, t: Any, frequency: Any, recency: Any = None, T: Any = None
    ) -> np.ndarray:
        """E[number of purchases in (T, T + t] | x, t_x, T]: FH05 eq. (21)."""
        self._check_fitted()
        x, tx, TT = self._cols3(frequency, recency, T)
        return conditional_expected(self.params_, _time(t, self.time_unit), x, tx, TT)

    def expected_number_of_purchases_up_to_time(self, t: Any) -> np.ndarray:
        """E[X(t)] = r beta / (alpha (s-1)) [1 - (beta/(beta+t))^(s-1)]: FH05 eq. (17)."""
        self._check_fitted()
        t = _time(t, self.time_unit)
        z0 = np.zeros_like(t)
        return conditional_expected(self.params_, t, z0, z0, z0)

    def _conditional_pmf(
        self, t: np.ndarray, n: np.ndarray, x: np.ndarray, tx: np.ndarray, T: np.ndarray
    ) -> np.ndarray:
        from clvlens.models.conditional_counts import pareto_conditional_pmf

        return pareto_conditional_pmf(self.params_, t, n, x, tx, T)

    def _active(self, t: np.ndarray, x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> np.ndarray:
        from clvlens.models.conditional_counts import pareto_active

        return pareto_active(self.params_, t, x, tx, T)

    def _prob_n_purchases(self, t: np.ndarray, n: np.ndarray) -> np.ndarray:
        """:func:`prob_n_purchases` (P(X(t) = n) for a new customer)."""
        return prob_n_purchases(self.params_, t, n)

    def conditional_expected_number_of_purchases_interval(
        self, t: Any, frequency: Any, recency: Any = None, T: Any = None, *,
        level: float = 0.9, n_draws: int = 500, seed: int | None = 0,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Parametric-bootstrap (lower, upper) bounds for the conditional expected purchases."""
        x, tx, TT = self._cols3(frequency, recency, T)
        tt = _time(t, self.time_unit)
        return self._interval(lambda p: conditional_expected(p, tt, x, tx, TT), level, n_draws, seed)

    def _alive_on(self, p: P, histories: Histories) -> np.ndarray:
        """P(alive) of each distinct triple of ``histories``, the pairs' terms evaluated once per pair."""
        return prob_alive(p, *histories.cols, histories=histories)

    def _given_alive_path(self, p: P, times: np.ndarray, x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """E[Y(t) | alive at T, x] at each of ``times`` (columns) for each (x, T) pair (rows): eq. (21) / P(alive)."""
        return conditional_expected(p, times[None, :], x[:, None], T[:, None], T[:, None], np.ones(1))

    def _expected_path(self, p: P, times: np.ndarray, cols: tuple[np.ndarray, ...] | None) -> np.ndarray:
        if cols is None:
            z = np.zeros(1)
            cols = (z, z, z)
        alive = prob_alive(p, *cols)[:, None] if np.ndim(p["r"]) == 0 else None  # once per customer, not per time
        x, tx, TT = (c[:, None] for c in cols)
        return conditional_expected(p, times[None, :], x, tx, TT, alive)
