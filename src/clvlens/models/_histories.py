"""Customers grouped by their purchase history (frequency x, recency t_x, age T).

Every per-customer prediction of the transaction models (P(alive), expected purchases, discounted expected
purchases) is a function of the triple (x, t_x, T) alone, and the expensive parts of it (the hypergeometric terms
of Pareto/NBD, the path given alive) of the pairs (x, t_x) and (x, T). Daily data over a few years hold far fewer
distinct triples and pairs than customers (1M simulated customers over two years: 449,000 triples and 19,000 pairs
of each kind), so the predictions are evaluated once per distinct triple (pair) and gathered back per customer:
the same numbers, as each is computed from the same inputs by the same element-wise operations.
"""

from __future__ import annotations

import numpy as np

from clvlens.models._base import dedup_rows

__all__ = ["Histories"]

#: fewer customers than this are evaluated as they are (grouping costs a sort)
_GROUP_ABOVE = 1_000
#: keep the grouping only when it leaves at most this share of the rows
_WORTH_IT = 0.9


class Histories:
    """The distinct (x, t_x, T) triples of some customers (``cols``) and each customer's index into them.

    ``scatter(values)`` turns one value per distinct triple into one per customer. ``pairs("tx")`` and
    ``pairs("T")`` are the distinct (x, t_x) and (x, T) pairs of the triples with each triple's index into them,
    computed once and kept (a model evaluates them at many parameter values).
    """

    def __init__(self, x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> None:
        self.n = int(x.shape[0])
        self.cols: tuple[np.ndarray, np.ndarray, np.ndarray] = (x, tx, T)
        self.inverse: np.ndarray | None = None
        if self.n > _GROUP_ABOVE:
            cols, _, inverse = dedup_rows([x, tx, T])
            if cols[0].size <= _WORTH_IT * self.n:
                self.cols, self.inverse = (cols[0], cols[1], cols[2]), inverse
        self._pairs: dict[str, tuple[tuple[np.ndarray, np.ndarray], np.ndarray]] = {}

    @property
    def size(self) -> int:
        """The number of distinct triples evaluated."""
        return int(self.cols[0].shape[0])

    def scatter(self, values: np.ndarray) -> np.ndarray:
        """Values per distinct triple (last axis) as values per customer."""
        return values if self.inverse is None else values[..., self.inverse]

    def pairs(self, which: str) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
        """((x, t), index): the distinct (x, t_x) (``which="tx"``) or (x, T) (``"T"``) pairs of the triples."""
        if which not in self._pairs:
            x, tx, T = self.cols
            t = tx if which == "tx" else T
            if x.size > _GROUP_ABOVE:
                (ux, ut), _, at = dedup_rows([x, t])
            else:
                ux, ut, at = x, t, np.arange(x.size)
            self._pairs[which] = ((ux, ut), at)
        return self._pairs[which]
