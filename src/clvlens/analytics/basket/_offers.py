"""Next-best-offer per customer from association rules, as Polars joins on integer codes (no loop over customers).

A rule A -> c applies to a customer who has bought every item of A (at any time in their history) and has never
bought c. Its score is an expected-value estimate:

    score = confidence(A -> c) x value(c) x min(lift(A -> c), lift_cap) x weight(customer)

* confidence is the estimated chance that a buyer of A also buys c (Agrawal & Srikant 1994);
* value(c) is the average spend on c per order that contains it, so confidence x value(c) is the expected revenue of
  the offer;
* the capped lift favours offers that the customer's basket makes more likely than usual (lift > 1) over items that
  sell well to everyone anyway (lift ~ 1), which are the sales an offer would not add; the cap (default 5) stops
  rare items with a noisy, very high lift from dominating;
* weight = the customer's projected value (e.g. CLV) / the mean projected value over the customers given, clipped
  at 0; 1 for every customer when no values are passed or the customer has none. It does not change the order of a
  customer's own offers, but makes scores comparable across customers, so the table can be sorted into a campaign
  list that starts with the offers worth most.

Only rules with a single consequent item are used. When several rules recommend the same item to a customer, the
best-scoring one is kept and reported in `rule`/`antecedents`.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import numpy as np
import polars as pl

from clvlens.analytics.basket._matrix import (
    LineCodes,
    check_positive_int,
    distinct_sorted,
    level_column,
    names_from_codes,
    to_polars,
)
from clvlens.data.readers import frame_to_polars
from clvlens.errors import ClvlensError

LIST = pl.List(pl.String)
OFFER_SCHEMA: dict[str, Any] = {
    "customer_id": pl.String,
    "rank": pl.Int32,
    "item": pl.String,
    "item_name": pl.String,
    "score": pl.Float64,
    "confidence": pl.Float64,
    "lift": pl.Float64,
    "item_value": pl.Float64,
    "customer_weight": pl.Float64,
    "antecedents": LIST,
    "rule": pl.String,
}
DEFAULT_LIFT_CAP = 5.0
#: customers ranked at once: bounds the memory of the (customer, rule) pairs on a large log
OFFER_BLOCK = 100_000


def _as_list(frame: pl.DataFrame, column: str) -> pl.Expr:
    """A rules side as List[String], accepting lists or strings joined with " + "."""
    dtype = frame.schema[column]
    if isinstance(dtype, (pl.List, pl.Array)):
        return pl.col(column).cast(LIST)
    return pl.col(column).cast(pl.String).str.split(" + ")


def _rule_table(rules: Any) -> pl.DataFrame:
    if rules is None:
        raise ClvlensError("rules: expected the rules table from association_rules, got None")
    frame = frame_to_polars(rules)
    missing = [column for column in ("antecedents", "consequents", "confidence", "lift") if column not in frame.columns]
    if missing:
        raise ClvlensError(f"rules: missing column {', '.join(missing)}")
    return (
        frame.select(
            _as_list(frame, "antecedents").alias("antecedents"),
            _as_list(frame, "consequents").alias("consequents"),
            pl.col("confidence").cast(pl.Float64),
            pl.col("lift").cast(pl.Float64),
        )
        .filter(pl.col("consequents").list.len() == 1, pl.col("antecedents").list.len() >= 1)
        .with_columns(
            pl.col("consequents").list.first().alias("item"),
            pl.concat_str(
                pl.col("antecedents").list.join(" + "), pl.lit(" -> "), pl.col("consequents").list.first()
            ).alias("rule"),
        )
        .with_row_index("rule_id")
    )


def _customer_weights(customer_value: Any, value_column: str) -> pl.DataFrame | None:
    if customer_value is None:
        return None
    frame = frame_to_polars(customer_value)
    missing = [column for column in ("customer_id", value_column) if column not in frame.columns]
    if missing:
        raise ClvlensError(f"customer_value: missing column {', '.join(missing)}")
    values = frame.select(
        pl.col("customer_id").cast(pl.String),
        pl.col(value_column).cast(pl.Float64, strict=False).clip(lower_bound=0.0).alias("value"),
    ).drop_nulls()
    # a customer listed twice counts once, by the first row; a filter, since `unique` held 174 MB for 1M customers
    # where the filter held 38 (bench/bench_scale_parts.py)
    values = values.filter(pl.col("value").is_finite()).filter(pl.col("customer_id").is_first_distinct())
    mean = values.get_column("value").mean() if values.height else None
    if not mean:  # no values, or all zero: every customer weighs the same
        return None
    return values.select("customer_id", (pl.col("value") / mean).alias("customer_weight"))


def _item_values(lines: LineCodes, rows: np.ndarray) -> pl.DataFrame:
    """Average spend on each item per order containing it (1.0 everywhere when there is no amount column), from the
    lines `rows` (a boolean mask): the item's total spend over the number of distinct orders it is in (lines with no
    order id count as one order), which is the mean of its per-order sums without grouping the lines by order."""
    n_items = lines.items.len()
    if "amount" not in lines.frame.columns:
        return pl.DataFrame({"item_code": np.arange(n_items, dtype=lines.item.dtype)}).with_columns(
            item_value=pl.lit(1.0))
    # the lines outside `rows` go to one spare code, n_items, dropped at the end: no masked copy of the amounts
    item = np.where(rows, lines.item, np.int32(n_items)).astype(lines.item.dtype, copy=False)
    amount = lines.frame.get_column("amount").cast(pl.Float64, strict=False).fill_null(0.0).to_numpy()
    spend = np.bincount(item, weights=amount, minlength=n_items + 1)[:n_items]
    del amount
    # distinct (item, order) pairs: the keys are built and sorted in place, one 10M-line array at a time
    stride = lines.orders.len() + 1
    keys = item.astype(np.int64)
    del item
    keys *= stride
    keys += lines.order
    keys += 1
    pairs = distinct_sorted(keys)
    del keys
    orders = np.bincount(pairs // stride, minlength=n_items + 1)[:n_items]
    present = np.flatnonzero(orders)
    return pl.DataFrame({"item_code": present.astype(lines.item.dtype), "item_value": spend[present] / orders[present]})


def _distinct_pairs(customer: np.ndarray, item: np.ndarray, n_items: int) -> pl.DataFrame:
    """The distinct (customer, item_code) pairs of the lines, sorted, by one in-place sort of a combined key: a
    hashed group-by of 10M lines holds several times their memory at once."""
    keys = customer.astype(np.int64)
    keys *= n_items
    keys += item
    keys = distinct_sorted(keys)
    return pl.DataFrame({"customer": (keys // n_items).astype(customer.dtype),
                         "item_code": (keys % n_items).astype(item.dtype)})


def _ranked_block(
    history: pl.DataFrame, antecedent_codes: pl.DataFrame, sizes: pl.DataFrame, rule_columns: pl.DataFrame,
    weights: pl.DataFrame | None, lift_cap: float, limit: int,
) -> pl.DataFrame:
    """The top ``limit`` offers of the customers in ``history`` (customer, item_code bought), scored as in the
    module docstring: rules whose every antecedent the customer bought, for items the customer never bought."""
    applicable = (
        history.lazy().join(antecedent_codes.lazy(), on="item_code")
        .group_by("customer", "rule_id")
        .agg(pl.len().alias("matched"))
        .join(sizes.lazy(), on="rule_id")
        .filter(pl.col("matched") == pl.col("needed"))
        .select("customer", "rule_id")
    )
    offers = applicable.join(rule_columns.lazy(), on="rule_id").join(
        history.lazy(), on=["customer", "item_code"], how="anti")
    if weights is None:
        offers = offers.with_columns(customer_weight=pl.lit(1.0))
    else:
        offers = offers.join(weights.lazy(), on="customer", how="left").with_columns(
            pl.col("customer_weight").fill_null(1.0))
    return (
        offers.with_columns(
            (
                pl.col("confidence")
                * pl.col("item_value")
                * pl.min_horizontal(pl.col("lift"), pl.lit(float(lift_cap)))
                * pl.col("customer_weight")
            ).alias("score")
        )
        .sort(["customer", "score", "item", "rule"], descending=[False, True, False, False])
        .unique(["customer", "item"], keep="first", maintain_order=True)
        .with_columns(pl.int_range(1, pl.len() + 1).over("customer").cast(pl.Int32).alias("rank"))
        .filter(pl.col("rank") <= limit)
        .collect()
    )


def next_best_offers(
    transactions: Any,
    rules: Any,
    customer_value: Any = None,
    *,
    top_n: int = 3,
    value_column: str = "clv",
    level: str = "item",
    lift_cap: float = DEFAULT_LIFT_CAP,
) -> pl.DataFrame:
    """Top `top_n` offers per customer: items they never bought, recommended by rules whose antecedent they did buy.

    `rules` is the table of `association_rules` (antecedents/consequents as lists or " + "-joined strings, with
    confidence and lift); `customer_value` is an optional frame with customer_id and `value_column` (projected CLV).
    Returns customer_id, rank (1..top_n), item, item_name, score, confidence, lift, item_value, customer_weight,
    antecedents and rule, sorted by customer and rank. The score formula is in the module docstring.
    """
    column = level_column(level)
    frame = to_polars(transactions, ("customer_id", column))
    with_names = level != "category" and "item_name" in frame.columns
    lines = LineCodes.of(frame, column, with_names=with_names, with_orders="order_id" in frame.columns)
    return offers_from_codes(lines, rules, customer_value, top_n=top_n, value_column=value_column, lift_cap=lift_cap)


def offers_from_codes(
    lines: LineCodes,
    rules: Any,
    customer_value: Any = None,
    *,
    top_n: int = 3,
    value_column: str = "clv",
    lift_cap: float = DEFAULT_LIFT_CAP,
    names: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """`next_best_offers` on encoded lines: every join and group-by runs on integer codes, labels come back last.

    `names` is `names_from_codes(lines)` when the caller has it already."""
    limit = check_positive_int("top_n", top_n)
    if isinstance(lift_cap, bool) or not isinstance(lift_cap, (int, float)) or not lift_cap > 0:
        raise ClvlensError(f"lift_cap: expected a number > 0, got {lift_cap!r}")
    table = _rule_table(rules)
    weights = _customer_weights(customer_value, value_column)
    if table.is_empty() or lines.frame.is_empty() or lines.customer is None or lines.customers is None:
        return pl.DataFrame(schema=OFFER_SCHEMA)
    customers = lines.customers
    codes = pl.LazyFrame({"item": lines.items, "item_code": np.arange(lines.items.len(), dtype=lines.item.dtype)})
    # only the lines of items that some rule names can make a rule apply or rule an offer out
    named = pl.concat([table.get_column("antecedents").explode(), table.get_column("item")])
    wanted = lines.items.is_in(named.implode()).to_numpy()
    item_rows = lines.item >= 0
    item_rows[item_rows] = wanted[lines.item[item_rows]]
    antecedent_items = table.lazy().select("rule_id", pl.col("antecedents").alias("item")).explode("item").unique()
    # counted before the codes are joined: an antecedent item the log never sold leaves the rule unmatched
    sizes = antecedent_items.group_by("rule_id").agg(pl.len().alias("needed")).collect()
    antecedent_codes = antecedent_items.join(codes, on="item").select("rule_id", "item_code").collect()
    rule_columns = (
        table.lazy()
        .select("rule_id", "item", "confidence", "lift", "antecedents", "rule")
        .join(codes, on="item", how="left")
        .with_columns(pl.col("item_code").fill_null(-1))
        .join(_item_values(lines, item_rows).lazy(), on="item_code", how="left")
        .with_columns(pl.col("item_value").fill_null(0.0))
        .collect()
    )
    # the customers' (customer, item) history after the item values: their transient arrays are not held together
    rows = item_rows & (lines.customer >= 0)
    history = _distinct_pairs(lines.customer[rows], lines.item[rows], lines.items.len())
    del rows, item_rows
    coded_weights = None
    if weights is not None:
        coded = weights.join(pl.DataFrame({"customer_id": customers}).with_row_index("customer"), on="customer_id")
        coded_weights = coded.select(pl.col("customer").cast(history.schema["customer"]), "customer_weight")
    # customers are ranked a block at a time: (customer, rule) pairs can be ten times the customers; the history
    # is sorted by customer, so a block is a slice of it
    firsts = np.arange(0, customers.len() + OFFER_BLOCK, OFFER_BLOCK)
    edges = np.searchsorted(history.get_column("customer").to_numpy(), firsts)
    blocks = [
        _ranked_block(history.slice(int(start), int(stop - start)),
                      antecedent_codes, sizes, rule_columns, coded_weights, lift_cap, limit)
        for start, stop in pairwise(edges) if stop > start
    ]
    if not blocks:
        return pl.DataFrame(schema=OFFER_SCHEMA)
    ranked = pl.concat(blocks)
    labelled = ranked.with_columns(customer_id=customers.gather(ranked.get_column("customer"))).join(
        names if names is not None else names_from_codes(lines), on="item", how="left"
    )
    return labelled.select(
        [
            (pl.coalesce("item_name", "item") if name == "item_name" else pl.col(name)).cast(dtype).alias(name)
            for name, dtype in OFFER_SCHEMA.items()
        ]
    ).sort(["customer_id", "rank"])
