"""Customer attributes: the one-group-by Polars query agrees with the general (window) query it replaces."""

from __future__ import annotations

from datetime import datetime

import polars as pl
from polars.testing import assert_frame_equal

from clvlens.summary import customer_attributes
from clvlens.summary.attributes import _attributes_narwhals, _attributes_polars
from clvlens.summary.engine import from_result


def _both(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    fast = _attributes_polars(frame.lazy())
    assert fast is not None
    general = from_result(_attributes_narwhals(frame.lazy()), frame)
    return fast.sort("customer_id"), general.sort("customer_id")


def test_first_purchase_values_on_ties_and_gaps() -> None:
    day = datetime(2024, 1, 5, 10)
    later = datetime(2024, 2, 1)
    frame = pl.DataFrame(
        {
            "customer_id": ["a", "a", "a", "b", "b", "c", "c", "d"],
            "order_id": ["1", "1", "2", "3", "4", "5", "5", "6"],
            "timestamp": [day, day, later, later, day, day, day, later],
            # a: two lines at the first time, alphabetically first wins; b: first row is not the first purchase;
            # c: no region at the first purchase (null, not the later one); d: one line
            "region": ["UK", "France", "Spain", "Peru", "Chile", None, None, "Fiji"],
            "category": ["toys", "books", "art", None, "tea", "zinc", "arts", None],
        }
    )
    fast, general = _both(frame)
    assert_frame_equal(fast, general)
    rows = {r["customer_id"]: r for r in fast.iter_rows(named=True)}
    assert rows["a"]["region"] == "France" and rows["a"]["first_category"] == "books" and rows["a"]["orders"] == 2
    assert rows["b"]["region"] == "Chile" and rows["b"]["first_category"] == "tea"
    assert rows["c"]["region"] is None and rows["c"]["first_category"] == "arts"
    assert rows["d"]["cohort"] == "2024-02"


def test_agrees_with_the_general_query_on_real_data(online_retail) -> None:
    transactions = online_retail.transactions
    fast, general = _both(transactions)
    assert fast.height == transactions.get_column("customer_id").n_unique()
    assert_frame_equal(fast, general)


def test_public_function_uses_either_path_with_one_answer(online_retail) -> None:
    transactions = online_retail.transactions
    polars_answer = customer_attributes(transactions).sort("customer_id")
    duckdb_answer = customer_attributes(transactions, engine="duckdb").sort("customer_id")
    assert_frame_equal(polars_answer, duckdb_answer, check_dtypes=False)
