"""Numerically stable special-function helpers shared by the models.

Everything here works on numpy arrays and stays in log space where overflow is possible, so that
frequencies of 10,000+ and long histories give finite values.
"""

from __future__ import annotations

import numpy as np

from clvlens.models._hyp2f1 import log_hyp2f1_one

__all__ = ["log_pareto_integral_term", "softplus_and_sigmoid"]


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
