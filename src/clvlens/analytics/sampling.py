"""A reproducible customer sample for internal validations (model choice, health-score choice).

Customers are ranked by a stable 64-bit hash of their id (the UTF-8 bytes of the id as text, hashed by a
polynomial over the bytes and splitmix64's finaliser, both fixed here, not a library's hash that may change
between versions), and the ``size`` lowest hashes form the sample: the same customers in every run, whatever
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

__all__ = ["PairedDifference", "auc_difference", "customer_hash", "paired_difference", "sample_mask"]

_MULTIPLIER = np.uint64(0x100000001B3)  # FNV-1a's 64-bit prime
_OFFSET = np.uint64(0xCBF29CE484222325)  # FNV-1a's 64-bit offset basis
#: customers ranked by hash are read in slices of this many bytes-matrix rows (bounded memory for long ids)
_BLOCK = 262_144
#: a paired difference smaller than this many standard errors is "within sampling error" (two-sided 95%)
Z_95 = 1.959963984540054


def customer_hash(ids: pl.Series) -> np.ndarray:
    """A stable 64-bit hash of each id (as text): the same value for the same id in any run and any order."""
    text = ids.cast(pl.String).fill_null("")
    out = np.empty(text.len(), dtype=np.uint64)
    for start in range(0, text.len(), _BLOCK):
        codes, lengths = _utf8_matrix(text.slice(start, _BLOCK))
        h = np.full(lengths.size, _OFFSET, dtype=np.uint64)
        with np.errstate(over="ignore"):
            for column in range(codes.shape[1]):  # bytes past an id's end are 0: its length is hashed as well
                h ^= codes[:, column].astype(np.uint64)
                h *= _MULTIPLIER
            h ^= lengths.astype(np.uint64)
            h *= _MULTIPLIER
        out[start : start + lengths.size] = _finalise(h)
    return out


def _utf8_matrix(text: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """The ids' UTF-8 bytes as a zero-padded (ids x longest) matrix, and each id's length in bytes."""
    import pyarrow as pa

    array = text.to_arrow()
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    array = array.cast(pa.large_string())
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)[array.offset : array.offset + len(array) + 1]
    buffer = array.buffers()[2]
    data = np.frombuffer(buffer, dtype=np.uint8) if buffer is not None else np.zeros(0, np.uint8)
    lengths = np.diff(offsets)
    width = int(lengths.max()) if lengths.size else 0
    position = offsets[:-1, None] + np.arange(width)[None, :]
    inside = np.arange(width)[None, :] < lengths[:, None]
    codes = np.zeros((lengths.size, width), dtype=np.uint8)
    codes[inside] = data[position[inside]]
    return codes, lengths


def _finalise(h: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: every input bit reaches every output bit (FNV's low bits alone are weak)."""
    with np.errstate(over="ignore"):
        z = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def sample_mask(ids: pl.Series, size: int | None) -> np.ndarray | None:
    """A boolean mask of the ``size`` customers with the lowest hashes, or None when every customer is taken
    (``size`` None or at least the number of customers). Ties of the hash (distinct ids, probability ~n^2/2^65)
    are broken by the id itself, so the sample never depends on the row order."""
    n = ids.len()
    if size is None or size >= n:
        return None
    if size < 1:
        raise ValueError(f"sample size must be at least 1, got {size}")
    h = customer_hash(ids)
    cut = np.partition(h, size - 1)[size - 1]
    mask = h < cut
    tied = np.flatnonzero(h == cut)
    if tied.size:
        order = pl.Series(ids.cast(pl.String).to_numpy()[tied]).arg_sort().to_numpy()
        mask[tied[order[: size - int(mask.sum())]]] = True
    return mask


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
    from scipy.stats import rankdata

    y = np.asarray(labels, dtype=bool)
    m, n = int(y.sum()), int((~y).sum())
    if m < 2 or n < 2:
        return PairedDifference(math.nan, math.nan, int(y.size))
    placements = []
    for score in (a, b):
        s = np.asarray(score, dtype=float)
        overall = rankdata(s)
        positive = (overall[y] - rankdata(s[y])) / n  # share of negatives below each positive
        negative = 1.0 - (overall[~y] - rankdata(s[~y])) / m  # share of positives above each negative
        placements.append((positive, negative))
    (pa, na), (pb, nb) = placements
    difference = float(pa.mean() - pb.mean())
    variance = np.var(pa - pb, ddof=1) / m + np.var(na - nb, ddof=1) / n
    return PairedDifference(difference, float(math.sqrt(max(variance, 0.0))), int(y.size))
