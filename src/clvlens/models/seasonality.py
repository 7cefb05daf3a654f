"""A monthly seasonal index of the aggregate purchase rate, and the seasonal factor of a forecast window.

Estimator (classical ratio-to-moving-average decomposition, Macaulay 1931; the X-11 first pass, Shiskin, Young &
Musgrave 1967, without its iterations):

1. the purchase rate of calendar month t is r_t = purchases in month t / days in month t, over whole calendar
   months only (a part month at either end is dropped);
2. the trend T_t is the centred 2x12 moving average of r (weights 1/24 on months t-6 and t+6, 1/12 on the eleven
   months between), defined for months with six whole months on either side;
3. the ratio q_t = r_t / T_t removes the level and the trend (growth or decline of the customer base);
4. the raw index of calendar month m (1..12) is the mean of q_t over the n_m years in which month m has a ratio;
5. the raw index is normalised to a day-weighted mean of 1 over the year and shrunk toward 1,
   s_m = 1 + w_m (raw_m - 1), then normalised again. The weight has two parts, w_m = n_m / (n_m + k) x
   tau^2 / (tau^2 + v_m): few years seen (the prior counts as k = ``shrinkage_years`` years of a flat year, since
   a season seen once may not recur), and sampling noise (empirical Bayes, James & Stein 1961; Efron & Morris
   1975): an aggregate count c_t of independent purchases is Poisson given the customers' rates, so a ratio has
   relative variance about 1 / c_t and month m's mean v_m = mean(1 / c_t) / n_m; the spread of the seasons
   themselves is tau^2 = max(0, variance of raw across the months - mean of v_m). Data without a season (tau^2
   near 0) get an index near 1 instead of their noise.

Step 2 needs 24 whole months for every calendar month to get one ratio, so the index is estimated only when the
data hold at least ``min_months`` (default 24) whole months; otherwise :func:`seasonal_index` raises with the
reason. numpy only: months are given as (year, month, purchases) arrays by the caller.

The seasonal factor of a window (for instance the horizon after the observation end) is the mean of s over the
window's days; a window of whole years has factor 1 by construction. With expected purchases per step of the
window (``weights``), the factor is the weighted mean of each step's index instead, which lets a base that
declines over the window weigh its first months more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from clvlens.errors import ClvlensError

MONTHS = 12
DAYS_IN_MONTH = np.array([31, 28.25, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


@dataclass(frozen=True)
class SeasonalIndex:
    """The fitted monthly index: ``index[m - 1]`` multiplies the mean purchase rate in calendar month m."""

    index: np.ndarray
    years_seen: np.ndarray
    months_used: int
    shrinkage_years: float

    def factor(self, start: date, end: date, weights: np.ndarray | None = None) -> float:
        """Mean index over the days from ``start`` (exclusive) to ``end`` (inclusive).

        ``weights``: optional expected purchases per calendar month touched by the window, in order; the factor is
        then sum(w_k s_k) / sum(w_k) over those months, each month's s_k being the day-mean of the index within
        the part of the window in that month.
        """
        if end <= start:
            raise ClvlensError(f"seasonality: window end {end} is not after its start {start}")
        months, days = window_months(start, end)
        month_index = self.index[months - 1]
        if weights is None:
            return float(np.sum(month_index * days) / np.sum(days))
        w = np.asarray(weights, dtype=float)
        if w.shape != month_index.shape or np.any(w < 0) or w.sum() <= 0:
            raise ClvlensError("seasonality: weights must be one non-negative number per month of the window")
        return float(np.sum(w * month_index) / np.sum(w))

    def describe(self) -> str:
        """One line: the index by month, for run_info."""
        names = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        return ", ".join(f"{n} {v:.2f}" for n, v in zip(names, self.index, strict=True))


def window_months(start: date, end: date) -> tuple[np.ndarray, np.ndarray]:
    """Calendar months (1..12) touched by the days (start, end] and the number of those days in each."""
    months: list[int] = []
    days: list[int] = []
    day = start + timedelta(days=1)
    while day <= end:
        next_month = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
        stop = min(next_month - timedelta(days=1), end)
        months.append(day.month)
        days.append((stop - day).days + 1)
        day = stop + timedelta(days=1)
    return np.asarray(months, dtype=int), np.asarray(days, dtype=float)


def seasonal_index(
    years: np.ndarray,
    months: np.ndarray,
    purchases: np.ndarray,
    *,
    min_months: int = 24,
    shrinkage_years: float = 1.0,
) -> SeasonalIndex:
    """Estimate the monthly index (module docstring) from consecutive whole calendar months.

    ``years``, ``months`` (1..12) and ``purchases`` are one entry per whole month, in calendar order without gaps
    (a month without purchases is a 0). Raises :class:`ClvlensError` saying why when fewer than ``min_months``
    months are given or the rate is zero throughout.
    """
    y = np.asarray(years, dtype=int)
    m = np.asarray(months, dtype=int)
    counts = np.asarray(purchases, dtype=float)
    if not (y.shape == m.shape == counts.shape) or y.ndim != 1:
        raise ClvlensError("seasonality: years, months and purchases must be 1-d arrays of one length")
    if min_months < 24:
        raise ClvlensError("seasonality: min_months must be at least 24 (two whole years)")
    if y.size < min_months:
        raise ClvlensError(
            f"seasonality could not be estimated: {y.size} whole months observed, at least {min_months} needed"
        )
    serial = y * MONTHS + (m - 1)
    if np.any(np.diff(serial) != 1) or np.any((m < 1) | (m > MONTHS)):
        raise ClvlensError("seasonality: months must be consecutive calendar months")
    if np.any(counts < 0) or not np.all(np.isfinite(counts)):
        raise ClvlensError("seasonality: purchases must be finite and non-negative")
    days = np.array([_days_in(int(a), int(b)) for a, b in zip(y, m, strict=True)])
    rate = counts / days
    weights = np.r_[0.5, np.ones(11), 0.5] / MONTHS
    trend = np.convolve(rate, weights[::-1], mode="valid")  # trend[j] is centred on month j + 6
    centre = np.arange(6, 6 + trend.size)
    usable = trend > 0
    if not usable.any():
        raise ClvlensError("seasonality could not be estimated: no purchases in the trend window")
    ratio = rate[centre[usable]] / trend[usable]
    calendar = m[centre[usable]]
    seen = np.bincount(calendar - 1, minlength=MONTHS + 1)[:MONTHS].astype(float)
    if np.any(seen == 0):
        raise ClvlensError("seasonality could not be estimated: some calendar month has no ratio to its trend")
    raw = np.bincount(calendar - 1, weights=ratio, minlength=MONTHS + 1)[:MONTHS] / seen
    raw = _normalise(raw)
    noise = np.bincount(calendar - 1, weights=1.0 / np.maximum(rate[centre[usable]] * days[centre[usable]], 1.0),
                        minlength=MONTHS + 1)[:MONTHS] / seen**2
    spread = max(0.0, float(np.var(raw)) - float(np.mean(noise)))
    signal = spread / (spread + noise) if spread > 0 else np.zeros(MONTHS)
    shrunk = 1.0 + seen / (seen + shrinkage_years) * signal * (raw - 1.0)
    return SeasonalIndex(_normalise(shrunk), seen, int(y.size), float(shrinkage_years))


def _normalise(index: np.ndarray) -> np.ndarray:
    """Scale to a day-weighted mean of 1 over the calendar year."""
    return index * DAYS_IN_MONTH.sum() / float(np.sum(index * DAYS_IN_MONTH))


def _days_in(year: int, month: int) -> int:
    following = date(year + (month == 12), month % 12 + 1, 1)
    return (following - date(year, month, 1)).days
