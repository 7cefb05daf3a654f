"""Scorecard metrics of predicted against actual per-customer values, written from their definitions.

Ranking metrics treat tied predictions fairly: customers with equal predictions form one block, and the gain curve
runs straight across a block (the expected curve when ties are broken at random), so no model gains from the
order its ties happen to be in.

- gain curve: x = share of customers taken in order of decreasing prediction, y = share of the actual total;
- captured share at q: the gain curve at x = q (e.g. the top 10% of predicted customers hold y of the revenue);
- Gini: 2 x (area under the gain curve) - 1; normalized Gini: Gini of the prediction / Gini of the actual values
  themselves (a perfect ranking scores 1, a random one 0);
- deciles: customers ranked by prediction (average ranks, so ties share a decile), decile 10 = highest predicted.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

GAIN_GRID = np.linspace(0.0, 1.0, 101)

#: bytes of sorted results (ranks, gain curves) kept for reuse; arrays over a quarter of it are not kept
MEMO_BYTES = 64 * 2**20
_memo: OrderedDict[tuple[str, bytes], Any] = OrderedDict()
_memo_sizes: dict[tuple[str, bytes], int] = {}
_memo_lock = threading.Lock()


def _memoised(kind: str, arrays: tuple[np.ndarray, ...], compute: Callable[[], Any]) -> Any:
    """``compute()``, or the result kept from an earlier call of the same kind on arrays of the same content.

    The scorecard ranks the same arrays many times: every contender against the same actual values (in the whole
    sample and in each random group of the standard errors), and a prediction for its deciles, its Spearman
    correlation and its gain table. Sorting is most of that cost; the kept results are the same numbers
    (read-only arrays), found by a digest of the arrays' bytes, the least recently used dropped past
    :data:`MEMO_BYTES`."""
    digest = hashlib.blake2b(digest_size=20)
    for array in arrays:
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(np.ascontiguousarray(array).data)
    key = (kind, digest.digest())
    with _memo_lock:
        if key in _memo:
            _memo.move_to_end(key)
            return _memo[key]
    value = compute()
    parts = value if isinstance(value, tuple) else (value,)
    size = 0
    for part in parts:
        part.setflags(write=False)
        size += part.nbytes
    if size <= MEMO_BYTES // 4:
        with _memo_lock:
            if key not in _memo:
                _memo[key], _memo_sizes[key] = value, size
                total = sum(_memo_sizes.values())
                while total > MEMO_BYTES:
                    old, _ = _memo.popitem(last=False)
                    total -= _memo_sizes.pop(old)
    return value


def rank_average(values: Any) -> np.ndarray:
    """Ranks 1..n with ties given their mean rank, as floats: ``scipy.stats.rankdata``'s default (method
    "average", NaN propagated to every rank), computed here because importing SciPy's statistics costs a run
    about 0.4 s of CPU for this one function."""
    x = np.asarray(values, dtype=float).ravel()
    if np.isnan(x).any():
        return np.full(x.size, np.nan)
    order = np.argsort(x)
    ordered = x[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])  # where each group of equal values starts
    ends = np.r_[starts[1:], x.size]
    ranks = np.empty(x.size)
    ranks[order] = np.repeat(0.5 * (starts + ends + 1), ends - starts)
    return ranks


def average_ranks(values: np.ndarray) -> np.ndarray:
    """:func:`rank_average` of ``values``, kept for reuse (read-only)."""
    x = np.asarray(values, dtype=float).ravel()
    return _memoised("ranks", (x,), lambda: rank_average(x))  # type: ignore[no-any-return]


def _pair(predicted: np.ndarray, actual: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(predicted, dtype=float).ravel()
    a = np.asarray(actual, dtype=float).ravel()
    if p.shape != a.shape:
        raise ValueError(f"predicted has {p.size} values but actual has {a.size}")
    return p, a


def mae(predicted: np.ndarray, actual: np.ndarray) -> float:
    """Mean absolute error."""
    p, a = _pair(predicted, actual)
    return float(np.mean(np.abs(p - a))) if p.size else math.nan


def rmse(predicted: np.ndarray, actual: np.ndarray) -> float:
    """Root mean squared error."""
    p, a = _pair(predicted, actual)
    return float(np.sqrt(np.mean((p - a) ** 2))) if p.size else math.nan


def bias(predicted: np.ndarray, actual: np.ndarray) -> float:
    """Mean of predicted - actual (positive: over-prediction)."""
    p, a = _pair(predicted, actual)
    return float(np.mean(p - a)) if p.size else math.nan


def gain_curve(predicted: np.ndarray, actual: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points (customer share, actual share) at the end of each block of tied predictions, starting at (0, 0).
    The arrays are read-only (kept for reuse)."""
    p, a = _pair(predicted, actual)
    return _memoised("gain", (p, a), lambda: _gain_curve(p, a))  # type: ignore[no-any-return]


def _gain_curve(p: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    total = a.sum()
    if p.size == 0 or total <= 0:
        return np.array([0.0, 1.0]), np.array([math.nan, math.nan])
    order = np.argsort(-p, kind="stable")
    ps, cum = p[order], np.cumsum(a[order])
    ends = np.append(np.flatnonzero(ps[1:] != ps[:-1]), p.size - 1)
    x = np.append(0.0, (ends + 1) / p.size)
    y = np.append(0.0, cum[ends] / total)
    return x, y


def captured_share(predicted: np.ndarray, actual: np.ndarray, top: float) -> float:
    """Share of the actual total held by the ``top`` share (e.g. 0.1) of customers by prediction."""
    x, y = gain_curve(predicted, actual)
    return float(np.interp(top, x, y))


def gini(predicted: np.ndarray, actual: np.ndarray) -> float:
    """2 x area under the gain curve - 1 (trapezoids, exact for the straight runs across ties)."""
    return _gini_of_curve(*gain_curve(predicted, actual))


def _gini_of_curve(x: np.ndarray, y: np.ndarray) -> float:
    return float(2.0 * np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2.0) - 1.0)


def normalized_gini(predicted: np.ndarray, actual: np.ndarray) -> float:
    """Gini of the prediction's ranking divided by that of the perfect ranking (NaN when undefined)."""
    best = gini(actual, actual)
    if not math.isfinite(best) or best <= 0:
        return math.nan
    return gini(predicted, actual) / best


def spearman(predicted: np.ndarray, actual: np.ndarray) -> float:
    """Spearman rank correlation (NaN when either side is constant)."""
    p, a = _pair(predicted, actual)
    if p.size < 2 or np.all(p == p[0]) or np.all(a == a[0]) or np.isnan(p).any() or np.isnan(a).any():
        return math.nan
    # scipy.stats.spearmanr's statistic, computed as it does (the Pearson correlation of the two columns of
    # average ranks), from ranks that the deciles and the other contenders share
    ranked = np.column_stack((average_ranks(p), average_ranks(a)))
    return float(np.corrcoef(ranked, rowvar=False)[1, 0])


def deciles(predicted: np.ndarray) -> np.ndarray:
    """Decile 1-10 of each customer by prediction (10 = highest); ties share a decile (average ranks)."""
    p = np.asarray(predicted, dtype=float).ravel()
    if p.size == 0:
        return np.zeros(0, dtype=np.int64)
    ranks = average_ranks(p)
    return np.clip(np.ceil(ranks * 10.0 / p.size), 1, 10).astype(np.int64)


def decile_table(predicted: np.ndarray, actual: np.ndarray) -> dict[str, np.ndarray]:
    """Per decile of prediction: customers, mean predicted, mean actual, MAE (empty deciles left out)."""
    p, a = _pair(predicted, actual)
    d = deciles(p)
    rows: dict[str, list[float]] = {"decile": [], "customers": [], "mean_predicted": [], "mean_actual": [],
                                    "mae": []}
    for k in range(1, 11):
        mask = d == k
        if not mask.any():
            continue
        rows["decile"].append(k)
        rows["customers"].append(int(mask.sum()))
        rows["mean_predicted"].append(float(p[mask].mean()))
        rows["mean_actual"].append(float(a[mask].mean()))
        rows["mae"].append(float(np.abs(p[mask] - a[mask]).mean()))
    return {k: np.asarray(v) for k, v in rows.items()}


def value_metrics(predicted: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    """Every value metric of the scorecard for one model."""
    table = decile_table(predicted, actual)
    calibration = np.abs(table["mean_predicted"] - table["mean_actual"])
    p, a = _pair(predicted, actual)
    x, y = gain_curve(p, a)  # once for the captured shares and the Gini (the scorecard computes these often)
    best = _gini_of_curve(*gain_curve(a, a))
    return {
        "mae_value": mae(p, a),
        "rmse_value": rmse(p, a),
        "bias_value": bias(p, a),
        "top10_share": float(np.interp(0.1, x, y)),
        "top20_share": float(np.interp(0.2, x, y)),
        "gini_norm": _gini_of_curve(x, y) / best if math.isfinite(best) and best > 0 else math.nan,
        "spearman": spearman(p, a),
        "decile_calibration_mae": float(calibration.mean()) if calibration.size else math.nan,
        "predicted_total": float(p.sum()),
        "actual_total": float(a.sum()),
    }


def purchase_metrics(predicted: np.ndarray | None, actual: np.ndarray) -> dict[str, float]:
    """MAE, RMSE and bias of purchases; NaN for a model without a purchase prediction."""
    if predicted is None:
        return {"mae_purchases": math.nan, "rmse_purchases": math.nan, "bias_purchases": math.nan}
    return {
        "mae_purchases": mae(predicted, actual),
        "rmse_purchases": rmse(predicted, actual),
        "bias_purchases": bias(predicted, actual),
    }


def gains_on_grid(predicted: np.ndarray, actual: np.ndarray, grid: np.ndarray = GAIN_GRID) -> np.ndarray:
    """The gain curve read at each customer share of ``grid``."""
    x, y = gain_curve(predicted, actual)
    return np.interp(grid, x, y)


# --------------------------------------------------------------------------------------------- activity (health)
def auc(score: np.ndarray, bought: np.ndarray) -> float:
    """Area under the ROC curve of ``score`` ranking buyers (``bought`` true) above the others: the Mann-Whitney
    statistic with average ranks for ties (0.5 = no better than chance). NaN when one class is empty."""
    s = np.asarray(score, dtype=float)
    y = np.asarray(bought, dtype=bool)
    positives = int(y.sum())
    negatives = y.size - positives
    if positives == 0 or negatives == 0 or not np.all(np.isfinite(s)):
        return math.nan
    ranks = average_ranks(s)
    return float((ranks[y].sum() - positives * (positives + 1) / 2.0) / (positives * negatives))


def brier(probability: np.ndarray, bought: np.ndarray) -> float:
    """Mean squared difference between a probability and the 0/1 outcome (lower is better)."""
    p = np.asarray(probability, dtype=float)
    return float(np.mean((p - np.asarray(bought, dtype=float)) ** 2)) if p.size else math.nan


def calibration_error(probability: np.ndarray, bought: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: over ten bins of equal width in probability, the customer-weighted mean of
    |mean predicted - observed share of buyers|."""
    p = np.asarray(probability, dtype=float)
    y = np.asarray(bought, dtype=float)
    if p.size == 0:
        return math.nan
    which = np.minimum((p * bins).astype(int), bins - 1)
    counts = np.bincount(which, minlength=bins)
    gap = np.abs(np.bincount(which, weights=p, minlength=bins) - np.bincount(which, weights=y, minlength=bins))
    return float(gap.sum() / counts.sum())


def activity_metrics(score: np.ndarray | None, bought: np.ndarray, probability: bool = True) -> dict[str, float]:
    """health_auc, health_brier, health_calibration_error and health_mean (mean score) of a health score against
    who bought in the window; Brier and calibration are NaN for a score that is not a probability."""
    keys = ("health_auc", "health_brier", "health_calibration_error", "health_mean")
    if score is None:
        return dict.fromkeys(keys, math.nan)
    s = np.asarray(score, dtype=float)
    return dict(zip(keys, (
        auc(s, bought),
        brier(s, bought) if probability else math.nan,
        calibration_error(s, bought) if probability else math.nan,
        float(np.mean(s)) if s.size else math.nan,
    ), strict=True))
