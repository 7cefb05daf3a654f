"""Next-best-offer per customer from association rules, as Polars joins (no loop over customers).

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

from typing import Any

import polars as pl

from clvlens.analytics.basket._matrix import check_positive_int, item_names, level_column, to_polars
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
    values = values.filter(pl.col("value").is_finite()).unique("customer_id", keep="first")
    mean = values.get_column("value").mean() if values.height else None
    if not mean:  # no values, or all zero: every customer weighs the same
        return None
    return values.select("customer_id", (pl.col("value") / mean).alias("customer_weight"))


def _item_values(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """Average spend on each item per order containing it (1.0 everywhere when there is no amount column)."""
    if "amount" not in frame.columns:
        return frame.select(pl.col(column).cast(pl.String).alias("item")).unique().with_columns(item_value=pl.lit(1.0))
    keys = [pl.col(column).cast(pl.String).alias("item")]
    if "order_id" in frame.columns:
        keys.append(pl.col("order_id"))
    lines = frame.select(*keys, pl.col("amount").cast(pl.Float64, strict=False)).drop_nulls("item")
    per_order = lines.group_by(lines.columns[:-1]).agg(pl.col("amount").sum())
    return per_order.group_by("item").agg(pl.col("amount").mean().fill_null(0.0).alias("item_value"))


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
    limit = check_positive_int("top_n", top_n)
    if isinstance(lift_cap, bool) or not isinstance(lift_cap, (int, float)) or not lift_cap > 0:
        raise ClvlensError(f"lift_cap: expected a number > 0, got {lift_cap!r}")
    column = level_column(level)
    frame = to_polars(transactions, ("customer_id", column))
    table = _rule_table(rules)
    weights = _customer_weights(customer_value, value_column)
    if table.is_empty() or frame.is_empty():
        return pl.DataFrame(schema=OFFER_SCHEMA)
    history = (
        frame.lazy()
        .select(pl.col("customer_id").cast(pl.String), pl.col(column).cast(pl.String).alias("item"))
        .drop_nulls()
        .unique()
    )
    antecedent_items = table.lazy().select("rule_id", pl.col("antecedents").alias("item")).explode("item").unique()
    sizes = antecedent_items.group_by("rule_id").agg(pl.len().alias("needed"))
    applicable = (
        history.join(antecedent_items, on="item")
        .group_by("customer_id", "rule_id")
        .agg(pl.len().alias("matched"))
        .join(sizes, on="rule_id")
        .filter(pl.col("matched") == pl.col("needed"))
        .select("customer_id", "rule_id")
    )
    rule_columns = table.lazy().select("rule_id", "item", "confidence", "lift", "antecedents", "rule")
    offers = (
        applicable.join(rule_columns, on="rule_id")
        .join(history, on=["customer_id", "item"], how="anti")
        .join(_item_values(frame, column).lazy(), on="item", how="left")
        .with_columns(pl.col("item_value").fill_null(0.0))
    )
    if weights is None:
        offers = offers.with_columns(customer_weight=pl.lit(1.0))
    else:
        offers = offers.join(weights.lazy(), on="customer_id", how="left").with_columns(
            pl.col("customer_weight").fill_null(1.0)
        )
    ranked = (
        offers.with_columns(
            (
                pl.col("confidence")
                * pl.col("item_value")
                * pl.min_horizontal(pl.col("lift"), pl.lit(float(lift_cap)))
                * pl.col("customer_weight")
            ).alias("score")
        )
        .sort(["customer_id", "score", "item", "rule"], descending=[False, True, False, False])
        .unique(["customer_id", "item"], keep="first", maintain_order=True)
        .with_columns(pl.int_range(1, pl.len() + 1).over("customer_id").cast(pl.Int32).alias("rank"))
        .filter(pl.col("rank") <= limit)
        .join(item_names(frame, level=level).lazy(), on="item", how="left")
        .with_columns(pl.coalesce("item_name", "item").alias("item_name"))
        .collect()
    )
    return ranked.select([pl.col(name).cast(dtype) for name, dtype in OFFER_SCHEMA.items()]).sort(
        ["customer_id", "rank"]
    )
