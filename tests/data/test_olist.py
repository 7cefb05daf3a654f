"""The Olist loader: on an Olist-format folder from the demo store, and its parts on the four real tables."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from clvlens.data import detect_format, load_olist, load_source
from clvlens.data.demo import generate_demo_store, write_olist_folder
from clvlens.data.loaders.olist import order_revenue, product_categories, read_olist_table
from clvlens.errors import ClvlensError


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory: pytest.TempPathFactory):
    store = generate_demo_store(n_customers=1500, seed=11, olist_like=True)
    folder = write_olist_folder(store, tmp_path_factory.mktemp("olist"))
    return store, folder


def test_demo_folder_loads_with_accounting(demo_folder) -> None:
    store, folder = demo_folder
    assert detect_format(folder) == "olist"
    result = load_source(folder)
    report = result.report
    assert report.input_rows == result.transactions.height + result.quarantine.height
    assert set(result.quarantine["reason"]) == {"not_delivered"}
    orders = pl.read_csv(folder / "olist_orders_dataset.csv")
    delivered = orders.filter(pl.col("order_status") == "delivered")
    assert result.transactions["order_id"].n_unique() == delivered.height
    # revenue = sum of payments of delivered orders, shared over item lines without loss
    payments = pl.read_csv(folder / "olist_order_payments_dataset.csv").join(delivered, on="order_id", how="semi")
    assert result.transactions["amount"].sum() == pytest.approx(payments["payment_value"].sum(), rel=1e-9)
    # the person, not Olist's per-order customer_id, is the customer; regions are states
    persons = pl.read_csv(folder / "olist_customers_dataset.csv")["customer_unique_id"]
    assert set(result.transactions["customer_id"]) <= set(persons)
    assert result.transactions["region"].str.len_chars().max() == 2
    # categories are translated to English
    categories = set(result.transactions["category"].drop_nulls())
    assert categories and categories <= set(store.catalogue["category"])


def test_missing_required_table_is_named(demo_folder, tmp_path: Path) -> None:
    _, folder = demo_folder
    partial = tmp_path / "partial"
    shutil.copytree(folder, partial)
    (partial / "olist_customers_dataset.csv").unlink()
    with pytest.raises(ClvlensError, match=r"missing Olist table olist_customers_dataset\.csv"):
        load_olist(partial)


def test_real_tables_alone_are_not_enough(olist_real_folder: Path) -> None:
    # only payments, products, sellers and the translation are available: the loader says what is missing
    with pytest.raises(ClvlensError, match=r"missing Olist table olist_orders_dataset\.csv"):
        load_olist(olist_real_folder)


def test_real_payments_revenue(olist_real_folder: Path) -> None:
    payments = read_olist_table(olist_real_folder, "olist_order_payments_dataset", ("order_id", "payment_value"))
    assert payments is not None and payments.height == 103_886
    revenue = order_revenue(payments)
    assert revenue.height == 99_440
    total = payments["payment_value"].cast(pl.Float64).sum()
    assert revenue["revenue"].sum() == pytest.approx(total, rel=1e-12)


def test_real_product_categories_translated(olist_real_folder: Path) -> None:
    products = read_olist_table(olist_real_folder, "olist_products_dataset", ("product_id", "product_category_name"))
    translation = read_olist_table(
        olist_real_folder,
        "product_category_name_translation",
        ("product_category_name", "product_category_name_english"),
    )
    assert products is not None and translation is not None
    # the translation file's UTF-8 BOM and CRLF must not leak into the column names or values
    assert translation.columns == ["product_category_name", "product_category_name_english"]
    assert not translation["product_category_name_english"].str.contains("\r").any()
    categories = product_categories(products, translation)
    assert categories.height == 32_951
    by_id = dict(categories.iter_rows())
    assert by_id["1e9e8ef04dbcff4541ed26657ea517e5"] == "perfumery"
    assert categories["category"].null_count() == 0
    # products without a category are "unknown"; names missing from the translation stay in Portuguese
    assert (categories["category"] == "unknown").sum() == products["product_category_name"].null_count()


def test_demo_folder_with_real_catalogue_tables(demo_folder, olist_real_folder: Path, tmp_path: Path) -> None:
    """The demo's orders joined to the real products, sellers and translation files."""
    _, folder = demo_folder
    mixed = tmp_path / "mixed"
    shutil.copytree(folder, mixed)
    for name in ("olist_products_dataset", "olist_sellers_dataset", "product_category_name_translation"):
        (mixed / f"{name}.csv").unlink()
        shutil.copy(olist_real_folder / f"{name}.csv.gz", mixed / f"{name}.csv.gz")
    items = pl.read_csv(mixed / "olist_order_items_dataset.csv")
    real_products = pl.read_csv(olist_real_folder / "olist_products_dataset.csv.gz")["product_id"]
    real_sellers = pl.read_csv(olist_real_folder / "olist_sellers_dataset.csv.gz")["seller_id"]
    ids = items["product_id"].unique().sort()
    product_map = dict(zip(ids, real_products.head(ids.len()), strict=True))
    seller_ids = items["seller_id"].unique().sort()
    seller_map = dict(zip(seller_ids, real_sellers.head(seller_ids.len()), strict=True))
    items.with_columns(
        pl.col("product_id").replace_strict(product_map), pl.col("seller_id").replace_strict(seller_map)
    ).write_csv(mixed / "olist_order_items_dataset.csv")
    result = load_olist(mixed)
    assert result.report.input_rows == result.transactions.height + result.quarantine.height
    lines = result.transactions.filter(pl.col("item_id").is_not_null())
    assert lines["category"].null_count() == 0
    assert lines["seller_state"].null_count() == 0
    assert "perfumery" in set(lines["category"]) or lines["category"].n_unique() > 5
