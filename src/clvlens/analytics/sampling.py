"""A reproducible customer sample for internal validations (model choice, health-score choice).

Customers are ranked by the stable 64-bit hash of their id that every sample of a run uses
(:mod:`clvlens.ml.sampling`: fixed here, not a library's hash that may change between versions), and the ``size``
lowest hashes form the sample: the same customers in every run, whatever
the order of the rows, and a larger sample contains every smaller one. With ``size`` or fewer customers, every
customer is taken.

The sampling error of a comparison is the standard error of a paired difference over the sampled customers
(:func:`paired_difference`): two scores compared on the same customers differ by less noise than either has.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from clvlens.ml.sampling import customer_hash
from clvlens.ml.sampling import sample_mask as ml_sample_mask

__all__ = ["PairedDifference", "auc_difference", "customer_hash", "paired_difference", "sample_mask"]

#: a paired difference smaller than this many standard errors is "within sampling error" (two-sided 95%)
Z_95 = 1.959963984540054


def sample_mask(ids: pl.Series, size: int | None) -> np.ndarray | None:
    """A boolean mask of the ``size`` customers with the lowest hashes (:func:`clvlens.ml.sampling.customer_hash`,
    the hash of the scorecard's and the ML training's samples too), or None when every customer is taken (``size``
    None or at least the number of customers)."""
    if size is None or size >= ids.len():
        return None
    if size < 1:
        raise ValueError(f"sample size must be at least 1, got {size}")
    return ml_sample_mask(ids, size)


@dataclass(frozen=True)
class PairedDifference:
    """The mean of ``a - b`` over the customers, its standard error and whether it is within sampling error."""

    difference: float
    standard_error: float
    customers: int

    @property
    def within_error(self) -> bool:
        return abs(self.difference) < Z_95 * self.standard_error

    def describe(self, unit: str = "") -> str:
        margin = Z_95 * self.standard_error
        verdict = "within sampling error" if self.within_error else "beyond sampling error"
        return f"{self.difference:.4g}{unit} ± {margin:.2g} (95%, {self.customers:,} customers): {verdict}"


def paired_difference(a: np.ndarray, b: np.ndarray) -> PairedDifference:
    """Mean of ``a - b`` per customer and its standard error (sd / sqrt(n); nan for fewer than two)."""
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    n = int(d.size)
    se = float(np.std(d, ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    return PairedDifference(float(d.mean()) if n else math.nan, se, n)


def auc_difference(a: np.ndarray, b: np.ndarray, labels: np.ndarray) -> PairedDifference:
    """AUC(a) - AUC(b) on the same customers and its standard error by DeLong, DeLong & Clarke-Pearson (1988),
    "Comparing the areas under two or more correlated ROC curves", Biometrics 44(3): each positive's and each
    negative's placement value (the share of the other class it outranks, ties counting half), whose variances
    and covariance over the two classes give the variance of the difference. ``customers``: all of them."""
    from clvlens.analytics.evaluation.metrics import rank_average

    y = np.asarray(labels, dtype=bool)
    m, n = int(y.sum()), int((~y).sum())
    if m < 2 or n < 2:
        return PairedDifference(math.nan, math.nan, int(y.size))
    placements = []
    for score in (a, b):
        s = np.asarray(score, dtype=float)
        overall = rank_average(s)
        positive = (overall[y] - rank_average(s[y])) / n  # share of negatives below each positive
        negative = 1.0 - (overall[~y] - rank_average(s[~y])) / m  # share of positives above each negative
        placements.append((positive, negative))
    (pa, na), (pb, nb) = placements
    difference = float(pa.mean() - pb.mean())
    variance = np.var(pa - pb, ddof=1) / m + np.var(na - nb, ddof=1) / n
    return PairedDifference(difference, float(math.sqrt(max(variance, 0.0))), int(y.size))
