"""Market-basket module: agreement with mlxtend, planted structure, edge cases and next-best offers."""

from __future__ import annotations

import itertools
import math

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from clvlens.analytics.basket import (
    BasketMatrix,
    association_rules,
    basket_matrix,
    basket_tables,
    bundles,
    bundles_bar,
    frequent_itemsets,
    item_names,
    next_best_offers,
    rules_scatter,
)
from clvlens.errors import ClvlensError

MLX_METRICS = {
    "antecedent support": "antecedent_support",
    "consequent support": "consequent_support",
    "support": "support",
    "confidence": "confidence",
    "lift": "lift",
    "leverage": "leverage",
    "conviction": "conviction",
    "zhangs_metric": "zhangs_metric",
}


@pytest.fixture(scope="module")
def demo():
    from clvlens.data.demo import generate_demo_store

    return generate_demo_store(n_customers=5000, seed=7)


def _lines(rows: list[tuple[str, str, str, float]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["customer_id", "order_id", "item_id", "amount"], orient="row")


def _mlxtend(onehot: pd.DataFrame, min_support: float, min_confidence: float, max_len: int | None = None):
    frequent_patterns = pytest.importorskip("mlxtend.frequent_patterns", reason="mlxtend (bench extra) not installed")
    itemsets = frequent_patterns.apriori(onehot, min_support=min_support, use_colnames=True, max_len=max_len)
    rules = frequent_patterns.association_rules(
        itemsets, num_itemsets=len(onehot), metric="confidence", min_threshold=min_confidence
    )
    return itemsets, rules


def _assert_same_as_mlxtend(ours_sets: pl.DataFrame, ours_rules: pl.DataFrame, mlx_sets, mlx_rules) -> None:
    theirs = {frozenset(s): v for s, v in zip(mlx_sets["itemsets"], mlx_sets["support"], strict=True)}
    mine = {frozenset(s): v for s, v in zip(ours_sets["itemset"].to_list(), ours_sets["support"], strict=True)}
    assert mine.keys() == theirs.keys()
    for key, value in mine.items():
        assert value == pytest.approx(theirs[key], rel=1e-12)
    assert ours_rules.height == len(mlx_rules) > 0
    theirs_rules = {
        (frozenset(a), frozenset(c)): row
        for a, c, row in zip(
            mlx_rules["antecedents"], mlx_rules["consequents"], mlx_rules[list(MLX_METRICS)].to_numpy(), strict=True
        )
    }
    ours = ours_rules.select("antecedents", "consequents", *MLX_METRICS.values())
    for antecedents, consequents, *values in ours.iter_rows():
        expected = theirs_rules[(frozenset(antecedents), frozenset(consequents))]
        np.testing.assert_allclose(np.array(values, dtype=float), expected.astype(float), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize(("min_support", "longest"), [(0.02, 2), (0.012, 4)])
def test_matches_mlxtend_on_online_retail_sample(online_retail, min_support: float, longest: int) -> None:
    lines = online_retail.transactions.sort("timestamp")
    first_orders = lines.get_column("order_id").unique(maintain_order=True).head(2000)
    sample = lines.filter(pl.col("order_id").is_in(first_orders.implode()))
    frame = sample.select("order_id", "item_id").to_pandas()
    onehot = pd.crosstab(frame["order_id"], frame["item_id"]).astype(bool)
    mlx_sets, mlx_rules = _mlxtend(onehot, min_support, 0.2)
    ours_sets = frequent_itemsets(sample, min_support=min_support)
    ours_rules = association_rules(sample, min_support=min_support, min_confidence=0.2, max_len=None)
    assert ours_sets.get_column("length").max() == longest
    _assert_same_as_mlxtend(ours_sets, ours_rules, mlx_sets, mlx_rules)


def test_matches_mlxtend_at_category_level_on_demo_store(demo) -> None:
    onehot = pd.crosstab(demo.clean["order_id"], demo.clean["category"]).astype(bool)
    mlx_sets, mlx_rules = _mlxtend(onehot, 0.005, 0.05)
    tables = basket_tables(demo.clean, level="category", min_support=0.005, min_confidence=0.05, max_len=None)
    assert tables.n_orders == len(onehot)
    _assert_same_as_mlxtend(tables.itemsets, tables.rules, mlx_sets, mlx_rules)


def test_min_lift_matches_mlxtend_lift_threshold(demo) -> None:
    frequent_patterns = pytest.importorskip("mlxtend.frequent_patterns", reason="mlxtend (bench extra) not installed")
    onehot = pd.crosstab(demo.clean["order_id"], demo.clean["item_id"]).astype(bool)
    mlx_sets = frequent_patterns.apriori(onehot, min_support=0.004, use_colnames=True)
    mlx_rules = frequent_patterns.association_rules(mlx_sets, num_itemsets=len(onehot), metric="lift", min_threshold=2)
    tables = basket_tables(demo.clean, min_support=0.004, min_confidence=0.0, min_lift=2, max_len=None)
    _assert_same_as_mlxtend(tables.itemsets, tables.rules, mlx_sets, mlx_rules)
    dropped = basket_tables(demo.clean, min_support=0.004, exclude=["SKU-0001"], level="item")
    assert "SKU-0001" not in set(dropped.itemsets["itemset"].explode()) and dropped.n_orders == tables.n_orders
    by_category = basket_tables(demo.clean, level="category", min_support=0.01, min_confidence=0.1, top_n=1)
    bought = pl.from_pandas(demo.clean[["customer_id", "category"]]).rename({"category": "item"})
    offers = by_category.next_best_offer
    assert offers.height > 0 and offers.join(bought, on=["customer_id", "item"], how="semi").is_empty()
    assert (offers["rank"] == 1).all() and (offers["item"] == offers["item_name"]).all()


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.sets(st.sampled_from("abcdef"), min_size=1, max_size=5), min_size=1, max_size=40),
    st.sampled_from([0.05, 0.1, 0.2, 0.34, 0.5]),
)
def test_itemsets_equal_brute_force(baskets: list[set[str]], min_support: float) -> None:
    rows = [("c", f"o{i}", item, 1.0) for i, basket in enumerate(baskets) for item in sorted(basket)]
    found = frequent_itemsets(_lines(rows), min_support=min_support)
    got = {tuple(s): c for s, c in zip(found["itemset"].to_list(), found["count"], strict=True)}
    expected = {}
    for size in range(1, 7):
        for combo in itertools.combinations("abcdef", size):
            count = sum(set(combo) <= basket for basket in baskets)
            if count and count / len(baskets) >= min_support:
                expected[combo] = count
    assert got == expected


def test_hand_checked_metrics() -> None:
    baskets = [{"a", "b", "c"}, {"a", "b", "c"}, {"a", "d"}, {"a", "c"}]
    rows = [("c", f"o{i}", item, 1.0) for i, basket in enumerate(baskets) for item in sorted(basket)]
    rules = association_rules(_lines(rows), min_support=0.5, min_confidence=0.0)
    by_rule = {row["rule"]: row for row in rules.iter_rows(named=True)}
    b_to_c = by_rule["b -> c"]  # s(b)=.5, s(c)=.75, s(bc)=.5
    assert b_to_c["confidence"] == 1.0 and b_to_c["lift"] == pytest.approx(4 / 3)
    assert b_to_c["leverage"] == pytest.approx(0.125) and math.isinf(b_to_c["conviction"])
    assert b_to_c["zhangs_metric"] == pytest.approx(0.125 / max(0.5 * 0.5, 0.5 * 0.25))
    c_to_b = by_rule["c -> b"]
    assert c_to_b["conviction"] == pytest.approx(0.5 / (1 - 2 / 3)) and c_to_b["zhangs_metric"] == pytest.approx(1.0)
    assert by_rule["a -> b"]["zhangs_metric"] == 0.0  # s(a) = 1: 0/0 is reported as 0, like mlxtend
    assert by_rule["b -> a + c"]["count"] == 2


def test_planted_pairs_are_the_top_rules(demo) -> None:
    planted = {frozenset(pair) for pair in demo.truth.planted_pairs}
    rules = association_rules(demo.clean, min_support=0.01, min_confidence=0.2, max_len=2)
    top = rules.head(2 * len(planted))
    sides = zip(top["antecedents"].to_list(), top["consequents"].to_list(), strict=True)
    assert {frozenset(a + c) for a, c in sides} == planted
    assert top.get_column("lift").min() > 5
    tables = basket_tables(demo.clean, min_support=0.01)
    pairs = tables.bundles.filter(pl.col("size") == 2).head(len(planted))
    assert {frozenset(items) for items in pairs["items"].to_list()} == planted
    names = item_names(demo.clean).filter(pl.col("item").is_in(pairs["items"].explode().implode()))
    assert set(pairs["item_names"].explode()) == set(names["item_name"])


def test_basket_matrix_is_sparse_with_filters(demo) -> None:
    full = basket_matrix(demo.clean)
    assert isinstance(full, BasketMatrix) and sp.issparse(full.matrix) and full.matrix.dtype == bool
    assert full.matrix.shape == (demo.clean["order_id"].nunique(), demo.clean["item_id"].nunique())
    assert full.items.is_sorted() and full.matrix.nnz == len(demo.clean[["order_id", "item_id"]].drop_duplicates())
    counts = full.item_counts()
    popular = full.items.filter(pl.Series(counts >= 100)).to_list()
    filtered = basket_matrix(demo.clean, include=popular, exclude=popular[:2], min_item_count=100)
    assert filtered.items.to_list() == popular[2:] and filtered.n_orders == full.n_orders
    categories = basket_matrix(pl.from_pandas(demo.clean), level="category")
    assert categories.n_items == demo.clean["category"].nunique()


def test_empty_and_degenerate_inputs_give_empty_tables() -> None:
    empty = pd.DataFrame({"customer_id": [], "order_id": [], "item_id": [], "amount": []}, dtype="object")
    tables = basket_tables(empty)
    assert tables.n_orders == 0
    for table in (tables.itemsets, tables.rules, tables.bundles, tables.next_best_offer):
        assert table.is_empty() and table.width > 0
    singles = _lines([("c1", "o1", "a", 1.0), ("c2", "o2", "b", 2.0), ("c1", "o3", "a", 1.0)])
    only_singles = basket_tables(singles, min_support=0.1)
    assert only_singles.itemsets.height == 2 and only_singles.rules.is_empty()
    assert only_singles.next_best_offer.is_empty() and only_singles.bundles.is_empty()
    too_high = basket_tables(singles, min_support=0.9)
    assert too_high.itemsets.is_empty() and too_high.rules.is_empty()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"min_support": 0}, "min_support"),
        ({"min_support": 1.5}, "min_support"),
        ({"min_support": "lots"}, "min_support"),
        ({"min_confidence": -0.1}, "min_confidence"),
        ({"min_confidence": 2}, "min_confidence"),
        ({"max_len": 0}, "max_len"),
        ({"top_n": 0}, "top_n"),
        ({"level": "sku"}, "level"),
    ],
)
def test_bad_arguments_raise_one_line_errors(kwargs: dict, field: str) -> None:
    lines = _lines([("c1", "o1", "a", 1.0), ("c1", "o1", "b", 1.0)])
    with pytest.raises(ClvlensError, match=field) as caught:
        basket_tables(lines, **kwargs)
    assert "\n" not in str(caught.value)


def test_missing_columns_are_named() -> None:
    with pytest.raises(ClvlensError, match="item_id"):
        basket_matrix(pl.DataFrame({"order_id": ["o1"]}))
    with pytest.raises(ClvlensError, match="min_lift"):
        association_rules(_lines([("c", "o", "a", 1.0)]), min_lift=-1)
    with pytest.raises(ClvlensError, match="rules: missing column consequents"):
        next_best_offers(_lines([("c", "o", "a", 1.0)]), pl.DataFrame({"antecedents": [["a"]]}))
    with pytest.raises(ClvlensError, match="customer_value: missing column clv"):
        rules = pl.DataFrame({"antecedents": [["a"]], "consequents": [["b"]], "confidence": [1.0], "lift": [1.0]})
        next_best_offers(_lines([("c", "o", "a", 1.0)]), rules, pl.DataFrame({"customer_id": ["c"]}))


def _tiny_store() -> tuple[pl.DataFrame, pl.DataFrame]:
    lines = _lines(
        [
            ("C1", "o1", "x", 10.0),
            ("C1", "o1", "y", 20.0),
            ("C2", "o2", "x", 10.0),
            ("C3", "o3", "x", 10.0),
            ("C3", "o3", "y", 20.0),
            ("C3", "o4", "z", 50.0),
            ("C3", "o4", "z", 50.0),
        ]
    ).with_columns(item_name=pl.col("item_id").str.to_uppercase() + pl.lit(" thing"))
    rules = pl.DataFrame(
        {
            "antecedents": [["x"], ["x"], ["x", "y"], ["z"], ["x"]],
            "consequents": [["y"], ["z"], ["z"], ["x"], ["y", "z"]],
            "confidence": [0.5, 0.2, 0.4, 1.0, 0.3],
            "lift": [2.0, 8.0, 3.0, 1.0, 9.0],
        }
    )
    return lines, rules


def test_next_best_offer_hand_checked() -> None:
    lines, rules = _tiny_store()
    clv = pd.DataFrame({"customer_id": ["C1", "C2"], "clv": [100.0, 300.0]})  # weights 0.5 and 1.5; C3 gets 1
    offers = next_best_offers(lines, rules, clv, top_n=3)
    # value(z) = 100 per order; C1: max(0.2*100*min(8,5)*0.5, 0.4*100*3*0.5) = 60 via x + y -> z
    # C2: z = 0.2*100*5*1.5 = 150, y = 0.5*20*2*1.5 = 30; C3 has bought everything the rules offer.
    expected = [
        ("C1", 1, "z", "Z thing", 60.0, "x + y -> z"),
        ("C2", 1, "z", "Z thing", 150.0, "x -> z"),
        ("C2", 2, "y", "Y thing", 30.0, "x -> y"),
    ]
    got = offers.select("customer_id", "rank", "item", "item_name", "score", "rule").rows()
    assert got == [(*row[:4], pytest.approx(row[4]), row[5]) for row in expected]
    unweighted = next_best_offers(lines, rules, top_n=1)
    assert unweighted.select("customer_id", "item", "score").rows() == [("C1", "z", 120.0), ("C2", "z", 100.0)]
    joined = rules.with_columns(pl.col("antecedents").list.join(" + "), pl.col("consequents").list.join(" + "))
    assert next_best_offers(lines, joined.to_pandas(), clv).equals(offers)
    # a customer listed again counts by the first usable row: an infinite or missing value is passed over
    repeated = pd.DataFrame({"customer_id": ["C2", "C1", "C2", "C1"], "clv": [np.inf, 100.0, 300.0, 900.0]})
    assert next_best_offers(lines, rules, repeated, top_n=3).equals(offers)


def test_next_best_offer_properties_on_demo_store(demo) -> None:
    clv = pd.DataFrame({"customer_id": demo.clean["customer_id"].unique()})
    clv["clv"] = np.linspace(0.0, 500.0, len(clv))
    tables = basket_tables(demo.clean, clv, min_support=0.005, min_confidence=0.1, top_n=2)
    offers = tables.next_best_offer
    assert offers.height > 1000
    bought = pl.from_pandas(demo.clean[["customer_id", "item_id"]]).rename({"item_id": "item"}).unique()
    assert offers.join(bought, on=["customer_id", "item"], how="semi").is_empty()
    ranks = offers.group_by("customer_id").agg(pl.col("rank"), pl.col("score"), pl.col("item").n_unique().alias("n"))
    assert all(r == list(range(1, len(r) + 1)) and len(r) <= 2 for r in ranks["rank"].to_list())
    assert all(s == sorted(s, reverse=True) for s in ranks["score"].to_list())
    assert (ranks["n"] == ranks["rank"].list.len()).all()
    weights = offers.join(pl.from_pandas(clv), on="customer_id").select("customer_weight", pl.col("clv") / 250.0)
    np.testing.assert_allclose(weights["customer_weight"].to_numpy(), weights["clv"].to_numpy())


def test_tables_store_in_duckdb_and_plot(demo) -> None:
    tables = basket_tables(demo.clean, min_support=0.01)
    connection = duckdb.connect()
    for name in ("rules", "next_best_offer", "bundles", "itemsets"):
        connection.register("frame", getattr(tables, name).to_arrow())
        connection.execute(f"CREATE TABLE {name} AS SELECT * FROM frame")
        connection.unregister("frame")
    types = dict(connection.execute("SELECT column_name, data_type FROM information_schema.columns").fetchall())
    assert types["antecedents"] == "VARCHAR[]" and types["conviction"] == "DOUBLE" and types["rank"] == "INTEGER"
    assert connection.execute("SELECT count(*) FROM rules").fetchone()[0] == tables.rules.height
    scatter = rules_scatter(tables.rules)
    assert len(scatter.data[0].x) == tables.rules.height
    bar = bundles_bar(tables.bundles, top=5)
    assert len(bar.data[0].y) == 5
    assert bundles(tables.itemsets, sizes=(2,), top=3).height == 3


def test_offers_ranked_in_blocks_equal_offers_ranked_at_once_on_online_retail(online_retail, monkeypatch) -> None:
    """Customers are ranked a block at a time to bound memory; blocks of 100 customers give the same table."""
    from clvlens.analytics.basket import _offers

    lines = online_retail.transactions
    values = lines.select("customer_id").unique().with_columns(clv=pl.col("customer_id").str.len_chars() * 1.0)
    at_once = basket_tables(lines, values, min_support=0.01).next_best_offer
    assert at_once.get_column("customer_id").n_unique() > 500  # many blocks below
    monkeypatch.setattr(_offers, "OFFER_BLOCK", 100)
    in_blocks = basket_tables(lines, values, min_support=0.01).next_best_offer
    # item values are means of per-order sums whose summation order Polars may change between any two runs
    assert_frame_equal(in_blocks, at_once, check_exact=False, rel_tol=1e-12, abs_tol=0.0)


def test_item_names_are_the_most_frequent_name_on_online_retail(online_retail) -> None:
    """UCI items carry several descriptions: the display name is the one on most lines, ties alphabetically."""
    lines = online_retail.transactions.select("item_id", "item_name").filter(pl.col("item_id").is_not_null())
    counted = lines.group_by("item_id", "item_name").len()
    expected = (
        counted.filter(pl.col("item_name").is_not_null())
        .sort(["item_id", "len", "item_name"], descending=[False, True, False])
        .group_by("item_id", maintain_order=True).first()
        .select(pl.col("item_id").alias("item"), pl.col("item_name").alias("expected"))
    )
    assert counted.group_by("item_id").len().filter(pl.col("len") > 1).height > 100  # many items with rival names
    got = item_names(online_retail.transactions).join(expected, on="item", how="left")
    named = got.filter(pl.col("expected").is_not_null())
    assert named.height > 3000
    assert (named.get_column("item_name") == named.get_column("expected")).all()


def test_item_values_are_mean_order_spend_on_online_retail(online_retail) -> None:
    """An item's value is the mean over the orders holding it of the order's spend on it (checked by DuckDB)."""
    from clvlens.analytics.basket._matrix import LineCodes
    from clvlens.analytics.basket._offers import _item_values

    lines = online_retail.transactions.filter(pl.col("item_id").is_not_null())
    codes = LineCodes.of(lines, "item_id", with_customers=False)
    values = _item_values(codes, np.ones(lines.height, dtype=bool))
    got = values.with_columns(item=codes.items.gather(values.get_column("item_code")))
    expected = duckdb.sql(
        "SELECT CAST(item_id AS VARCHAR) AS item, avg(spend) AS expected FROM (SELECT item_id, order_id, "
        "sum(amount) AS spend FROM lines GROUP BY ALL) GROUP BY ALL").pl()
    assert expected.height > 3000
    both = got.join(expected, on="item", how="full")
    assert both.height == expected.height == got.height
    assert np.allclose(both["item_value"].to_numpy(), both["expected"].to_numpy(), rtol=1e-9, atol=1e-9)


def test_item_values_of_some_lines_count_only_those_lines(online_retail) -> None:
    """With a mask (the offers pass the lines of items some rule names), the other lines add neither spend nor
    orders, and their items get no value; checked by DuckDB on the masked lines."""
    from clvlens.analytics.basket._matrix import LineCodes
    from clvlens.analytics.basket._offers import _item_values

    lines = online_retail.transactions.filter(pl.col("item_id").is_not_null())
    codes = LineCodes.of(lines, "item_id", with_customers=False)
    chosen = codes.items.gather(np.arange(0, codes.items.len(), 3))  # every third item
    mask = lines.get_column("item_id").cast(pl.String).is_in(chosen.implode()).to_numpy()
    values = _item_values(codes, mask)
    got = values.with_columns(item=codes.items.gather(values.get_column("item_code")))
    kept = lines.filter(pl.Series(mask))  # noqa: F841 - read by DuckDB below
    expected = duckdb.sql(
        "SELECT CAST(item_id AS VARCHAR) AS item, avg(spend) AS expected FROM (SELECT item_id, order_id, "
        "sum(amount) AS spend FROM kept GROUP BY ALL) GROUP BY ALL").pl()
    assert 500 < expected.height < codes.items.len() / 2
    both = got.join(expected, on="item", how="full")
    assert both.height == expected.height == got.height
    assert np.allclose(both["item_value"].to_numpy(), both["expected"].to_numpy(), rtol=1e-9, atol=1e-9)
