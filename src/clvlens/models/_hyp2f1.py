"""The Gauss hypergeometric function with first parameter 1, ``2F1(1, b; c; z)`` for ``c > b > 0`` and
``0 <= z < 1``, which every Pareto/NBD likelihood evaluation needs twice per customer.

Three evaluations, chosen per element: the Gauss series while ``z <= 0.75``; near ``z = 1`` the connection
formula to ``1 - z`` (DLMF 15.8.4), whose series converges fast there; and Gauss's continued fraction where
that formula would cancel (``c - 1 - b`` close to an integer). scipy's ``hyp2f1`` and then mpmath catch the
rest. The loops over many elements work in place: on 1e5-element arrays a fresh temporary per operation costs
several times the arithmetic. Over a few hundred elements the continued fraction works a block of levels at a
time instead, where the count of operations costs more than their size.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from scipy import special

from clvlens.errors import ClvlensError

__all__ = ["SLOW_PATH", "hyp2f1_fallback", "hyp2f1_one_continued_fraction", "log_hyp2f1_one"]

_MAX_SLOW_EVALUATIONS = 500
_MAX_TERMS = 20_000  # mpmath series terms per value (its own default is 6,000 per attempt, retried upwards)
SLOW_PATH_BUDGET_SECONDS = 5.0
#: process-wide counters of the arbitrary-precision path: calls, values evaluated, budgets exhausted
SLOW_PATH: dict[str, int] = {"calls": 0, "evaluations": 0, "exhausted": 0}
_TINY = 1e-17  # a term below this share of the sum no longer changes it
#: terms the Gauss series sums at most, and the largest z it is used for (beyond it: the near-1 methods)
SERIES_TERMS = 400
Z_SERIES = 0.75
#: elements up to which the continued fraction computes its partial numerators a block of levels at a time, and
#: levels x elements in a block (8 bytes each: 128 KiB). Beyond a few hundred elements the in-place loop is faster
#: (bench/bench_hyp2f1.py)
BLOCKS_UP_TO = 512
BLOCK_ELEMENTS = 2**14


def is_stopping_check(k: int, max_terms: int = SERIES_TERMS) -> bool:
    """Whether the series tests for converged elements after term ``k``: the first check after a dense phase of
    12 terms (enough for most elements when x is small), then every 8 terms, and after the last."""
    return (k >= 11 and k % 8 == 3) or k == max_terms - 1


def _series(
    b: np.ndarray, e: np.ndarray, x: np.ndarray, min_terms: np.ndarray | None = None,
    max_terms: int = SERIES_TERMS,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``sum_k (b)_k / (e)_k x^k`` (the series of ``2F1(1, b; e; x)``), the sum of the terms' magnitudes
    (a measure of cancellation; the sum itself when ``e > 0``) and a mask of the converged elements.

    An element stops once it has ``min_terms`` terms and its latest term is below ``_TINY (1 - x)`` of its sum
    (the geometric bound of the rest when the term ratio tends to ``x``); terms may change sign when ``e < 0``.
    ``b`` and ``e`` are advanced in place (the caller passes copies).
    """
    n = x.size
    signed = bool(np.any(e < 0))
    # until the first element converges the running sums are the outputs themselves (no scatter needed)
    total = np.ones(n)
    magnitude = np.ones(n) if signed else total
    live = np.arange(n)
    tracked = [np.ones(n), b, e, x, total, _TINY * (1.0 - x)]
    if signed:
        tracked.append(magnitude)
    if min_terms is not None:
        tracked.append(min_terms)
    compacted = False
    for k in range(max_terms):
        term, bk, ek, xs, sums = tracked[:5]
        term *= bk
        term /= ek
        term *= xs
        sums += term
        if signed:
            tracked[6] += np.abs(term)
        bk += 1.0
        ek += 1.0
        if is_stopping_check(k, max_terms):
            keep = (np.abs(term) > tracked[5] * np.abs(sums)) if signed else (term > tracked[5] * sums)
            if min_terms is not None:
                keep |= k + 1 < tracked[-1]
            if not keep.all():
                if compacted:
                    gone = live[~keep]
                    total[gone] = sums[~keep]
                    if signed:
                        magnitude[gone] = tracked[6][~keep]
                live = live[keep]
                tracked = [v[keep] for v in tracked]
                compacted = True
                if live.size == 0:
                    break
    if compacted:
        total[live] = tracked[4]
        if signed:
            magnitude[live] = tracked[6]
    converged = np.ones(n, dtype=bool)
    converged[live] = False
    return total, magnitude, converged


def _near_one(b: np.ndarray, c: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``2F1(1, b; c; z)`` for ``z`` near 1 by the connection formula, and a mask of the elements it served.

    DLMF 15.8.4 with ``a = 1``, ``g = c - 1 - b``, ``y = 1 - z`` and ``2F1(c-1, c-b; c-b; y) = z^(1-c)``:
    ``2F1(1, b; c; z) = (c-1)/g 2F1(1, b; 1-g; y) + y^g z^(1-c) Gamma(c) Gamma(-g) / Gamma(b)``.
    The series in ``y`` converges like ``y^k`` where the continued fraction needs thousands of terms. Tried
    where ``y <= 0.25`` and ``g`` is at least 0.05 from an integer and not in (0, 0.5), and kept where the
    terms cancel by less than a factor of 100 (large ``b y`` makes both terms huge). For ``g > 1`` the
    denominators ``(1 - g)_k`` shrink towards ``k = g - 1`` and change sign there, so the terms fall into a trough
    and grow again past it, as long as the term ratio ``(b + k) y / (1 - g + k)`` exceeds 1, that is up to
    ``k = (b y + g - 1) / (1 - y)``: every element sums that many terms before its stopping test can end it (an
    element whose peak lies beyond the series' 400 terms is left to the continued fraction). Stopping in the
    trough lost what came after it: 1.1% of the value at ``b = 27.8``, ``c = 85.6``, ``z = 0.767``.
    """
    y = 1.0 - z
    g = c - 1.0 - b
    served = (y <= 0.25) & (np.abs(g - np.round(g)) >= 0.05) & ((g < 0.0) | (g >= 0.5))
    out = np.full(z.shape, np.nan)
    idx = np.flatnonzero(served)
    if idx.size == 0:
        return out, served
    bs, cs, gs, ys, zs = b[idx], c[idx], g[idx], y[idx], z[idx]
    series, magnitude, converged = _series(
        bs.copy(), 1.0 - gs, ys, np.ceil(np.maximum((bs * ys + gs - 1.0) / (1.0 - ys), 0.0)) + 1.0
    )
    log_second = (gs * np.log(ys) + (1.0 - cs) * np.log(zs) + special.gammaln(cs) + special.gammaln(-gs)
                  - special.gammaln(bs))
    first = (cs - 1.0) / gs
    second = np.exp(log_second)
    value = first * series + special.gammasgn(-gs) * second
    # accepted where the terms cancel by less than a factor of 100 (at most two digits lost) and the value
    # lies in its bracket [1, 1/y]; the rest is left to the continued fraction
    spread = np.abs(first) * magnitude + second
    good = (converged & np.isfinite(value) & (spread <= 100.0 * value) & (value >= 1.0 - 1e-12)
            & (value * ys <= 1.0 + 1e-12))
    out[idx[good]] = value[good]
    served[idx[~good]] = False
    return out, served


def log_hyp2f1_one(
    b: np.ndarray, c: np.ndarray, z: np.ndarray, z_series: float = Z_SERIES, exact: bool = True
) -> np.ndarray:
    """``log 2F1(1, b; c; z)`` for ``0 <= z < 1`` and ``c > b > 0``.

    With these arguments every term of the Gauss series ``sum_k prod_{j<k} (b+j)/(c+j) z^k`` is positive
    and the value lies in ``[1, 1/(1-z)]``. For ``z <= z_series`` the series is summed directly (term ratio
    below ``z``: at most ~130 terms for 1e-16, several times faster than :func:`scipy.special.hyp2f1`). Larger
    ``z`` goes to :func:`_near_one`, then :func:`hyp2f1_one_continued_fraction`, and anything still
    unconverged to scipy (and, with ``exact``, mpmath).
    """
    b, c, z = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (b, c, z)))
    out = np.empty(z.shape)
    flat_out = out.reshape(-1)
    bf, cf, zf = b.reshape(-1), c.reshape(-1), z.reshape(-1)
    use_series = zf <= z_series
    idx = np.flatnonzero(use_series)
    if idx.size:
        every = idx.size == zf.size
        total, _, converged = _series(
            bf.copy() if every else bf[idx], cf.copy() if every else cf[idx], zf if every else zf[idx]
        )
        flat_out[idx] = np.log(total)
        use_series[idx[~converged]] = False  # cannot happen for z <= 0.75 within 400 terms
    rest = np.flatnonzero(~use_series)
    if rest.size:
        br, cr, zr = bf[rest], cf[rest], zf[rest]
        val, done = _near_one(br, cr, zr)
        todo = np.flatnonzero(~done)
        if todo.size:
            fraction, converged = hyp2f1_one_continued_fraction(br[todo], cr[todo], zr[todo])
            converged &= np.isfinite(fraction)
            fraction[~converged] = np.nan
            stuck = todo[~converged]
            if stuck.size:
                retry = special.hyp2f1(1.0, br[stuck], cr[stuck], zr[stuck])
                if exact and not np.all(np.isfinite(retry)):
                    retry = hyp2f1_fallback(retry, 1.0, br[stuck], cr[stuck], zr[stuck])
                fraction[~converged] = retry
            val[todo] = fraction
        # The value is bracketed by 1 and 1/(1-z); clip guards a rare inaccurate evaluation.
        upper = 1.0 / np.maximum(1.0 - zr, 1e-300)
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
    fraction is evaluated bottom-up. Returns the values and a mask of the elements whose depth fitted within
    ``max_terms`` (the others are left for another method).
    """
    root = np.sqrt(np.maximum(1.0 - z, 0.0))
    ratio = ((1.0 - root) / (1.0 + root)) ** 2
    needed = 2.0 * np.ceil(37.0 / np.maximum(-np.log(np.maximum(ratio, 1e-300)), 1e-12)) + 20.0
    converged = needed <= max_terms
    depth = int(min(np.max(needed, initial=2.0), max_terms))
    b, c, z = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (b, c, z)))
    shape = z.shape
    b, c, z = b.reshape(-1), c.reshape(-1), z.reshape(-1)
    evaluate = _bottom_up_in_blocks if z.size <= BLOCKS_UP_TO else _bottom_up_in_place
    return (1.0 / evaluate(b, c, z, depth)).reshape(shape), converged


def _bottom_up_in_place(b: np.ndarray, c: np.ndarray, z: np.ndarray, depth: int) -> np.ndarray:
    """The fraction's denominator ``1 + d_1 z / (1 + ...)`` from level ``depth`` up, a level at a time in place:
    near ``z = 1`` this loop runs thousands of times over every element."""
    cp = c - 1.0
    b_minus_cp_1 = b - c
    tail = np.ones(z.shape)
    num, den, tmp = np.empty(z.shape), np.empty(z.shape), np.empty(z.shape)
    for m in range(depth, 0, -1):
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
    return tail


def _bottom_up_in_blocks(b: np.ndarray, c: np.ndarray, z: np.ndarray, depth: int) -> np.ndarray:
    """:func:`_bottom_up_in_place` for few elements, with the same roundings: the partial numerators ``d_m z`` of
    a block of levels are computed at once (:func:`_partial_numerators`), so that the sequential pass costs two
    operations a level. A Pareto/NBD fit calls this hundreds of times on a few hundred elements at depths of
    several hundred, where the time goes to the number of array operations, not to their size. The factors of
    ``d_m`` depend on ``b`` and ``c`` alone, which that likelihood shares between the customers of one frequency:
    they are computed once per distinct pair, on the elements ordered by pair."""
    order, runs = _pair_runs(b, c)
    first = order[runs[:-1]]
    b_first, c_first = b[first], c[first]
    cp = c_first - 1.0
    b_minus_cp_1 = b_first - c_first
    ordered_z = z[order]
    counts = np.diff(runs)
    tail = np.ones(z.shape)
    levels_per_block = max(1, BLOCK_ELEMENTS // max(z.size, 1))
    for top in range(depth, 0, -levels_per_block):
        levels = np.arange(top, max(top - levels_per_block, 0), -1)
        for numerator in _partial_numerators(levels, b_first, cp, b_minus_cp_1, ordered_z, counts):
            np.divide(numerator, tail, out=tail)
            tail += 1.0
    in_given_order = np.empty(z.shape)
    in_given_order[order] = tail
    return in_given_order


def _pair_runs(b: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The elements ordered by their ``(b, c)`` pair, and where each distinct pair's run starts in that order (the
    element count appended)."""
    order = np.lexsort((c, b))
    ordered_b, ordered_c = b[order], c[order]
    starts = np.ones(b.size, dtype=bool)
    starts[1:] = (ordered_b[1:] != ordered_b[:-1]) | (ordered_c[1:] != ordered_c[:-1])
    return order, np.append(np.flatnonzero(starts), b.size)


def _partial_numerators(
    levels: np.ndarray, b: np.ndarray, cp: np.ndarray, b_minus_cp_1: np.ndarray, z: np.ndarray, counts: np.ndarray,
) -> np.ndarray:
    """``d_m z`` for each level ``m`` of ``levels`` (consecutive, one row per level, one column per element of
    ``z``), each rounded as :func:`_bottom_up_in_place` rounds it. ``b``, ``cp`` and ``b_minus_cp_1`` hold one
    value per distinct pair, and ``counts`` how many consecutive elements of ``z`` have each pair."""
    numerator = np.empty((levels.size, b.size))
    denominator = np.empty((levels.size, b.size))
    for parity in (0, 1):  # the levels alternate between the two forms of d
        rows = slice(parity, None, 2)
        m = levels[rows]
        if m.size == 0:
            continue
        n = ((m - 1) // 2).astype(float)[:, None]
        if m[0] % 2:
            np.multiply(cp + n, b + n, out=numerator[rows])
            np.negative(numerator[rows], out=numerator[rows])
            np.multiply(cp + 2.0 * n, cp + (2.0 * n + 1.0), out=denominator[rows])
        else:
            np.multiply(b_minus_cp_1 - n, n + 1.0, out=numerator[rows])
            np.multiply(cp + (2.0 * n + 2.0), cp + (2.0 * n + 1.0), out=denominator[rows])
    if b.size < z.size:
        numerator = np.repeat(numerator, counts, axis=1)
        denominator = np.repeat(denominator, counts, axis=1)
    numerator *= z
    numerator /= denominator
    return numerator


def hyp2f1_fallback(f: np.ndarray, A: Any, B: Any, C: Any, z: Any) -> np.ndarray:
    """Re-evaluate with mpmath the (rare) elements scipy's hyp2f1 returns as non-finite, within a budget.

    Arbitrary precision costs a millisecond a value at ordinary parameters and minutes at extreme ones, so
    it is bounded three ways: at most ``_MAX_SLOW_EVALUATIONS`` elements per call, ``_MAX_TERMS`` series terms
    per element and ``SLOW_PATH_BUDGET_SECONDS`` per call. When the budget runs out the call raises a one-line
    ClvlensError (callers degrade with that reason) and ``SLOW_PATH["exhausted"]`` counts it.
    """
    f, A, B, C, z = np.broadcast_arrays(f, A, B, C, z)
    out = np.array(f, dtype=float)
    bad = ~np.isfinite(out)
    try:
        import mpmath
    except ImportError:  # pragma: no cover
        raise ClvlensError("params: too extreme for scipy's hyp2f1; refit with penalizer_coef > 0") from None
    count = int(np.count_nonzero(bad))
    if count == 0:
        return out
    SLOW_PATH["calls"] += 1
    if count > _MAX_SLOW_EVALUATIONS:
        SLOW_PATH["exhausted"] += 1
        raise ClvlensError(
            f"params: {count} hypergeometric values overflow at these parameters (the arbitrary-precision "
            f"budget is {_MAX_SLOW_EVALUATIONS}); refit with penalizer_coef > 0 (e.g. 0.01)"
        )
    deadline = time.monotonic() + SLOW_PATH_BUDGET_SECONDS
    for i in zip(*np.nonzero(bad), strict=True):
        if time.monotonic() > deadline:
            SLOW_PATH["exhausted"] += 1
            raise ClvlensError(
                f"params: arbitrary-precision hypergeometric values took over {SLOW_PATH_BUDGET_SECONDS:g} s "
                "at these parameters; refit with penalizer_coef > 0 (e.g. 0.01)"
            )
        SLOW_PATH["evaluations"] += 1
        try:
            out[i] = float(mpmath.hyp2f1(float(A[i]), float(B[i]), float(C[i]), float(z[i]), maxterms=_MAX_TERMS))
        except (mpmath.libmp.NoConvergence, ValueError, ZeroDivisionError):
            SLOW_PATH["exhausted"] += 1
            raise ClvlensError(
                "params: the hypergeometric function does not converge at these parameters; "
                "refit with penalizer_coef > 0 (e.g. 0.01)"
            ) from None
    return out
