"""Numerically stable special-function helpers shared by the models.

Everything here works on numpy arrays and stays in log space where overflow is possible, so that
frequencies of 10,000+ and long histories give finite values.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

from clvlens.errors import ClvlensError

_MAX_SLOW_EVALUATIONS = 500

__all__ = ["hyp2f1_fallback", "log_hyp2f1_one", "log_pareto_integral_term", "softplus_and_sigmoid"]


def softplus_and_sigmoid(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``log(1 + exp(d))`` and ``1 / (1 + exp(-d))`` without overflow (one exp per element)."""
    e = np.exp(-np.abs(d))
    soft = np.maximum(d, 0.0) + np.log1p(e)
    inv = 1.0 / (1.0 + e)
    sig = np.where(d >= 0, inv, e * inv)
    return soft, sig


def hyp2f1_fallback(f: np.ndarray, A: Any, B: Any, C: Any, z: Any) -> np.ndarray:
    """Re-evaluate with mpmath the (rare) elements scipy's hyp2f1 returns as non-finite."""
    f, A, B, C, z = np.broadcast_arrays(f, A, B, C, z)
    out = np.array(f, dtype=float)
    bad = ~np.isfinite(out)
    try:
        import mpmath
    except ImportError:  # pragma: no cover
        raise ClvlensError("params: too extreme for scipy's hyp2f1; refit with penalizer_coef > 0") from None
    if np.count_nonzero(bad) > _MAX_SLOW_EVALUATIONS:
        # arbitrary precision costs about a millisecond a value: past a few hundred the parameters themselves
        # are the problem, so say so instead of grinding
        raise ClvlensError(
            f"params: {np.count_nonzero(bad)} hypergeometric values overflow at these parameters; "
            "refit with penalizer_coef > 0 (e.g. 0.01)"
        )
    for i in zip(*np.nonzero(bad), strict=True):
        try:
            out[i] = float(mpmath.hyp2f1(float(A[i]), float(B[i]), float(C[i]), float(z[i])))
        except (mpmath.libmp.NoConvergence, ValueError, ZeroDivisionError):
            raise ClvlensError(
                "params: the hypergeometric function does not converge at these parameters; "
                "refit with penalizer_coef > 0 (e.g. 0.01)"
            ) from None
    return out


def log_hyp2f1_one(
    b: np.ndarray, c: np.ndarray, z: np.ndarray, z_series: float = 0.75, exact: bool = True
) -> np.ndarray:
    """``log 2F1(1, b; c; z)`` for ``0 <= z < 1`` and ``c > b > 0``.

    With these arguments every term of the Gauss series ``sum_k prod_{j<k} (b+j)/(c+j) z^k`` is positive
    and the value lies in ``[1, 1/(1-z)]``. For ``z <= z_series`` the series is summed directly (vectorised,
    term ratio < z, so at most ~130 terms for 1e-16) which is several times faster than
    :func:`scipy.special.hyp2f1`; larger ``z`` goes to :func:`hyp2f1_one_continued_fraction`, and anything that
    leaves unconverged to scipy.
    """
    b, c, z = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (b, c, z)))
    out = np.empty(z.shape)
    flat_out = out.reshape(-1)
    bf, cf, zf = b.reshape(-1), c.reshape(-1), z.reshape(-1)
    use_series = zf <= z_series
    idx = np.flatnonzero(use_series)
    if idx.size:
        # b + k and c + k are advanced in place: on arrays of 1e5 rows, allocating a temporary per operation
        # costs several times the arithmetic
        bk, ck, zz = bf[idx], cf[idx], zf[idx]
        term = np.ones(idx.size)
        total = np.ones(idx.size)
        for _ in range(12):  # dense phase: most elements converge here when z is small
            term *= bk
            term /= ck
            term *= zz
            total += term
            bk += 1.0
            ck += 1.0
        live = np.flatnonzero(term > 1e-17 * (1.0 - zz) * total)
        if live.size:
            bl, cl, zl, tl, sl = bk[live], ck[live], zz[live], term[live], total[live]
            for k in range(12, 400):
                tl *= bl
                tl /= cl
                tl *= zl
                sl += tl
                bl += 1.0
                cl += 1.0
                if k % 8 == 7:
                    keep = tl > 1e-17 * (1.0 - zl) * sl
                    if not keep.all():
                        total[live[~keep]] = sl[~keep]
                        live, bl, cl, zl, tl, sl = (v[keep] for v in (live, bl, cl, zl, tl, sl))
                        if live.size == 0:
                            break
            total[live] = sl
        flat_out[idx] = np.log(total)
        if live.size:  # pragma: no cover - cannot happen for z <= 0.75
            use_series[idx[live]] = False
    rest = np.flatnonzero(~use_series)
    if rest.size:
        val, converged = hyp2f1_one_continued_fraction(bf[rest], cf[rest], zf[rest])
        val = np.where(np.isfinite(val), val, np.nan)
        converged &= np.isfinite(val)
        if not converged.all():
            stuck = np.flatnonzero(~converged)
            retry = special.hyp2f1(1.0, bf[rest][stuck], cf[rest][stuck], zf[rest][stuck])
            if exact and not np.all(np.isfinite(retry)):
                retry = hyp2f1_fallback(retry, 1.0, bf[rest][stuck], cf[rest][stuck], zf[rest][stuck])
            val[stuck] = retry
        # The value is bracketed by 1 and 1/(1-z); clip guards a rare inaccurate evaluation.
        upper = 1.0 / np.maximum(1.0 - zf[rest], 1e-300)
        flat_out[rest] = np.log(np.clip(val, 1.0, upper))
    return out


def hyp2f1_one_continued_fraction(
    b: np.ndarray, c: np.ndarray, z: np.ndarray, max_terms: int = 3_000
) -> tuple[np.ndarray, np.ndarray]:
    """``2F1(1, b; c; z)`` by Gauss's continued fraction, for ``z`` close to 1 where the series is slow.

    Gauss's continued fraction for ``2F1(a+1, b; c'+1; z) / 2F1(a, b; c'; z)`` (Wall 1948, ch. XVIII; DLMF
    15.7) with ``a = 0`` and ``c' = c - 1`` gives ``2F1(1, b; c; z) = 1 / (1 + d_1 z / (1 + d_2 z / ...))`` with
    ``d_{2n+1} = -(c' + n)(b + n) / ((c' + 2n)(c' + 2n + 1))`` and
    ``d_{2n+2} = (b - c' - 1 - n)(n + 1) / ((c' + 2n + 1)(c' + 2n + 2))``. Its approximants converge
    geometrically with ratio ``q = ((1 - sqrt(1 - z)) / (1 + sqrt(1 - z)))^2`` per pair of terms, where
    scipy's ``hyp2f1`` can lose all accuracy; the depth is set from the largest ``z`` for 1e-16 and the
    fraction is evaluated bottom-up, in place. Returns the values and a mask of the
    elements whose depth fitted within ``max_terms`` (the others are left for another method).
    """
    root = np.sqrt(np.maximum(1.0 - z, 0.0))
    ratio = ((1.0 - root) / (1.0 + root)) ** 2
    needed = 2.0 * np.ceil(37.0 / np.maximum(-np.log(np.maximum(ratio, 1e-300)), 1e-12)) + 20.0
    converged = needed <= max_terms
    depth = int(min(np.max(needed, initial=2.0), max_terms))
    b, c, z = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (b, c, z)))
    cp = c - 1.0
    b_minus_cp_1 = b - c
    tail = np.ones(z.shape)
    num, den, tmp = np.empty(z.shape), np.empty(z.shape), np.empty(z.shape)
    for m in range(depth, 0, -1):  # in place: near z = 1 this loop runs thousands of times
        n = (m - 1) // 2
        if m % 2:  # d = -(c'+n)(b+n) / ((c'+2n)(c'+2n+1))
            np.add(cp, n, out=num)
            np.add(b, n, out=tmp)
            num *= tmp
            np.negative(num, out=num)
            np.add(cp, 2 * n, out=den)
        else:  # d = (b-c'-1-n)(n+1) / ((c'+2n+1)(c'+2n+2))
            np.subtract(b_minus_cp_1, n, out=num)
            num *= n + 1
            np.add(cp, 2 * n + 2, out=den)
        np.add(cp, 2 * n + 1, out=tmp)
        den *= tmp
        num *= z
        num /= den
        num /= tail
        np.add(num, 1.0, out=tail)
    return 1.0 / tail, converged


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
