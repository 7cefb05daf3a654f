"""Model-checking data as plain numpy/dict structures (drawn by :mod:`clvlens.charts.model_plots`).

The checks follow Fader, Hardie & Lee (2005), figures 1-4: frequency histogram vs model, cumulative and
incremental tracking of repeat transactions, and conditional expectations vs holdout by calibration frequency.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from clvlens.errors import ClvlensError
from clvlens.models._base import BaseModel, as_float_array

__all__ = ["alive_matrix", "calibration_vs_holdout", "frequency_pmf", "tracking"]


def calibration_vs_holdout(
    model: BaseModel, frequency: Any, recency: Any, T: Any, holdout_frequency: Any, holdout_duration: float,
    max_frequency: int = 7,
) -> dict[str, np.ndarray]:
    """Mean actual vs predicted holdout purchases by calibration frequency (last bin = ``max_frequency``+)."""
    x, tx, TT = model._cols3(frequency, recency, T)  # type: ignore[attr-defined]
    hold = as_float_array("holdout_frequency", holdout_frequency)
    if hold.shape != x.shape:
        raise ClvlensError(f"holdout_frequency: has {hold.size} rows but frequency has {x.size}")
    pred = model.conditional_expected_number_of_purchases_up_to_time(holdout_duration, x, tx, TT)  # type: ignore[attr-defined]
    b = np.minimum(x, max_frequency).astype(int)
    count = np.bincount(b, minlength=max_frequency + 1).astype(float)
    safe = np.maximum(count, 1)
    return {
        "frequency": np.arange(max_frequency + 1),
        "count": count,
        "actual": np.bincount(b, weights=hold, minlength=max_frequency + 1) / safe,
        "predicted": np.bincount(b, weights=pred, minlength=max_frequency + 1) / safe,
    }


def frequency_pmf(model: BaseModel, frequency: Any, T: Any, max_frequency: int = 7) -> dict[str, np.ndarray]:
    """Observed customers by repeat frequency vs the model's expected count sum_i P(X(T_i) = x).

    Uses the model's ``probability_of_n_purchases_up_to_time`` (BG/NBD and MBG/NBD: FHL 2005 eq. 8;
    Pareto/NBD: :func:`clvlens.models.paretonbd.prob_n_purchases`). The last bin pools ``max_frequency`` and
    above.
    """
    x = as_float_array("frequency", frequency)
    TT = as_float_array("T", T)
    uT, counts = np.unique(TT[TT > 0], return_counts=True)
    k = np.arange(max_frequency)
    probs = model.probability_of_n_purchases_up_to_time(uT[:, None], k[None, :])  # type: ignore[attr-defined]
    expected = counts @ probs
    expected = np.append(expected, counts.sum() - expected.sum())
    b = np.minimum(x[TT > 0], max_frequency).astype(int)
    observed = np.bincount(b, minlength=max_frequency + 1)
    return {"frequency": np.arange(max_frequency + 1), "observed": observed,
            "expected": expected}


def tracking(
    model: BaseModel, first_purchase_times: Any, end_time: float, step: float = 1.0,
    repeat_purchase_times: Any = None, times_are: str = "start",
) -> dict[str, np.ndarray]:
    """Cumulative and incremental expected repeat transactions of a cohort over calendar time.

    ``first_purchase_times`` are in the model's time unit from a common origin; expected cumulative repeats
    at time t are ``sum_i E[X(t - s_i)]`` (FHL 2005 eq. 7). If ``repeat_purchase_times`` (same origin) are
    given, the actual cumulative counts are included.

    Period semantics: each row is the *end* of a step, time t = k * step. With ``times_are="start"`` (the
    default) a purchase time is the start of the period it happened in (a date: day d is [d, d + 1)), so the
    count at t holds the purchases with time < t; a purchase stamped exactly t happened after the row's end.
    With ``times_are="end"`` times are period ends and the count holds times <= t. (Counting start times with
    <= t would credit the purchases of the day starting at t to the period that ends there.)
    """
    s = as_float_array("first_purchase_times", first_purchase_times)
    if not (np.all(np.isfinite(s)) and np.isfinite(end_time) and step > 0):
        raise ClvlensError("first_purchase_times: must be finite, with a finite end_time and step > 0")
    if times_are not in ("start", "end"):
        raise ClvlensError(f"times_are: {times_are!r} must be 'start' (period starts) or 'end' (period ends)")
    times = np.arange(step, end_time + step / 2, step)
    us, cnt = np.unique(s, return_counts=True)
    age = np.maximum(times[None, :] - us[:, None], 0.0)
    ex = model.expected_number_of_purchases_up_to_time(age)  # type: ignore[attr-defined]
    cum = cnt @ ex
    out = {"time": times, "expected_cumulative": cum, "expected_incremental": np.diff(cum, prepend=0.0)}
    if repeat_purchase_times is not None:
        rp = np.sort(as_float_array("repeat_purchase_times", repeat_purchase_times))
        side = "left" if times_are == "start" else "right"
        actual = np.searchsorted(rp, times, side=side).astype(float)
        out["actual_cumulative"] = actual
        out["actual_incremental"] = np.diff(actual, prepend=0.0)
    return out


def alive_matrix(
    model: BaseModel, max_frequency: int, T: float, n_recency: int = 50
) -> dict[str, np.ndarray]:
    """P(alive) on a grid: rows frequency 0..max_frequency, columns recency in [0, T]."""
    rec = np.linspace(0.0, T, n_recency)
    x = np.arange(max_frequency + 1, dtype=float)
    xx, rr = np.meshgrid(x, rec, indexing="ij")
    rr = np.where(xx == 0, 0.0, np.maximum(rr, 1e-9 * max(T, 1.0)))
    pa = model.conditional_probability_alive(xx.ravel(), rr.ravel(), np.full(xx.size, float(T)))  # type: ignore[attr-defined]
    return {"frequency": x, "recency": rec, "p_alive": pa.reshape(xx.shape)}
