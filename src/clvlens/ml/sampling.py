"""Reproducible customer samples: the same customers on every run, whatever the order of the rows.

Each customer_id gets a 64-bit hash of its UTF-8 bytes that clvlens defines itself (FNV-1a, Fowler, Noll and Vo,
then splitmix64's finaliser to spread the bits; Steele, Lea and Flood 2014), so it does not change with a library
version or a platform. A sample of size k is the k customers with the smallest hashes ("bottom-k" sampling): it is
a simple random sample for any purpose that does not look at the hash, a larger sample contains every smaller one,
and the rows' order plays no part. The hash's low bits split a sample into random groups of about equal size, for
the random-group standard errors of the scorecard (see :mod:`clvlens.analytics.evaluation.scorecard`).

Everything is vectorised: the hash runs over the byte position (a few dozen numpy operations over all customers),
never a Python loop over customers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from clvlens.errors import ClvlensError

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)


def customer_hash(ids: Any) -> np.ndarray:
    """A stable uint64 hash of each customer id (as its string form), in the order given."""
    series = ids if isinstance(ids, pl.Series) else pl.Series(list(ids))
    array = series.cast(pl.String).fill_null("").to_arrow()
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array.type != pa.large_string():
        array = array.cast(pa.large_string())
    n = len(array)
    _, offsets_buffer, data_buffer = array.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64, count=n + 1, offset=array.offset * 8)
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.zeros(0, np.uint8)
    starts = offsets[:-1]
    lengths = np.diff(offsets)
    hashes = np.full(n, _FNV_OFFSET, dtype=np.uint64)
    shortest = int(lengths.min()) if n else 0
    longest = int(lengths.max()) if n else 0
    with np.errstate(over="ignore"):
        for position in range(longest):
            if position < shortest:  # every id is this long: whole-array operations
                hashes = (hashes ^ data[starts + position].astype(np.uint64)) * _FNV_PRIME
                continue
            rows = np.flatnonzero(lengths > position)
            byte = data[starts[rows] + position].astype(np.uint64)
            hashes[rows] = (hashes[rows] ^ byte) * _FNV_PRIME
        return _splitmix(hashes)


def _splitmix(h: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: every output bit depends on every input bit."""
    with np.errstate(over="ignore"):
        z = h.copy()
        z = (z ^ (z >> np.uint64(30))) * _MIX_1
        z = (z ^ (z >> np.uint64(27))) * _MIX_2
        return z ^ (z >> np.uint64(31))


def sample_mask(ids: Any, size: int | None) -> np.ndarray:
    """True for the customers of the bottom-``size`` sample of ``ids`` (every customer when ``size`` is None or
    at least their number). ``ids`` must be distinct."""
    hashes = customer_hash(ids)
    if size is None or hashes.size <= size:
        return np.ones(hashes.size, dtype=bool)
    if size < 1:
        raise ClvlensError(f"sample size: {size} must be at least 1 customer")
    threshold = np.partition(hashes, size - 1)[size - 1]
    return hashes <= threshold  # equal hashes (a collision) are kept together, so the order plays no part


def random_groups(ids: Any, groups: int) -> np.ndarray:
    """Group 0..groups-1 of each customer from the hash's low bits (the sample is chosen by its high bits)."""
    return (customer_hash(ids) % np.uint64(groups)).astype(np.int64)


@dataclass(frozen=True)
class CustomerSample:
    """Which customers a computation used: ``size`` of the ``population`` customers."""

    size: int
    population: int

    @property
    def share(self) -> float:
        """size / population (1 when every customer was used)."""
        return self.size / self.population if self.population else 1.0

    @property
    def complete(self) -> bool:
        """True when every customer was used."""
        return self.size >= self.population

    def describe(self, what: str = "customers") -> str:
        """A short note: "all 4,339 customers" or "a sample of 50,000 of 1,000,000 customers (...)"."""
        if self.complete:
            return f"all {self.population:,} {what}"
        return (f"a reproducible sample of {self.size:,} of {self.population:,} {what} ({self.share:.1%}, "
                "chosen by a hash of customer_id)")


def sample_transactions(
    transactions: pl.DataFrame, size: int | None, *, eligible: pl.Expr | None = None
) -> tuple[pl.DataFrame, CustomerSample]:
    """The lines of a bottom-``size`` sample of the customers, and which sample it is.

    The sample is drawn among the customers with a line where ``eligible`` holds (e.g. a purchase before a
    cut-off; default every line), so it holds exactly ``size`` of them. When they are at most ``size`` the lines
    come back unfiltered (customers outside the eligible ones included: every caller ignores them anyway).
    """
    lines = transactions.lazy() if eligible is None else transactions.lazy().filter(eligible)
    pool = lines.select(pl.col("customer_id").unique()).collect().to_series()
    if size is None or pool.len() <= size:
        return transactions, CustomerSample(pool.len(), pool.len())
    chosen = pool.filter(pl.Series(sample_mask(pool, size)))
    kept = transactions.filter(pl.col("customer_id").is_in(chosen.implode()))
    return kept, CustomerSample(chosen.len(), pool.len())
