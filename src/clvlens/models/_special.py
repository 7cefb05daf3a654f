"""Numerically stable special-function helpers shared by the models.

Everything here works on numpy arrays and stays in log space where overflow is possible, so that
frequencies of 10,000+ and long histories give finite values.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

from clvlens.models._hyp2f1 import log_hyp2f1_one

__all__ = ["beta_mixture_mean", "log_pareto_integral_term", "softplus_and_sigmoid"]


def softplus_and_sigmoid(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``log(1 + exp(d))`` and ``1 / (1 + exp(-d))`` without overflow (one exp per element).

    ``exp(-|d|)`` underflows to 0 for |d| > 745, which is the right limit; it runs under ``errstate`` so that
    callers who set ``np.seterr(all="raise")`` get that limit and not a FloatingPointError.
    """
    with np.errstate(under="ignore"):
        e = np.exp(-np.abs(d))
        soft = np.maximum(d, 0.0) + np.log1p(e)
        inv = 1.0 / (1.0 + e)
        sig = np.where(d >= 0, inv, e * inv)
    return soft, sig


def log_pareto_integral_term(
    r: float | np.ndarray,
    alpha: float | np.ndarray,
    s: float | np.ndarray,
    beta: float | np.ndarray,
    x: np.ndarray,
    t: np.ndarray,
    exact: bool = True,
) -> np.ndarray:
    """``log[ 2F1(r+s+x, .; r+s+x+1; z(t)) / (max(alpha,beta)+t)^(r+s+x) ]`` of the Pareto/NBD likelihood.

    This is one of the two terms of ``A_0`` in Fader & Hardie (2005), "A note on deriving the Pareto/NBD
    model and related expressions", eq. (22). Both branches (alpha >= beta and alpha < beta) are rewritten
    with Euler's transformation ``2F1(a,b;c;z) = (1-z)^(c-a-b) 2F1(c-a, c-b; c; z)`` so that the remaining
    hypergeometric function has first argument 1 and a bounded value:

    * alpha >= beta, ``z = (alpha-beta)/(alpha+t)``:
      ``-(r+x) log(alpha+t) - s log(beta+t) + log 2F1(1, r+x; r+s+x+1; z)``
    * alpha < beta, ``z = (beta-alpha)/(beta+t)``:
      ``-(r+x-1) log(alpha+t) - (s+1) log(beta+t) + log 2F1(1, s+1; r+s+x+1; z)``
    """
    r, alpha, s, beta = (np.asarray(v, dtype=float) for v in (r, alpha, s, beta))
    a_ge = alpha >= beta
    la = np.log(alpha + t)
    lb = np.log(beta + t)
    c = r + s + x + 1.0
    hi = np.where(a_ge, alpha, beta)
    z = np.abs(alpha - beta) / (hi + t)
    bb = np.where(a_ge, r + x, s + 1.0)
    h = log_hyp2f1_one(bb, c, z, exact=exact)
    return np.where(a_ge, -(r + x) * la - s * lb, -(r + x - 1.0) * la - (s + 1.0) * lb) + h


_DROP = 46.0  # log-integrand drop at the ends of the quadrature range: e^-46 ~ 1e-20 of the peak
_NODES_PER_SD = 2.5  # trapezoid nodes per standard deviation of the integrand in logit space
_MAX_NODES = 320
_CELLS = 2_000_000  # element x node cells per block (a few 16 MB temporaries)


def beta_mixture_mean(A: Any, B: Any, u: Any, k: Any, kind: str) -> np.ndarray:
    """``E[h(p)]`` for ``p ~ Beta(A, B)`` with ``h(p) = (1 - (1+pu)^-k) / p`` (``kind="purchases"``) or
    ``h(p) = (1+pu)^-k`` (``kind="survival"``), by the trapezoid rule in ``y = logit(p)``.

    These are the Gauss functions of the BG/NBD and MBG/NBD predictions written as Euler integrals
    (DLMF 15.6.1): given alive at ``T``, ``lambda ~ Gamma(r+x, alpha+T)`` and ``p ~ Beta(a, b+x+k)``, so
    ``E[(1 - exp(-lambda p t)) / p] = E_p[h(p)]`` with ``u = t/(alpha+T)`` and ``k = r+x`` is the expected
    number of purchases in ``(T, T+t]`` of a customer alive at ``T`` (FHL 2005 eq. 10 divided by P(alive)),
    and ``E[exp(-lambda p t)]`` the chance that such a customer is still alive at ``T+t``. The integrand is
    bounded and smooth for every ``A, B > 0``, so where the closed forms' hypergeometric functions overflow
    (``b`` or ``a`` in the thousands to 1e13, as on a likelihood ridge toward no dropout) this stays accurate.

    Method: in ``y`` the Beta density ``p^A (1-p)^B / B(A, B)`` is log-concave and decays exponentially at
    both ends, and the integrand is analytic in a strip around the real axis, where the trapezoid rule
    converges geometrically in the step (Trefethen & Weideman 2014, SIAM Review 56(3), sec. 5). The range is
    cut where the density has fallen by ``e^-46`` from its mode and the step is a third of its width there.
    For ``A < 1`` the density's left tail decays only like ``p^A``, so ``h(0)`` is split off exactly and
    ``h(p) - h(0) = O(p)`` is integrated; otherwise the weights are normalised by their own sum, which cancels
    the rounding of ``A log p + B log(1-p)`` at large ``A`` and ``B``. Accuracy against mpmath is tested on a
    grid (``tests/models/test_beta_mixture.py``).
    """
    if kind not in ("purchases", "survival"):
        raise ValueError(kind)
    A, B, u, k = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (A, B, u, k)))
    shape = A.shape
    A, B, u, k = (v.reshape(-1) for v in (A, B, u, k))
    out = np.empty(A.size)
    if A.size == 0:
        return out.reshape(shape)
    # the nodes and weights depend on (A, B) alone: one row per distinct pair (a draw has one A and a B per
    # frequency), gathered for the elements, so each element costs two transcendental functions per node
    pairs, inverse = np.unique(np.stack([A, B]), axis=1, return_inverse=True)
    inverse = inverse.reshape(-1)
    pA, pB = pairs
    split = pA < 1.0
    peak = np.where(split, pA + 1.0, pA)
    mode = np.log(peak) - np.log(pB)
    sd = np.sqrt((peak + pB) / (peak * pB))
    reach = np.sqrt(2.0 * _DROP) * sd
    lo = mode - reach - _DROP / peak
    hi = mode + reach + _DROP / pB
    nodes = int(min(_MAX_NODES, max(24, np.ceil(np.max((hi - lo) / sd) * _NODES_PER_SD) + 1)))
    y = lo[:, None] + (hi - lo)[:, None] * np.linspace(0.0, 1.0, nodes)
    log_p = -np.logaddexp(0.0, -y)
    log_w = pA[:, None] * log_p - pB[:, None] * np.logaddexp(0.0, y)
    step = (hi - lo) / (nodes - 1)
    shift = np.where(split, special.betaln(pA, pB) - np.log(step), log_w.max(axis=1))
    weights = np.exp(log_w - shift[:, None])
    weights[:, [0, -1]] *= 0.5
    # split pairs: absolute weights (the density times the step); the others: weights normalised to sum 1
    weights[~split] /= weights[~split].sum(axis=1)[:, None]
    nodes_p = np.exp(log_p)
    block = max(1, _CELLS // nodes)
    for s in range(0, A.size, block):
        sl = slice(s, s + block)
        which = inverse[sl]
        p = nodes_p[which]
        u_, k_ = u[sl, None], k[sl]
        h = np.log1p(p * u_)
        h *= -k_[:, None]
        if kind == "purchases":
            np.expm1(h, out=h)
            np.negative(h, out=h)
            h /= p
            h0 = k_ * u_[:, 0]
        else:
            np.exp(h, out=h)
            h0 = np.ones(k_.shape)
        cut = split[which]
        h[cut] -= h0[cut, None]
        body = np.einsum("ij,ij->i", weights[which], h)
        out[sl] = np.where(cut, h0 + body, body)
    return out.reshape(shape)
