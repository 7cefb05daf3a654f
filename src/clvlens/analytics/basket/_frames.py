"""Public mining functions: frequent itemsets, association rules and bundles as Polars DataFrames.

Item ids are strings; itemsets, antecedents and consequents are sorted lists of item ids (DuckDB `VARCHAR[]`), with
parallel lists of display names. Every metric column is Float64 (conviction may be +inf).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from clvlens.analytics.basket._matrix import (
    BasketMatrix,
    basket_matrix,
    check_fraction,
    check_positive_int,
    item_names,
)
from clvlens.analytics.basket._mining import METRICS, Mined, mine, rules
from clvlens.errors import ClvlensError

LIST = pl.List(pl.String)
ITEMSET_SCHEMA: dict[str, Any] = {
    "itemset": LIST,
    "itemset_names": LIST,
    "length": pl.Int32,
    "support": pl.Float64,
    "count": pl.Int64,
}
RULE_SCHEMA: dict[str, Any] = {
    "antecedents": LIST,
    "consequents": LIST,
    "antecedent_names": LIST,
    "consequent_names": LIST,
    "rule": pl.String,
    **{name: pl.Float64 for name in METRICS},
    "count": pl.Int64,
}
BUNDLE_SCHEMA: dict[str, Any] = {
    "size": pl.Int32,
    "rank": pl.Int32,
    "items": LIST,
    "item_names": LIST,
    "label": pl.String,
    "support": pl.Float64,
    "count": pl.Int64,
    "lift": pl.Float64,
}


def resolve(data: Any, level: str, **filters: Any) -> tuple[BasketMatrix, np.ndarray, np.ndarray]:
    """Basket matrix plus item ids and display names (numpy string arrays aligned with its columns).

    `filters` (include, exclude, min_item_count) go to `basket_matrix` when `data` is a transactions frame.
    """
    if isinstance(data, BasketMatrix):
        ids = data.items.to_numpy().astype(str)
        return data, ids, ids
    basket = basket_matrix(data, level=level, **filters)
    return (basket, *item_labels(basket, item_names(data, level=level)))


def item_labels(basket: BasketMatrix, names: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Item ids and display names (numpy string arrays) aligned with the basket matrix's columns."""
    named = basket.items.to_frame("item").join(names, on="item", how="left")
    ids = basket.items.to_numpy().astype(str)
    return ids, named.select(pl.coalesce("item_name", "item")).to_series().to_numpy().astype(str)


def _lists(rows: np.ndarray, lookup: np.ndarray) -> pl.Series:
    """(m, k) index rows -> a List[String] Series of the looked-up strings."""
    m, k = rows.shape
    flat = pl.Series(lookup[rows.ravel()].tolist(), dtype=pl.String)
    if m == 0:
        return pl.Series([], dtype=LIST)
    return flat.reshape((m, k)).cast(LIST)


def itemset_frame(mined: Mined, ids: np.ndarray, names: np.ndarray) -> pl.DataFrame:
    """Frequent itemsets table from mined local indices."""
    if not mined.sets:
        return pl.DataFrame(schema=ITEMSET_SCHEMA)
    local_ids, local_names = ids[mined.columns], names[mined.columns]
    parts = [
        pl.DataFrame(
            {
                "itemset": _lists(sets, local_ids),
                "itemset_names": _lists(sets, local_names),
                "length": pl.Series(np.full(sets.shape[0], sets.shape[1]), dtype=pl.Int32),
                "support": pl.Series(counts / mined.n_orders, dtype=pl.Float64),
                "count": pl.Series(counts, dtype=pl.Int64),
            }
        )
        for sets, counts in zip(mined.sets, mined.counts, strict=True)
    ]
    return pl.concat(parts).sort(["length", "support"], descending=[False, True], maintain_order=True)


def rule_frame(
    mined: Mined, ids: np.ndarray, names: np.ndarray, min_confidence: float, min_lift: float | None
) -> pl.DataFrame:
    """Association rules table (sorted by lift, then confidence, descending)."""
    arrays = rules(mined, min_confidence, min_lift)
    if not arrays.antecedents:
        return pl.DataFrame(schema=RULE_SCHEMA)
    local_ids, local_names = ids[mined.columns], names[mined.columns]
    sides = pl.DataFrame(
        {
            "antecedents": pl.concat([_lists(rows, local_ids) for rows in arrays.antecedents]),
            "consequents": pl.concat([_lists(rows, local_ids) for rows in arrays.consequents]),
            "antecedent_names": pl.concat([_lists(rows, local_names) for rows in arrays.antecedents]),
            "consequent_names": pl.concat([_lists(rows, local_names) for rows in arrays.consequents]),
        }
    )
    metrics = pl.DataFrame(
        {name: pl.Series(values, dtype=RULE_SCHEMA[name]) for name, values in arrays.metrics.items()}
    )
    frame = pl.concat([sides, metrics], how="horizontal").with_columns(
        pl.concat_str(
            pl.col("antecedents").list.join(" + "), pl.lit(" -> "), pl.col("consequents").list.join(" + ")
        ).alias("rule")
    )
    return frame.select(list(RULE_SCHEMA)).sort(
        ["lift", "confidence", "rule"], descending=[True, True, False], maintain_order=True
    )


def check_max_len(max_len: int | None) -> int | None:
    """max_len is None (no limit) or a whole number >= 1."""
    return check_positive_int("max_len", max_len, allow_none=True)


def check_min_lift(min_lift: float | None) -> float | None:
    """min_lift is None or a non-negative number."""
    if min_lift is None:
        return None
    if isinstance(min_lift, bool) or not isinstance(min_lift, (int, float)) or not min_lift >= 0:
        raise ClvlensError(f"min_lift: expected a number >= 0, got {min_lift!r}")
    return float(min_lift)


def frequent_itemsets(
    data: Any, *, level: str = "item", min_support: float = 0.01, max_len: int | None = None
) -> pl.DataFrame:
    """Itemsets bought together in at least `min_support` of orders (Apriori, Agrawal & Srikant 1994).

    `data` is a transactions frame (pandas or Polars) or a `BasketMatrix`. Returns columns itemset (sorted list of
    item ids), itemset_names, length, support = count / n_orders, count; empty (not an error) when nothing is
    frequent.
    """
    support = check_fraction("min_support", min_support, allow_zero=False)
    limit = check_max_len(max_len)
    basket, ids, names = resolve(data, level)
    return itemset_frame(mine(basket, support, limit), ids, names)


def association_rules(
    data: Any,
    *,
    level: str = "item",
    min_support: float = 0.01,
    min_confidence: float = 0.2,
    min_lift: float | None = None,
    max_len: int | None = 3,
) -> pl.DataFrame:
    """Association rules A -> C over the frequent itemsets, with confidence >= min_confidence (and lift >= min_lift).

    Columns: antecedents, consequents (sorted lists of item ids), antecedent_names, consequent_names, rule
    ("A + B -> C"), antecedent_support, consequent_support, support, confidence, lift, leverage, conviction,
    zhangs_metric and count (orders containing A u C). See `rule_metrics` for the formulas and their sources.
    """
    support = check_fraction("min_support", min_support, allow_zero=False)
    confidence = check_fraction("min_confidence", min_confidence, allow_zero=True)
    lift = check_min_lift(min_lift)
    limit = check_max_len(max_len)
    basket, ids, names = resolve(data, level)
    return rule_frame(mine(basket, support, limit), ids, names, confidence, lift)


def bundles(
    itemsets: pl.DataFrame, *, sizes: Sequence[int] = (2, 3), top: int = 10, min_support: float | None = None
) -> pl.DataFrame:
    """Strongest item bundles: frequent itemsets of the given sizes ranked by itemset lift.

    Itemset lift = support(S) / prod_{i in S} support(i), the ratio of how often the items are bought together to
    how often they would be if bought independently (for a pair it equals the rule lift of either direction). Only
    itemsets with support >= min_support (default: all mined ones, i.e. the mining threshold) count; ties are broken
    by support. Returns size, rank (1 = strongest within its size), items, item_names, label (names joined with
    " + "), support, count, lift; the top `top` per size.
    """
    top_k = check_positive_int("top", top)
    floor = None if min_support is None else check_fraction("min_support", min_support, allow_zero=False)
    missing = [column for column in ("itemset", "support", "count") if column not in itemsets.columns]
    if missing:
        raise ClvlensError(f"itemsets: missing column {', '.join(missing)}")
    if itemsets.is_empty():
        return pl.DataFrame(schema=BUNDLE_SCHEMA)
    names = "itemset_names" if "itemset_names" in itemsets.columns else "itemset"
    singles = itemsets.filter(pl.col("itemset").list.len() == 1).select(
        pl.col("itemset").list.first().alias("item"), pl.col("support").alias("item_support")
    )
    chosen = itemsets.with_row_index("id").filter(pl.col("itemset").list.len().is_in(list(sizes)))
    if floor is not None:
        chosen = chosen.filter(pl.col("support") >= floor)
    expected = (
        chosen.select("id", pl.col("itemset").alias("item"))
        .explode("item")
        .join(singles, on="item", how="left")
        .group_by("id")
        .agg(pl.col("item_support").product().alias("expected"))
    )
    return (
        chosen.join(expected, on="id")
        .with_columns(
            pl.col("itemset").list.len().cast(pl.Int32).alias("size"),
            (pl.col("support") / pl.col("expected")).alias("lift"),
        )
        .sort(["size", "lift", "support", "id"], descending=[False, True, True, False])
        .with_columns(pl.int_range(1, pl.len() + 1).over("size").cast(pl.Int32).alias("rank"))
        .filter(pl.col("rank") <= top_k)
        .select(
            "size",
            "rank",
            pl.col("itemset").alias("items"),
            pl.col(names).alias("item_names"),
            pl.col(names).list.join(" + ").alias("label"),
            "support",
            "count",
            "lift",
        )
    )
