"""The Pareto/NBD log-likelihood (FH05 eq. 22) of prepared data, and its gradient in one pass with it.

A likelihood evaluation's costly part is ``log 2F1(1, b; c; z)`` of every distinct (frequency, time) pair (see
:func:`clvlens.models._special.log_pareto_integral_term`); by forward differences a gradient costs four more
evaluations. :func:`loglik_and_gradient` sums the Gauss series together with its derivatives in ``b``, ``c`` and
``z`` (with ``T_{k+1} = T_k q_k``, ``q_k = (b + k) z / (c + k)``, the derivatives of ``T_{k+1}`` follow from those
of ``T_k``), so the value and the gradient come from one pass; the rare elements the series does not serve (``z``
above 0.75: the connection formula or the continued fraction) get theirs by central differences of
:func:`~clvlens.models._hyp2f1.log_hyp2f1_one` on those elements alone. The value is computed by the same
operations in the same order as :func:`pair_terms` and :func:`per_unit_loglik`, so a value and a gradient taken at
one point agree to the bit with the likelihood alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import special

from clvlens.models._hyp2f1 import _TINY, SERIES_TERMS, Z_SERIES, is_stopping_check, log_hyp2f1_one
from clvlens.models._special import log_pareto_integral_term

#: distinct pairs per block (the hypergeometric series keep many temporaries: blocks let the allocator reuse them
#: instead of faulting whole-column ones in afresh)
PAIR_BLOCK = 16_384


def pair_terms(r: float, alpha: float, s: float, beta: float, pairs: list[np.ndarray]) -> np.ndarray:
    """:func:`log_pareto_integral_term` of distinct (x, t) pairs, in blocks of :data:`PAIR_BLOCK`."""
    x, t = pairs
    out = np.empty(x.size)
    for start in range(0, x.size, PAIR_BLOCK):
        rows = slice(start, start + PAIR_BLOCK)
        out[rows] = log_pareto_integral_term(r, alpha, s, beta, x[rows], t[rows], exact=False)
    return out


def per_unit_loglik(params: np.ndarray, data: dict[str, Any], terms: np.ndarray) -> np.ndarray:
    """FH05 eq. (22) of each distinct (x, t_x, T) unit of ``data`` from its pairs' ``terms``."""
    constant, l1, l2, _, _ = _unit_parts(params, data, terms)
    return _combined(constant, l1, l2, data)


def _combined(constant: np.ndarray, l1: np.ndarray, l2: np.ndarray, data: dict[str, Any]) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return constant[data["xi"]] + np.logaddexp(l1, l2)


def _unit_parts(params: np.ndarray, data: dict[str, Any], terms: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per distinct frequency the constant ``log Gamma(r+x) - log Gamma(r) + r log alpha + s log beta``; per unit
    L1 (alive at T), L2 (died in (t_x, T]), log A0 and ``min(u2 - u1, 0)``."""
    r, alpha, s, beta = params
    x = data["units"][0]
    ux, xi = data["ux"], data["xi"]
    constant = special.gammaln(r + ux) - special.gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    u1, u2 = terms[data["at_tx"]], terms[data["at_T"]]
    ages, at_age = data["ages"], data["at_age"]
    l1 = -(r + x) * np.log(alpha + ages)[at_age]
    l1 -= (s * np.log(beta + ages))[at_age]
    with np.errstate(divide="ignore", invalid="ignore"):  # inf - inf at extreme trial parameters: NaN, rejected
        diff = np.minimum(u2 - u1, 0.0)
        log_a0 = u1 + np.log(-np.expm1(diff))
        l2 = log_a0 + (np.log(s) - np.log(r + s + ux))[xi]
    return constant, l1, l2, log_a0, diff


def _series_and_derivatives(b: np.ndarray, c: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, ...]:
    """``S = sum_k (b)_k / (c)_k z^k`` and ``dS/db``, ``dS/dc``, ``dS/dz`` for ``c > b > 0``, ``0 <= z <= 0.75``.

    ``S`` is summed by the operations of ``clvlens.models._hyp2f1._series`` in their order, and every element stops
    where that series stops it (same checks, same test), so ``S`` is that function's value to the bit. The
    derivative series converge with it: their terms are the value's times factors of the order of ``log k``."""
    n = z.size
    out = [np.ones(n), np.zeros(n), np.zeros(n), np.zeros(n)]
    live = np.arange(n)
    # term, its three derivatives, the four running sums, b + k, c + k, z and the stopping threshold
    state = [np.ones(n), np.zeros(n), np.zeros(n), np.zeros(n), np.ones(n), np.zeros(n), np.zeros(n),
             np.zeros(n), b.astype(float, copy=True), c.astype(float, copy=True), z, _TINY * (1.0 - z)]
    for k in range(SERIES_TERMS):
        term, d_b, d_c, d_z, total, sum_b, sum_c, sum_z, bk, ck, zs, threshold = state
        # dT_{k+1} = dT_k q_k + T_k dq_k, with dq/db = z/(c+k), dq/dc = -q/(c+k), dq/dz = (b+k)/(c+k)
        over_c = term / ck
        ratio = bk * zs
        ratio /= ck
        d_b *= ratio
        d_b += over_c * zs
        d_c -= over_c
        d_c *= ratio
        d_z *= ratio
        d_z += over_c * bk
        term *= bk
        term /= ck
        term *= zs
        total += term
        sum_b += d_b
        sum_c += d_c
        sum_z += d_z
        bk += 1.0
        ck += 1.0
        if is_stopping_check(k):
            keep = term > threshold * total
            if not keep.all():
                gone = live[~keep]
                for target, source in zip(out, (total, sum_b, sum_c, sum_z), strict=True):
                    target[gone] = source[~keep]
                live = live[keep]
                state = [v[keep] for v in state]
                if live.size == 0:
                    break
    for target, source in zip(out, state[4:8], strict=True):
        target[live] = source
    return tuple(out)


def log_hyp2f1_one_and_gradient(b: np.ndarray, c: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, ...]:
    """``log 2F1(1, b; c; z)`` (as :func:`log_hyp2f1_one` with ``exact=False``) and its partial derivatives in
    ``b``, ``c`` and ``z``, for 1-d arrays of one length with ``c > b > 0`` and ``0 <= z < 1``."""
    value, d_b, d_c, d_z = (np.empty(z.size) for _ in range(4))
    series = z <= Z_SERIES
    idx = np.flatnonzero(series)
    if idx.size:
        total, sum_b, sum_c, sum_z = _series_and_derivatives(b[idx], c[idx], z[idx])
        value[idx] = np.log(total)
        d_b[idx], d_c[idx], d_z[idx] = sum_b / total, sum_c / total, sum_z / total
    rest = np.flatnonzero(~series)
    if rest.size:
        br, cr, zr = b[rest], c[rest], z[rest]

        def at(bb: np.ndarray, cc: np.ndarray, zz: np.ndarray) -> np.ndarray:
            return log_hyp2f1_one(bb, cc, zz, exact=False)

        value[rest] = at(br, cr, zr)
        # relative steps (the values are accurate to about 1e-12, so a smaller step would amplify that), kept
        # within half the distance to the domain's edges so that c > b > 0 holds on both sides
        gap = 0.5 * (cr - br)
        step = np.minimum(1e-6 * np.maximum(br, 1.0), np.minimum(0.5 * br, gap))
        d_b[rest] = (at(br + step, cr, zr) - at(br - step, cr, zr)) / (2.0 * step)
        step = np.minimum(1e-6 * np.maximum(cr, 1.0), gap)
        d_c[rest] = (at(br, cr + step, zr) - at(br, cr - step, zr)) / (2.0 * step)
        step = 1e-6 * (1.0 - zr)  # the function changes on the scale of the distance to 1
        d_z[rest] = (at(br, cr, zr + step) - at(br, cr, zr - step)) / (2.0 * step)
    return value, d_b, d_c, d_z


def pair_terms_and_gradient(
    r: float, alpha: float, s: float, beta: float, x: np.ndarray, t: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`log_pareto_integral_term` of each (x, t) pair, by its operations, and its derivatives in
    (r, alpha, s, beta) as a (4, pairs) array."""
    r, alpha, s, beta = (np.asarray(v, dtype=float) for v in (r, alpha, s, beta))
    a_ge = bool(alpha >= beta)
    la, lb = np.log(alpha + t), np.log(beta + t)
    c = r + s + x + 1.0
    hi = alpha if a_ge else beta
    z = np.abs(alpha - beta) / (hi + t)
    b = r + x if a_ge else np.broadcast_to(s + 1.0, x.shape)
    h, h_b, h_c, h_z = log_hyp2f1_one_and_gradient(b, c, z)
    grad = np.empty((4, x.size))
    if a_ge:  # b = r + x, z = (alpha - beta) / (alpha + t)
        value = -(r + x) * la - s * lb + h
        grad[0] = -la + h_b + h_c
        grad[1] = -(r + x) / (alpha + t) + h_z * (beta + t) / (alpha + t) ** 2
        grad[2] = -lb + h_c
        grad[3] = -s / (beta + t) - h_z / (alpha + t)
    else:  # b = s + 1, z = (beta - alpha) / (beta + t)
        value = -(r + x - 1.0) * la - (s + 1.0) * lb + h
        grad[0] = -la + h_c
        grad[1] = -(r + x - 1.0) / (alpha + t) - h_z / (beta + t)
        grad[2] = -lb + h_b + h_c
        grad[3] = -(s + 1.0) / (beta + t) + h_z * (alpha + t) / (beta + t) ** 2
    return value, grad


def loglik_and_gradient(params: np.ndarray, data: dict[str, Any],
                        rows_of: Callable[[np.ndarray, dict[str, Any]], np.ndarray]) -> tuple[float, np.ndarray]:
    """``sum(w * per-row log-likelihood)`` over ``data`` (see ``ParetoNBD._prepare``) and its gradient in
    (r, alpha, s, beta). ``rows_of(per_unit, data)`` spreads per-unit values to the rows, as the likelihood does."""
    r, alpha, s, beta = params
    x_pairs, t_pairs = data["pairs"]
    terms = np.empty(x_pairs.size)
    term_grad = np.empty((4, x_pairs.size))
    for start in range(0, x_pairs.size, PAIR_BLOCK):  # the blocks of pair_terms, so the terms are its own
        rows = slice(start, start + PAIR_BLOCK)
        terms[rows], term_grad[:, rows] = pair_terms_and_gradient(r, alpha, s, beta, x_pairs[rows], t_pairs[rows])
    constant, l1, l2, log_a0, gap = _unit_parts(params, data, terms)
    total = float(np.sum(data["w"] * rows_of(_combined(constant, l1, l2, data), data)))

    # d logaddexp(l1, l2) = (1 - share) dl1 + share dl2, share = P(died before T | the data); each unit's weight
    # in each part is summed per pair, age and frequency first, where the derivatives live
    x = data["units"][0]
    ux, xi, ages, at_age = data["ux"], data["xi"], data["ages"], data["at_age"]
    unit_w = data["unit_w"]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        dies = np.isfinite(log_a0)  # t_x = T leaves no time to die unseen: A0 = 0 and no such term
        died = np.where(dies, unit_w * special.expit(l2 - l1), 0.0)
        # d log A0 = (1 + q) du1 - q du2, q = e^gap / (1 - e^gap)
        q = np.where(dies, 1.0 / np.expm1(-gap), 0.0)
    alive = unit_w - died
    pairs = x_pairs.size
    per_pair = (np.bincount(data["at_tx"], weights=died * (1.0 + q), minlength=pairs)
                - np.bincount(data["at_T"], weights=died * q, minlength=pairs))
    from_pairs = term_grad @ per_pair
    alive_at = np.bincount(at_age, weights=alive, minlength=ages.size)
    alive_x_at = np.bincount(at_age, weights=alive * x, minlength=ages.size)
    weight_x = np.bincount(xi, weights=unit_w, minlength=ux.size)
    died_x = np.bincount(xi, weights=died, minlength=ux.size)
    weight = float(unit_w.sum())
    inv_rsx = 1.0 / (r + s + ux)
    gradient = np.array([
        weight_x @ (special.digamma(r + ux) - special.digamma(r)) + weight * np.log(alpha)
        - alive_at @ np.log(alpha + ages) + from_pairs[0] - died_x @ inv_rsx,
        weight * r / alpha - (r * alive_at + alive_x_at) @ (1.0 / (alpha + ages)) + from_pairs[1],
        weight * np.log(beta) - alive_at @ np.log(beta + ages) + from_pairs[2] + died_x.sum() / s - died_x @ inv_rsx,
        weight * s / beta - s * alive_at @ (1.0 / (beta + ages)) + from_pairs[3],
    ])
    return total, gradient
