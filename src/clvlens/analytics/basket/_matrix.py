"""The orders x items basket matrix, item display names and the argument checks shared by the basket module.

A basket is the set of distinct items (or categories) of one `order_id`. The matrix is built from integer codes
straight into a `scipy.sparse.csc_array` of booleans; no dense one-hot frame is ever materialised.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import scipy.sparse as sp

from clvlens.data.readers import frame_to_polars
from clvlens.errors import ClvlensError

LEVELS: dict[str, str] = {"item": "item_id", "category": "category"}


@dataclass(frozen=True)
class BasketMatrix:
    """Orders x items incidence matrix.

    `matrix[i, j]` is True when order `orders[i]` contains item `items[j]`. Items are sorted by id, so a sorted tuple
    of column indices is also a sorted tuple of item ids. Orders whose every item was filtered out stay as empty rows:
    supports are always shares of all orders that had at least one item at this level.
    """

    matrix: sp.csc_array
    orders: pl.Series
    items: pl.Series
    level: str

    @property
    def n_orders(self) -> int:
        """Number of baskets (rows), the denominator of every support."""
        return int(self.matrix.shape[0])

    @property
    def n_items(self) -> int:
        """Number of distinct items kept (columns)."""
        return int(self.matrix.shape[1])

    def item_counts(self) -> np.ndarray:
        """Number of orders containing each item, aligned with `items`."""
        return np.diff(self.matrix.indptr).astype(np.int64)


def level_column(level: str) -> str:
    """The transaction column that names an item at `level` ("item" -> item_id, "category" -> category)."""
    if level not in LEVELS:
        raise ClvlensError(f"level: expected one of {', '.join(LEVELS)}, got {level!r}")
    return LEVELS[level]


def to_polars(transactions: Any, required: Iterable[str]) -> pl.DataFrame:
    """Convert a pandas/Polars/Arrow/DuckDB frame to Polars and check that the `required` columns are present."""
    if transactions is None:
        raise ClvlensError("transactions: expected a data frame, got None")
    try:
        frame = frame_to_polars(transactions)
    except ClvlensError:
        raise
    except Exception as error:  # any unsupported object
        raise ClvlensError(f"transactions: cannot read a {type(transactions).__name__} as a frame ({error})") from None
    missing = [column for column in required if column not in frame.columns]
    if missing:
        raise ClvlensError(f"transactions: missing column {', '.join(missing)}")
    return frame


def check_fraction(name: str, value: float, *, allow_zero: bool) -> float:
    """Return `value` as a float after checking 0 < value <= 1 (or 0 <= value <= 1 with `allow_zero`)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ClvlensError(f"{name}: expected a number between 0 and 1, got {value!r}") from None
    low_ok = number >= 0 if allow_zero else number > 0
    if not (low_ok and number <= 1) or isinstance(value, bool):
        bound = "0 <= x <= 1" if allow_zero else "0 < x <= 1"
        raise ClvlensError(f"{name}: expected {bound}, got {value!r}")
    return number


def check_positive_int(name: str, value: int | None, *, allow_none: bool = False) -> int | None:
    """Return `value` after checking that it is an integer >= 1 (or None when `allow_none`)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ClvlensError(f"{name}: expected a whole number >= 1, got {value!r}")
    return int(value)


def _string_list(name: str, values: Iterable[Any] | None) -> list[str] | None:
    if values is None:
        return None
    if isinstance(values, (str, bytes)):
        raise ClvlensError(f"{name}: expected a list of item ids, got the single string {values!r}")
    return [str(value) for value in values]


def basket_matrix(
    transactions: Any,
    *,
    level: str = "item",
    include: Iterable[Any] | None = None,
    exclude: Iterable[Any] | None = None,
    min_item_count: int = 1,
) -> BasketMatrix:
    """Build the sparse orders x items boolean matrix from canonical transactions.

    `level` is "item" (item_id) or "category". `include` keeps only the listed ids, `exclude` drops the listed ids
    (e.g. postage), and `min_item_count` drops items bought in fewer orders than that. Lines with a missing order or
    item id are ignored; ids are compared as strings.
    """
    column = level_column(level)
    frame = to_polars(transactions, ("order_id", column))
    minimum = check_positive_int("min_item_count", min_item_count)
    keep = _string_list("include", include)
    drop = _string_list("exclude", exclude)
    pairs = (
        frame.lazy()
        .select(pl.col("order_id").cast(pl.String), pl.col(column).cast(pl.String).alias("item"))
        .drop_nulls()
        .unique()
        .collect()
    )
    orders = pairs.get_column("order_id").unique().sort()
    if keep is not None:
        pairs = pairs.filter(pl.col("item").is_in(keep))
    if drop:
        pairs = pairs.filter(~pl.col("item").is_in(drop))
    if minimum is not None and minimum > 1:
        pairs = pairs.filter(pl.len().over("item") >= minimum)
    items = pairs.get_column("item").unique().sort()
    codes = (
        pairs.join(orders.to_frame().with_row_index("row"), on="order_id")
        .join(items.to_frame().with_row_index("col"), on="item")
        .select("row", "col")
    )
    rows = codes.get_column("row").to_numpy().astype(np.int64, copy=False)
    cols = codes.get_column("col").to_numpy().astype(np.int64, copy=False)
    matrix = sp.csc_array((np.ones(rows.size, dtype=bool), (rows, cols)), shape=(orders.len(), items.len()), dtype=bool)
    matrix.sort_indices()
    return BasketMatrix(matrix=matrix, orders=orders, items=items, level=level)


def item_names(transactions: Any, *, level: str = "item") -> pl.DataFrame:
    """Display name per item: columns `item` and `item_name`.

    At item level the name is the item's most frequent `item_name` (ties broken alphabetically; the id itself when
    there is no name); at category level it is the category.
    """
    column = level_column(level)
    frame = to_polars(transactions, (column,))
    if level == "category" or "item_name" not in frame.columns:
        return (
            frame.select(pl.col(column).cast(pl.String).alias("item"))
            .drop_nulls()
            .unique()
            .with_columns(pl.col("item").alias("item_name"))
            .sort("item")
        )
    counted = (
        frame.select(pl.col(column).cast(pl.String).alias("item"), pl.col("item_name").cast(pl.String))
        .drop_nulls("item")
        .group_by("item", "item_name")
        .len()
        .sort(["item", "len", "item_name"], descending=[False, True, False], nulls_last=True)
    )
    return (
        counted.group_by("item", maintain_order=True)
        .first()
        .select("item", pl.coalesce("item_name", "item").alias("item_name"))
        .sort("item")
    )
