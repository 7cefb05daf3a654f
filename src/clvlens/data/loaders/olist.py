"""Olist (Kaggle `olistbr/brazilian-ecommerce`): nine CSVs joined into one order-line transaction table.

Customer = `customer_unique_id` (Olist's `customer_id` is one per order), region = `customer_state`, revenue of an
order = the sum of its payments, shared over its item lines in proportion to price + freight. Product categories are
translated to English where the translation table has them. Only delivered orders are purchases: the others are
quarantined as `not_delivered`. The input rows counted for accounting are the orders joined to their items (an
order without items is one row).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from clvlens.data.canonical import to_canonical
from clvlens.data.cleaning import CleanedData, CleaningRules, clean
from clvlens.data.readers import MALFORMED, RawTable, read_table
from clvlens.data.schema import SOURCE_ROW
from clvlens.errors import ClvlensError

REQUIRED_TABLES = ("olist_orders_dataset", "olist_customers_dataset", "olist_order_payments_dataset")
OPTIONAL_TABLES = (
    "olist_order_items_dataset",
    "olist_products_dataset",
    "product_category_name_translation",
    "olist_sellers_dataset",
)
_MAPPING = {
    "customer_id": "customer_unique_id",
    "order_id": "order_id",
    "timestamp": "order_purchase_timestamp",
    "amount": "line_revenue",
    "quantity": "quantity",
    "unit_price": "price",
    "item_id": "product_id",
    "item_name": "item_name",
    "category": "category",
    "region": "customer_state",
}


def find_table(folder: Path, name: str) -> Path | None:
    """The file for one Olist table in `folder` (.csv or .csv.gz), or None."""
    for suffix in (".csv", ".csv.gz"):
        candidate = folder / f"{name}{suffix}"
        if candidate.exists():
            return candidate
    return None


def read_olist_table(folder: Path, name: str, columns: tuple[str, ...]) -> pl.DataFrame | None:
    """Read one table as strings, checking that it has the named columns; None when the file is absent."""
    path = find_table(folder, name)
    if path is None:
        return None
    frame = read_table(path, format="csv").frame.drop(SOURCE_ROW)
    if MALFORMED in frame.columns:
        # Olist rows feed joins, where a broken row would vanish unseen: refuse it, naming the line
        notes = frame.get_column(MALFORMED).drop_nulls()
        if notes.len():
            raise ClvlensError(f"{path}: malformed record, {notes[0]} ({notes.len()} such records)")
        frame = frame.drop(MALFORMED)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ClvlensError(f"{path}: missing column '{missing[0]}' (columns: {', '.join(frame.columns)})")
    return frame


def order_revenue(payments: pl.DataFrame) -> pl.DataFrame:
    """Revenue per order: the sum of `payment_value` over its payments (instalments and vouchers included)."""
    return payments.group_by("order_id").agg(
        pl.col("payment_value").cast(pl.Float64, strict=False).sum().alias("revenue")
    )


def product_categories(products: pl.DataFrame, translation: pl.DataFrame | None) -> pl.DataFrame:
    """product_id -> category in English where translated, else the Portuguese name, else "unknown"."""
    frame = products.select("product_id", "product_category_name")
    if translation is not None:
        frame = frame.join(translation, on="product_category_name", how="left")
        english = pl.col("product_category_name_english")
    else:
        english = pl.lit(None, pl.String)
    return frame.select(
        "product_id",
        pl.coalesce(english, pl.col("product_category_name"), pl.lit("unknown")).alias("category"),
    )


def load_olist(folder: str | Path, *, rules: CleaningRules | None = None) -> CleanedData:
    """Load an Olist folder into clean transactions (one row per order line of a delivered order)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ClvlensError(f"{folder}: not a folder; --format olist expects the folder of Olist CSVs")
    missing = [name for name in REQUIRED_TABLES if find_table(folder, name) is None]
    if missing:
        raise ClvlensError(f"{folder}: missing Olist table {missing[0]}.csv (needs {', '.join(REQUIRED_TABLES)})")
    orders = read_olist_table(folder, "olist_orders_dataset", ("order_id", "customer_id", "order_status",
                                                                "order_purchase_timestamp"))
    customers = read_olist_table(folder, "olist_customers_dataset", ("customer_id", "customer_unique_id",
                                                                      "customer_state"))
    payments = read_olist_table(folder, "olist_order_payments_dataset", ("order_id", "payment_value"))
    items = read_olist_table(folder, "olist_order_items_dataset", ("order_id", "order_item_id", "product_id",
                                                                    "price", "freight_value"))
    products = read_olist_table(folder, "olist_products_dataset", ("product_id", "product_category_name"))
    translation = read_olist_table(folder, "product_category_name_translation",
                                   ("product_category_name", "product_category_name_english"))
    sellers = read_olist_table(folder, "olist_sellers_dataset", ("seller_id", "seller_state"))
    assert orders is not None and customers is not None and payments is not None

    lines = orders.select("order_id", "customer_id", "order_status", "order_purchase_timestamp").join(
        customers.select("customer_id", "customer_unique_id", "customer_state"), on="customer_id", how="left"
    )
    lines = lines.join(order_revenue(payments), on="order_id", how="left")
    if items is not None:
        item_cols = ["order_id", "order_item_id", "product_id", "price", "freight_value"]
        if "seller_id" in items.columns:
            item_cols.append("seller_id")
        lines = lines.join(items.select(item_cols), on="order_id", how="left")
        weight = pl.col("price").cast(pl.Float64, strict=False).fill_null(0) + pl.col("freight_value").cast(
            pl.Float64, strict=False
        ).fill_null(0)
        total_weight = weight.sum().over("order_id")
        lines = lines.with_columns(
            pl.when(total_weight > 0)
            .then(pl.col("revenue") * weight / total_weight)
            .otherwise(pl.col("revenue") / pl.len().over("order_id"))
            .alias("line_revenue"),
            pl.when(pl.col("order_item_id").is_not_null()).then(pl.lit("1")).alias("quantity"),
        )
    else:
        lines = lines.with_columns(
            pl.col("revenue").alias("line_revenue"),
            *(pl.lit(None, pl.String).alias(c) for c in ("order_item_id", "product_id", "price", "quantity")),
        )
    if products is not None and "product_id" in lines.columns:
        lines = lines.join(product_categories(products, translation), on="product_id", how="left")
    else:
        lines = lines.with_columns(pl.lit(None, pl.String).alias("category"))
    if sellers is not None and "seller_id" in lines.columns:
        lines = lines.join(sellers.select("seller_id", "seller_state"), on="seller_id", how="left")
    lines = lines.with_columns(
        pl.when(pl.col("product_id").is_not_null())
        .then(pl.concat_str(pl.col("category").fill_null("item"), pl.lit(" "), pl.col("product_id").str.slice(0, 8)))
        .alias("item_name")
    )
    lines = lines.sort("order_purchase_timestamp", "order_id", "order_item_id", nulls_last=True)
    lines = lines.with_row_index(SOURCE_ROW, offset=1).with_columns(pl.col(SOURCE_ROW).cast(pl.Int64))
    extras = tuple(c for c in ("order_status", "seller_id", "seller_state") if c in lines.columns)
    canonical, _ = to_canonical(RawTable(lines, str(folder)), _MAPPING, date_format="%Y-%m-%d %H:%M:%S",
                                keep_columns=extras)
    # Olist payments carry no cancellation prefix; "C..." would never match its hex ids, but be explicit
    rules = rules or CleaningRules(cancellation_prefix=None)
    return clean(canonical, rules, source_name=str(folder), release=True)
