"""One call that produces every basket table the workspace stores."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import polars as pl
import pyarrow as pa

from clvlens.analytics.basket._frames import (
    bundles,
    check_max_len,
    check_min_lift,
    item_labels,
    itemset_frame,
    rule_frame,
)
from clvlens.analytics.basket._matrix import (
    LineCodes,
    check_fraction,
    check_positive_int,
    level_column,
    matrix_from_codes,
    names_from_codes,
    to_polars,
)
from clvlens.analytics.basket._mining import mine
from clvlens.analytics.basket._offers import offers_from_codes


@dataclass(frozen=True)
class BasketTables:
    """Market-basket results, all Polars DataFrames with DuckDB-native column types (lists of strings, floats).

    `itemsets`: frequent itemsets; `rules`: association rules with every metric; `bundles`: strongest pairs and
    triples by itemset lift; `next_best_offer`: top offers per customer. `n_orders` is the number of baskets that
    supports are shares of, `level` "item" or "category".
    """

    itemsets: pl.DataFrame
    rules: pl.DataFrame
    bundles: pl.DataFrame
    next_best_offer: pl.DataFrame
    n_orders: int
    level: str


def basket_tables(
    transactions: Any,
    customer_value: Any = None,
    *,
    level: str = "item",
    min_support: float = 0.01,
    min_confidence: float = 0.2,
    min_lift: float | None = None,
    max_len: int | None = 3,
    top_n: int = 3,
    value_column: str = "clv",
    bundle_top: int = 10,
    exclude: Iterable[Any] | None = None,
    min_item_count: int = 1,
) -> BasketTables:
    """Mine itemsets once and derive rules, bundles and next-best offers from them.

    `transactions` is the canonical transaction log (pandas or Polars); `customer_value` an optional frame with
    customer_id and `value_column` (projected CLV) that weights the offers. Thresholds are validated up front and
    raise a one-line `ClvlensError`; data with nothing frequent gives empty tables, not an error. `exclude` drops
    item ids (e.g. postage) before mining and `min_item_count` items bought in fewer orders; neither changes the
    number of orders that supports are shares of.
    """
    column = level_column(level)
    support = check_fraction("min_support", min_support, allow_zero=False)
    confidence = check_fraction("min_confidence", min_confidence, allow_zero=True)
    lift = check_min_lift(min_lift)
    limit = check_max_len(max_len)
    check_positive_int("top_n", top_n)
    check_positive_int("bundle_top", bundle_top)
    frame = to_polars(transactions, ("customer_id", "order_id", column))
    lines = LineCodes.of(frame, column, with_names=level != "category" and "item_name" in frame.columns)
    basket = matrix_from_codes(lines, level, exclude=exclude, min_item_count=min_item_count)
    display = names_from_codes(lines)
    ids, names = item_labels(basket, display)
    mined = mine(basket, support, limit)
    itemsets = itemset_frame(mined, ids, names)
    rules = rule_frame(mined, ids, names, confidence, lift)
    n_orders = basket.n_orders
    del basket, mined  # the order x item matrix is not needed by the offers, whose peak it would add to
    offers = offers_from_codes(lines, rules, customer_value, top_n=top_n, value_column=value_column, names=display)
    del lines
    # the codes lived in Arrow's pool (mimalloc), which keeps freed memory for the rest of the process unless asked
    # to give it back: 250-270 MB after 10M lines (bench/bench_scale_parts.py)
    pa.default_memory_pool().release_unused()
    return BasketTables(
        itemsets=itemsets,
        rules=rules,
        bundles=bundles(itemsets, top=bundle_top),
        next_best_offer=offers,
        n_orders=n_orders,
        level=level,
    )
