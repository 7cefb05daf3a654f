"""Frequent itemsets (level-wise Apriori on packed bitsets) and association rules with their interest metrics.

Algorithm (Agrawal & Srikant 1994, "Fast algorithms for mining association rules", VLDB): level k's candidates are
joined from frequent (k-1)-itemsets sharing their first k-2 items and pruned unless every (k-1)-subset is frequent
(downward closure). Supports are counted on a vertical layout:

* size 1: column sums of the sparse basket matrix;
* size 2: the sparse Gram matrix X^T X of the frequent items (one sparse product gives every pair count);
* size >= 3: each frequent item's order set is a packed bitset (uint64 words); a candidate's count is the popcount
  of the AND of its items' bitsets, evaluated for thousands of candidates at once with numpy.

An itemset S is frequent when support(S) = count(S) / n_orders >= min_support (the same float comparison as
mlxtend). Items are renumbered 0..f-1 among the frequent singletons, so an itemset is a sorted row of small ints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from clvlens.analytics.basket._matrix import BasketMatrix

CHUNK_BYTES = 48 * 2**20  # working memory for one batch of candidate bitsets


@dataclass(frozen=True)
class Mined:
    """Frequent itemsets by size: `sets[k-1]` is an (m, k) int array of sorted local item indices in lexicographic
    order, `counts[k-1]` their order counts; `columns` maps local indices to basket-matrix columns."""

    sets: list[np.ndarray]
    counts: list[np.ndarray]
    columns: np.ndarray
    n_orders: int


def min_count_for(min_support: float, n_orders: int) -> int:
    """Smallest count c with c / n_orders >= min_support, evaluated in floats exactly as a support would be."""
    count = max(1, math.ceil(min_support * n_orders))
    while count <= n_orders and count / n_orders < min_support:
        count += 1
    while count > 1 and (count - 1) / n_orders >= min_support:
        count -= 1
    return count


class RowIndex:
    """Exact lookup of itemset rows (sorted int rows of one width) in a reference set of rows."""

    def __init__(self, rows: np.ndarray, base: int) -> None:
        self.base = max(int(base), 2)
        self.width = rows.shape[1]
        self.packed = self.width * math.log2(self.base) < 62
        if self.packed:
            keys = self._encode(rows)
            self.order = np.argsort(keys, kind="stable")
            self.keys = keys[self.order]
        else:  # very long itemsets over many items: fall back to a dictionary of row bytes
            contiguous = np.ascontiguousarray(rows, dtype=np.int64)
            self.table = {row.tobytes(): i for i, row in enumerate(contiguous)}

    def _encode(self, rows: np.ndarray) -> np.ndarray:
        keys = np.zeros(rows.shape[0], dtype=np.int64)
        for j in range(rows.shape[1]):
            keys = keys * self.base + rows[:, j].astype(np.int64)
        return keys

    def find(self, queries: np.ndarray) -> np.ndarray:
        """Index of each query row in the reference rows, or -1 where it is absent."""
        if queries.shape[0] == 0:
            return np.zeros(0, dtype=np.int64)
        if not self.packed:
            contiguous = np.ascontiguousarray(queries, dtype=np.int64)
            return np.array([self.table.get(row.tobytes(), -1) for row in contiguous], dtype=np.int64)
        if self.keys.size == 0:
            return np.full(queries.shape[0], -1, dtype=np.int64)
        keys = self._encode(queries)
        position = np.minimum(np.searchsorted(self.keys, keys), self.keys.size - 1)
        return np.where(self.keys[position] == keys, self.order[position], -1)


def _bitsets(columns: sp.csc_array) -> np.ndarray:
    """Packed order sets: row j holds one bit per order, set when the order contains local item j (64 to a word;
    only AND and bit counts read them, so the order of bits in a word does not matter)."""
    n_rows, n_cols = columns.shape
    words = max(1, (n_rows + 63) // 64)
    bits = np.zeros((n_cols, words), dtype=np.uint64)
    # a column at a time through a byte per order: scattering every cell at once held several 8-byte arrays per
    # cell (5.3M cells of 34 frequent items at 10M lines: about 200 MB; bench/bench_scale_parts.py)
    present = np.zeros(words * 64, dtype=bool)
    for j in range(n_cols):
        rows = columns.indices[columns.indptr[j]:columns.indptr[j + 1]]
        present[rows] = True
        bits[j] = np.packbits(present, bitorder="little").view(np.uint64)
        present[rows] = False
    return bits


def _pairs(columns: sp.csc_array, min_count: int) -> tuple[np.ndarray, np.ndarray]:
    """Frequent pairs from the upper triangle of the sparse Gram matrix, in lexicographic order."""
    counts = columns.astype(np.int32)
    gram = sp.triu(sp.csr_array(counts.T @ counts), k=1).tocoo()
    keep = gram.data >= min_count
    left, right, count = gram.row[keep], gram.col[keep], gram.data[keep]
    order = np.lexsort((right, left))
    return np.column_stack([left[order], right[order]]).astype(np.int32), count[order].astype(np.int64)


def _candidate_batches(previous: np.ndarray, limit: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Apriori join: (left, right) row pairs of `previous` sharing all but the last item, batched by size."""
    m = previous.shape[0]
    if m < 2:
        return []
    change = np.any(previous[1:, :-1] != previous[:-1, :-1], axis=1)  # a new prefix group starts after row i
    group = np.concatenate([[0], np.cumsum(change)])
    group_end = np.flatnonzero(np.concatenate([change, [True]])) + 1
    following = group_end[group] - np.arange(m) - 1  # rows after each row in its prefix group
    batches: list[tuple[np.ndarray, np.ndarray]] = []
    start = 0
    cumulative = np.cumsum(following)
    while start < m:
        base = cumulative[start - 1] if start else 0
        stop = int(np.searchsorted(cumulative, base + limit, side="right"))
        stop = max(stop, start + 1)
        rows = np.arange(start, stop)
        sizes = following[start:stop]
        if sizes.sum():
            left = np.repeat(rows, sizes)
            offset = np.arange(left.size) - np.repeat(np.cumsum(sizes) - sizes, sizes)
            batches.append((left, left + 1 + offset))
        start = stop
    return batches


def _next_level(
    previous: np.ndarray, index: RowIndex, bits: np.ndarray, min_count: int
) -> tuple[np.ndarray, np.ndarray]:
    """Frequent k-itemsets from the frequent (k-1)-itemsets `previous` (k >= 3)."""
    width = previous.shape[1] + 1
    per_candidate = bits.shape[1] * 8
    limit = max(1024, CHUNK_BYTES // per_candidate)
    found_sets: list[np.ndarray] = []
    found_counts: list[np.ndarray] = []
    for left, right in _candidate_batches(previous, limit):
        candidates = np.column_stack([previous[left], previous[right, -1]])
        keep = np.ones(candidates.shape[0], dtype=bool)
        for drop in range(width - 2):  # subsets without one of the shared prefix items
            subset = np.delete(candidates[keep], drop, axis=1)
            keep[np.flatnonzero(keep)[index.find(subset) < 0]] = False
        candidates = candidates[keep]
        if candidates.shape[0] == 0:
            continue
        acc = bits[candidates[:, 0]] & bits[candidates[:, 1]]
        for j in range(2, width):
            acc &= bits[candidates[:, j]]
        counts = np.bitwise_count(acc).sum(axis=1, dtype=np.int64)
        frequent = counts >= min_count
        found_sets.append(candidates[frequent])
        found_counts.append(counts[frequent])
    if not found_sets:
        return np.zeros((0, width), dtype=np.int32), np.zeros(0, dtype=np.int64)
    return np.concatenate(found_sets).astype(np.int32), np.concatenate(found_counts)


def mine(basket: BasketMatrix, min_support: float, max_len: int | None) -> Mined:
    """All itemsets with support >= min_support and at most max_len items (None: no limit)."""
    n = basket.n_orders
    empty = Mined(sets=[], counts=[], columns=np.zeros(0, dtype=np.int64), n_orders=n)
    if n == 0 or basket.n_items == 0:
        return empty
    min_count = min_count_for(min_support, n)
    item_counts = basket.item_counts()
    columns = np.flatnonzero(item_counts >= min_count)
    if columns.size == 0:
        return empty
    sets = [np.arange(columns.size, dtype=np.int32)[:, None]]
    counts = [item_counts[columns]]
    limit = max_len if max_len is not None else columns.size
    if limit >= 2 and columns.size >= 2:
        frequent_columns = basket.matrix[:, columns]
        pair_sets, pair_counts = _pairs(frequent_columns, min_count)
        if pair_sets.shape[0]:
            sets.append(pair_sets)
            counts.append(pair_counts)
        bits = _bitsets(frequent_columns) if limit >= 3 and pair_sets.shape[0] >= 2 else None
        while bits is not None and len(sets) < limit and sets[-1].shape[0] >= 2:
            previous = sets[-1]
            level_sets, level_counts = _next_level(previous, RowIndex(previous, columns.size), bits, min_count)
            if level_sets.shape[0] == 0:
                break
            sets.append(level_sets)
            counts.append(level_counts)
    return Mined(sets=sets, counts=counts, columns=columns, n_orders=n)


@dataclass(frozen=True)
class RuleArrays:
    """Association rules as parallel arrays; antecedents/consequents are lists of local item index rows."""

    antecedents: list[np.ndarray]
    consequents: list[np.ndarray]
    metrics: dict[str, np.ndarray]


METRICS: tuple[str, ...] = (
    "antecedent_support",
    "consequent_support",
    "support",
    "confidence",
    "lift",
    "leverage",
    "conviction",
    "zhangs_metric",
)


def rule_metrics(s_a: np.ndarray, s_c: np.ndarray, s_ac: np.ndarray) -> dict[str, np.ndarray]:
    """Interest measures of rules A -> C from supports of A, C and A u C (shares of all orders).

    * confidence = s(AC) / s(A); lift = confidence / s(C) (Agrawal et al. 1993; Brin et al. 1997 for lift/interest).
    * leverage = s(AC) - s(A) s(C) (Piatetsky-Shapiro 1991).
    * conviction = (1 - s(C)) / (1 - confidence), +inf when confidence = 1 (Brin et al. 1997).
    * Zhang's metric = leverage / max(s(AC) (1 - s(A)), s(A) (s(C) - s(AC))) (Zhang 2000; Yan et al. 2009), in
      [-1, 1]; the denominator is 0 only when s(A) = 1, where leverage is 0 too, and the metric is then 0.
    These are the definitions and edge conventions of mlxtend's association_rules.
    """
    confidence = s_ac / s_a
    lift = confidence / s_c
    leverage = s_ac - s_a * s_c
    with np.errstate(divide="ignore", invalid="ignore"):
        conviction = np.where(confidence >= 1, np.inf, (1 - s_c) / (1 - confidence))
        denominator = np.maximum(s_ac * (1 - s_a), s_a * (s_c - s_ac))
        zhang = np.where(denominator > 0, leverage / denominator, 0.0)
    return {
        "antecedent_support": s_a,
        "consequent_support": s_c,
        "support": s_ac,
        "confidence": confidence,
        "lift": lift,
        "leverage": leverage,
        "conviction": conviction,
        "zhangs_metric": zhang,
    }


def rules(mined: Mined, min_confidence: float, min_lift: float | None) -> RuleArrays:
    """Every rule A -> C with A, C non-empty, disjoint, A u C frequent, confidence >= min_confidence and (when given)
    lift >= min_lift. Antecedent and consequent supports are looked up in the frequent itemsets (downward closure
    guarantees they are there)."""
    n = mined.n_orders
    base = mined.columns.size
    indexes = [RowIndex(level, base) for level in mined.sets]
    supports = [count / n for count in mined.counts]
    antecedents: list[np.ndarray] = []
    consequents: list[np.ndarray] = []
    parts: dict[str, list[np.ndarray]] = {name: [] for name in (*METRICS, "count")}
    for size in range(2, len(mined.sets) + 1):
        itemsets, s_ac = mined.sets[size - 1], supports[size - 1]
        for mask in range(1, 2**size - 1):
            left = [j for j in range(size) if mask >> j & 1]
            right = [j for j in range(size) if not mask >> j & 1]
            a_rows, c_rows = itemsets[:, left], itemsets[:, right]
            s_a = supports[len(left) - 1][indexes[len(left) - 1].find(a_rows)]
            s_c = supports[len(right) - 1][indexes[len(right) - 1].find(c_rows)]
            metrics = rule_metrics(s_a, s_c, s_ac)
            keep = metrics["confidence"] >= min_confidence
            if min_lift is not None:
                keep &= metrics["lift"] >= min_lift
            if not keep.any():
                continue
            antecedents.append(a_rows[keep])
            consequents.append(c_rows[keep])
            for name, values in metrics.items():
                parts[name].append(values[keep])
            parts["count"].append(mined.counts[size - 1][keep])
    flat = {
        name: (np.concatenate(values) if values else np.zeros(0, dtype=np.int64 if name == "count" else float))
        for name, values in parts.items()
    }
    return RuleArrays(antecedents=antecedents, consequents=consequents, metrics=flat)
