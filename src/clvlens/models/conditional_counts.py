"""P(X(t) = n | x, t_x, T): the probability of n purchases in the next t given a customer's history, and
``p_active`` = 1 - P(X(t) = 0 | history), for BG/NBD, MBG/NBD, Pareto/NBD and BG/BB.

One route serves all four models. The likelihood of a history splits into an "alive at T" branch and a
"dropped out before T" branch. A customer who dropped out makes no more purchases; one alive at T faces, by the
memorylessness of every dropout process here, the future of a *new* customer whose heterogeneity distributions
are the posteriors of the alive branch. So

    P(X(t) = n | x, t_x, T) = [n = 0] (1 - P(alive)) + P(alive) P_new(X(t) = n; updated parameters),

with the updated parameters

* BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way", Marketing Science 24(2), eqs. 3, 8
  and 13): lambda ~ Gamma(r + x, alpha + T), p ~ Beta(a, b + x); P_new is FHL (2005) eq. (8). This is the
  expression of Fader, Hardie & Lee's note deriving P(X(t) = x | x, t_x, T) for the BG/NBD, written through
  eq. (8) at the updated parameters.
* MBG/NBD (Batislam, Denizel & Filiztekin 2007, eqs. 5 and 8): the same with p ~ Beta(a, b + x + 1). An MBG/NBD
  customer alive at T is *not* tossed a dropout coin at T (the extra toss of the MBG/NBD follows the first
  purchase only), so P_new is the BG/NBD form of FHL (2005) eq. (8).
* Pareto/NBD (Schmittlein, Morrison & Colombo 1987; Fader & Hardie 2005 note, eqs. 16 and 18):
  lambda ~ Gamma(r + x, alpha + T), mu ~ Gamma(s, beta + T); P_new is the unconditional Pareto/NBD PMF
  (Fader & Hardie 2006, "Deriving an expression for P(X(t) = x) under the Pareto/NBD model", eq. 8 route), its
  integral evaluated per customer by Gauss-Legendre quadrature after a logarithmic substitution (see
  :func:`_pareto_log_integral`; checked against lifetimes' closed form of Fader & Hardie's note 028, eq. 16), and
  for n = 0 (p_active) in closed form through the likelihood's hypergeometric term.
* BG/BB (Fader, Hardie & Shang 2010, Marketing Science 29(6), eqs. 5, 7 and 11): given alive through
  opportunity n, p ~ Beta(alpha + x, beta + n - x) and theta ~ Beta(gamma, delta + n); P_new is FHS (2010)
  eq. (7) over the next t opportunities.

The mean of each PMF is the model's conditional expectation (FHL eq. 10, Batislam eq. 9, FH05 eq. 21,
FHS eq. 13); the tests check it. Every term is built in log space.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

from clvlens.models import bgbb as _bgbb
from clvlens.models import bgnbd as _bgnbd
from clvlens.models import paretonbd as _pareto
from clvlens.models._base import dedup_rows
from clvlens.models._special import log_pareto_integral_term

__all__ = [
    "bgbb_active",
    "bgbb_conditional_pmf",
    "bgnbd_active",
    "bgnbd_conditional_pmf",
    "pareto_active",
    "pareto_conditional_pmf",
]

P = dict[str, Any]

_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(24)
_PIECE = 0.5  # longest piece of the u = log(1 + tau/m) axis per quadrature rule
_SLOPE_PER_PIECE = 8.0  # largest change of the log-integrand across one piece
_MAX_PIECES = 20_000  # bounds the work per customer (reached only for tens of thousands of purchases)
_BATCH_VALUES = 2_000_000  # integrand values evaluated at once: bounds the memory of a call


def _combine(alive: np.ndarray, new_pmf: np.ndarray, n: np.ndarray) -> np.ndarray:
    out = alive * new_pmf + np.where(n == 0, 1.0 - alive, 0.0)
    return np.clip(out, 0.0, 1.0)


# --------------------------------------------------------------------------------------------- BG/NBD, MBG/NBD
def _bgnbd_updated(p: P, x: np.ndarray, T: np.ndarray, shift: int) -> P:
    return {"r": p["r"] + x, "alpha": p["alpha"] + T, "a": p["a"] + 0.0 * x, "b": p["b"] + x + shift}


def bgnbd_conditional_pmf(p: P, t: Any, n: Any, x: Any, tx: Any, T: Any, shift: int) -> np.ndarray:
    """P(X(t) = n | x, t_x, T) for BG/NBD (shift 0) and MBG/NBD (shift 1); see the module docstring."""
    x, tx, T, t, n = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x, tx, T, t, n)))
    alive = _bgnbd.prob_alive(p, x, tx, T, shift)
    new_pmf = _bgnbd.prob_n_purchases(_bgnbd_updated(p, x, T, shift), t, n, 0)
    return _combine(alive, new_pmf, n)


def bgnbd_active(p: P, t: Any, x: Any, tx: Any, T: Any, shift: int) -> np.ndarray:
    """1 - P(X(t) = 0 | x, t_x, T) = P(alive) [1 - ((alpha+T)/(alpha+T+t))^(r+x)] (BG/NBD and MBG/NBD).

    A new BG/NBD customer makes no purchase in t with probability (alpha/(alpha+t))^r (FHL 2005 eq. 8 at x = 0;
    no dropout happens before a purchase), evaluated at the updated parameters.
    """
    x, tx, T, t = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x, tx, T, t)))
    alive = _bgnbd.prob_alive(p, x, tx, T, shift)
    buys = -np.expm1(-(p["r"] + x) * np.log1p(t / (p["alpha"] + T)))
    return np.clip(alive * buys, 0.0, 1.0)


# --------------------------------------------------------------------------------------------- Pareto/NBD
def _pareto_log_integral(r: np.ndarray, alpha: np.ndarray, s: float, beta: np.ndarray, t: np.ndarray,
                         n: np.ndarray) -> np.ndarray:
    """log int_0^t tau^n (alpha+tau)^-(r+n) (beta+tau)^-(s+1) d tau, element by element (1-D inputs).

    With tau = m (e^u - 1) and m = min(alpha, beta, alpha/(r+n), beta/(s+1)) (no larger than the scale on which
    the integrand decays, which is alpha/(r+n) for thousands of purchases), the integrand in u is smooth on the
    unit scale and analytic within distance pi of the real axis; composite 24-point Gauss-Legendre rules on pieces
    of at most 0.5 in u are then accurate to about 1e-13. For n = 0 the integral has a closed form
    (:func:`_pareto_log_integral_zero`), used instead.
    """
    zero = n == 0
    if zero.all():
        return _pareto_log_integral_zero(r, alpha, s, beta, t)
    if zero.any():
        out = np.empty(t.shape)
        out[zero] = _pareto_log_integral_zero(r[zero], alpha[zero], s, beta[zero], t[zero])
        rest = ~zero
        out[rest] = _pareto_log_integral(r[rest], alpha[rest], s, beta[rest], t[rest], n[rest])
        return out
    m = np.minimum(np.minimum(alpha, beta), np.minimum(alpha / (r + n), beta / (s + 1.0)))
    length = np.log1p(t / m)
    out = np.full(t.shape, -np.inf)
    positive = t > 0
    if not positive.any():
        return out
    # pieces per row: at most _PIECE long in u, and short enough that the log-integrand, whose slope in u is at
    # most about 2n + r + s + 2, changes by no more than _SLOPE_PER_PIECE over one piece (rows with thousands of
    # purchases need many); rows are processed in order of that need, in batches of bounded size
    slope = 2.0 * n + r + s + 2.0
    need = np.ceil(length / np.minimum(_PIECE, _SLOPE_PER_PIECE / slope))
    need = np.clip(np.where(positive, need, 0), 1, _MAX_PIECES).astype(np.int64)
    order = np.flatnonzero(positive)
    order = order[np.argsort(need[order], kind="stable")]
    i = 0
    while i < order.size:
        size = max(1, _BATCH_VALUES // (_NODES.size * int(need[order[i]])))
        idx = order[i : i + size]
        pieces = int(need[idx].max())
        idx = idx[: max(1, _BATCH_VALUES // (_NODES.size * pieces))]
        i += idx.size
        offsets = (np.arange(pieces)[:, None] + (_NODES[None, :] + 1.0) / 2.0).ravel() / pieces  # in (0, 1)
        weights = np.tile(_WEIGHTS / 2.0, pieces) / pieces
        L = length[idx][:, None]
        u = L * offsets[None, :]
        mm = m[idx][:, None]
        log_tau = np.log(mm) + np.log(np.expm1(u))
        tau = mm * np.expm1(u)
        rr, aa, bb, nn = (v[idx][:, None] for v in (r, alpha, beta, n))
        log_f = (nn * log_tau - (rr + nn) * np.log(aa + tau) - (s + 1.0) * np.log(bb + tau)
                 + np.log(mm) + u)  # d tau = m e^u du
        out[idx] = special.logsumexp(log_f + np.log(weights * L), axis=1)
    return out


def _pareto_log_integral_zero(r: np.ndarray, alpha: np.ndarray, s: float, beta: np.ndarray,
                              t: np.ndarray) -> np.ndarray:
    """log int_0^t (alpha+tau)^-r (beta+tau)^-(s+1) d tau = log[(term(0) - term(t)) / (r+s)], where term is the
    transformed Gauss hypergeometric term of the Pareto/NBD likelihood (FH05 eq. 22, whose A_0 is this integral
    between t_x and T times r+s+x; :func:`clvlens.models._special.log_pareto_integral_term`)."""
    zeros = np.zeros(t.shape)
    u0 = log_pareto_integral_term(r, alpha, s, beta, zeros, zeros)
    ut = log_pareto_integral_term(r, alpha, s, beta, zeros, t)
    with np.errstate(divide="ignore"):  # t = 0: an empty integral, log 0 = -inf
        return u0 + np.log(-np.expm1(np.minimum(ut - u0, 0.0))) - np.log(r + s)


def _pareto_new_pmf(r: np.ndarray, alpha: np.ndarray, s: float, beta: np.ndarray, t: np.ndarray,
                    n: np.ndarray) -> np.ndarray:
    """Unconditional Pareto/NBD P(X(t) = n) at per-element parameters (see :func:`paretonbd.prob_n_purchases`):
    NB(n; r, alpha/(alpha+t)) (beta/(beta+t))^s + s beta^s alpha^r Gamma(r+n)/(Gamma(r) n!) I(n)."""
    log_nb = special.gammaln(r + n) - special.gammaln(r) - special.gammaln(n + 1.0)
    with np.errstate(divide="ignore"):
        log_t = np.log(t)
    alive = (log_nb - r * np.log1p(t / alpha) + np.where(n > 0, n * (log_t - np.log(alpha + t)), 0.0)
             - s * np.log1p(t / beta))
    died = (log_nb + np.log(s) + s * np.log(beta) + r * np.log(alpha)
            + _pareto_log_integral(r, alpha, s, beta, t, n))
    return np.exp(alive) + np.exp(died)


def pareto_conditional_pmf(p: P, t: Any, n: Any, x: Any, tx: Any, T: Any) -> np.ndarray:
    """P(X(t) = n | x, t_x, T) for the Pareto/NBD; see the module docstring."""
    x, tx, T, t, n = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x, tx, T, t, n)))
    shape = x.shape
    x, tx, T, t, n = (np.ravel(v) for v in (x, tx, T, t, n))
    alive = _pareto.prob_alive(p, x, tx, T)
    if x.size > 1000 and np.all(t == t[0]) and np.all(n == n[0]):
        # one window and count for everyone: the new customer's pmf depends on the (x, T) pair alone, and daily
        # data hold far fewer pairs than customers
        (ux, uT), _, inverse = dedup_rows([x, T])
        new_pmf = _pareto_new_pmf(p["r"] + ux, p["alpha"] + uT, float(p["s"]), p["beta"] + uT,
                                  np.full(ux.shape, t[0]), np.full(ux.shape, n[0]))[inverse]
    else:
        new_pmf = _pareto_new_pmf(p["r"] + x, p["alpha"] + T, float(p["s"]), p["beta"] + T, t, n)
    return _combine(alive, new_pmf, n).reshape(shape)


def pareto_active(p: P, t: Any, x: Any, tx: Any, T: Any) -> np.ndarray:
    """1 - P(X(t) = 0 | x, t_x, T) for the Pareto/NBD.

    P(alive) x (1 - P_new(X(t) = 0)) at the updated parameters, from the quadrature of
    :func:`pareto_conditional_pmf` (accurate to rounding in absolute terms).
    """
    return 1.0 - pareto_conditional_pmf(p, t, 0.0, x, tx, T)


# --------------------------------------------------------------------------------------------- BG/BB
def bgbb_conditional_pmf(p: P, t: Any, n: Any, x: Any, tx: Any, opportunities: Any) -> np.ndarray:
    """P(X(n*) = k | x, t_x, n) over the next n* = ``t`` opportunities for the BG/BB; see the module docstring."""
    x, tx, m, t, n = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x, tx, opportunities, t, n)))
    alive = _bgbb.prob_alive(p, x, tx, m, 0.0)  # alive through opportunity n
    updated = {"alpha": p["alpha"] + x, "beta": p["beta"] + m - x, "gamma": p["gamma"] + 0.0 * x,
               "delta": p["delta"] + m}
    new_pmf = _bgbb.prob_n_purchases(updated, t, n)
    return _combine(alive, new_pmf, n)


def bgbb_active(p: P, t: Any, x: Any, tx: Any, opportunities: Any) -> np.ndarray:
    """1 - P(X(n*) = 0 | x, t_x, n) for the BG/BB."""
    return 1.0 - bgbb_conditional_pmf(p, t, 0.0, x, tx, opportunities)
