"""The orders x items basket matrix, item display names and the argument checks shared by the basket module.

A basket is the set of distinct items (or categories) of one `order_id`. The ids are dictionary-encoded once
(`LineCodes`) and the matrix is built from those integer codes straight into a `scipy.sparse.csc_array` of booleans;
no dense one-hot frame is ever materialised and no group-by runs on strings.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from clvlens.data.readers import frame_to_polars
from clvlens.errors import ClvlensError

LEVELS: dict[str, str] = {"item": "item_id", "category": "category"}


@dataclass(frozen=True)
class BasketMatrix:
    """Orders x items incidence matrix.

    `matrix[i, j]` is True when order `orders[i]` contains item `items[j]`. Items are sorted by id, so a sorted tuple
    of column indices is also a sorted tuple of item ids; orders keep the log's order of first appearance. Orders
    whose every item was filtered out stay as empty rows: supports are always shares of all orders that had at least
    one item at this level.
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
    return matrix_from_codes(
        LineCodes.of(frame, column, with_customers=False),
        level,
        include=include,
        exclude=exclude,
        min_item_count=min_item_count,
    )


def matrix_from_codes(
    lines: LineCodes,
    level: str,
    *,
    include: Iterable[Any] | None = None,
    exclude: Iterable[Any] | None = None,
    min_item_count: int = 1,
) -> BasketMatrix:
    """`basket_matrix` on already encoded lines (the basket tables encode a log once for every table)."""
    minimum = check_positive_int("min_item_count", min_item_count)
    keep = _string_list("include", include)
    drop = _string_list("exclude", exclude)
    valid = (lines.order >= 0) & (lines.item >= 0)
    order, item = lines.order[valid], lines.item[valid]
    # rows are the orders with at least one item at this level, in order of first appearance
    present = np.zeros(lines.orders.len(), dtype=bool)
    present[order] = True
    n_rows = int(present.sum())
    row_of = (np.cumsum(present) - 1).astype(np.int32)
    n_items = lines.items.len()
    # the distinct (item, row) cells by one in-place sort of a combined key, laid out as CSC directly: duplicates
    # (the same item twice in an order) collapse, and no index array is held twice over (10M lines would need
    # several 80 MB copies through a COO matrix)
    keys = item.astype(np.int64)
    keys *= n_rows
    keys += row_of[order]
    del order, item
    cells = distinct_sorted(keys)
    del keys
    per_item = np.bincount(cells // max(n_rows, 1), minlength=n_items)
    # int32 offsets while they fit: scipy then keeps the row indices int32 too (5 bytes a cell instead of 9)
    offset_type = np.int32 if cells.size < 2**31 else np.int64
    indptr = np.concatenate(([0], np.cumsum(per_item))).astype(offset_type)
    cells %= max(n_rows, 1)
    rows = cells.astype(np.int32)
    del cells
    full = sp.csc_array((np.ones(rows.size, dtype=bool), rows, indptr), shape=(n_rows, n_items))
    labels = lines.items
    kept = np.ones(n_items, dtype=bool)
    if keep is not None:
        kept &= labels.is_in(keep).to_numpy()
    if drop:
        kept &= ~labels.is_in(drop).to_numpy()
    if minimum is not None and minimum > 1:
        kept &= np.diff(full.indptr) >= minimum
    kept &= np.diff(full.indptr) > 0
    columns = np.flatnonzero(kept)
    matrix = full[:, columns] if columns.size < n_items else full
    matrix = sp.csc_array(matrix)
    matrix.sort_indices()
    orders = lines.orders.gather(np.flatnonzero(present)) if not present.all() else lines.orders
    return BasketMatrix(matrix=matrix, orders=orders, items=labels.gather(columns), level=level)


def item_names(transactions: Any, *, level: str = "item") -> pl.DataFrame:
    """Display name per item: columns `item` and `item_name`.

    At item level the name is the item's most frequent `item_name` (ties broken alphabetically; the id itself when
    there is no name); at category level it is the category.
    """
    column = level_column(level)
    frame = to_polars(transactions, (column,))
    with_names = level != "category" and "item_name" in frame.columns
    return names_from_codes(
        LineCodes.of(frame, column, with_customers=False, with_names=with_names, with_orders=False)
    )


def distinct_sorted(keys: np.ndarray) -> np.ndarray:
    """The distinct values of integer ``keys`` in order, by sorting ``keys`` in place (the caller's array is
    reordered). numpy 2.3 and later find distinct values by hashing (75x slower on 10M keys) and ``np.unique``
    holds copies besides; one in-place sort and a mask of first occurrences hold a byte per key."""
    return keys[_first_of_runs(keys)]


def distinct_sorted_counts(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`distinct_sorted`, and how often each distinct value occurs."""
    first = _first_of_runs(keys)
    starts = np.flatnonzero(first)
    del first
    return keys[starts], np.diff(starts, append=keys.size)


def _first_of_runs(keys: np.ndarray) -> np.ndarray:
    keys.sort()
    first = np.empty(keys.size, dtype=bool)
    if keys.size:
        first[0] = True
        np.not_equal(keys[1:], keys[:-1], out=first[1:])
    return first


def names_from_codes(lines: LineCodes) -> pl.DataFrame:
    """`item_names` on encoded lines: the most frequent name of each item (ties alphabetically), else the id."""
    if lines.name is None or lines.names is None:
        return pl.DataFrame({"item": lines.items, "item_name": lines.items})
    missing = lines.names.len()  # the code of a missing name sorts after every real name (codes follow the names)
    named = lines.item >= 0
    width = missing + 1
    # (item, name) pairs and their line counts from one sort of integer keys (no hash table over every line)
    keys = lines.item[named].astype(np.int64)
    keys *= width
    name = lines.name[named]
    name[name < 0] = missing
    keys += name
    del name
    pairs, counts = distinct_sorted_counts(keys)
    del keys
    items, names = pairs // width, pairs % width
    best = np.lexsort((names, -counts, items))  # per item: most lines first, then the alphabetically first name
    first = best[np.r_[True, items[best][1:] != items[best][:-1]]] if best.size else best
    name_of = np.full(lines.items.len(), missing, dtype=np.int64)
    name_of[items[first]] = names[first]
    padded = pl.concat([lines.names, pl.Series([None], dtype=pl.String)])
    return pl.DataFrame({"item": lines.items, "item_name": padded.gather(name_of)}).with_columns(
        pl.coalesce("item_name", "item").alias("item_name")
    )


def encode(values: pl.Series, *, sort: bool) -> tuple[np.ndarray, pl.Series]:
    """Integer codes of `values` as strings (-1 where missing) and the label of each code; labels sorted when `sort`.

    Arrow's hash dictionary encoding does this in one pass; every later group-by and join then works on integers.
    """
    array = values.cast(pl.String).to_arrow(compat_level=pl.CompatLevel.newest())  # string views: no copy
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    encoded = pc.dictionary_encode(array)
    # int32 codes (the log's distinct values are far fewer than 2**31): half the memory of ten million int64s
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int32, copy=False)
    labels = pl.Series(encoded.dictionary).cast(pl.String)
    if sort and labels.len() > 1:
        order = labels.arg_sort().to_numpy()
        rank = np.empty(order.size, dtype=np.int32)
        rank[order] = np.arange(order.size, dtype=np.int32)
        codes = np.where(codes >= 0, rank[np.clip(codes, 0, None)], np.int32(-1))
        labels = labels.gather(order)
    return codes, labels


@dataclass(frozen=True)
class LineCodes:
    """The lines of a transaction log as integer codes (-1 where missing) with each code's label.

    `order`/`orders`: the order id; `item`/`items`: the item (or category) id, labels sorted; `customer`/`customers`
    and `name`/`names` (item names, sorted) when asked for; `frame` is the source, for its other columns.
    """

    frame: pl.DataFrame
    order: np.ndarray
    orders: pl.Series
    item: np.ndarray
    items: pl.Series
    customer: np.ndarray | None = None
    customers: pl.Series | None = None
    name: np.ndarray | None = None
    names: pl.Series | None = None

    @classmethod
    def of(cls, frame: pl.DataFrame, column: str, *, with_customers: bool = True, with_names: bool = False,
           with_orders: bool = True) -> LineCodes:
        empty = (np.full(frame.height, -1, dtype=np.int32), pl.Series([], dtype=pl.String))
        order, orders = encode(frame.get_column("order_id"), sort=False) if with_orders else empty
        item, items = encode(frame.get_column(column), sort=True)
        customer, customers = encode(frame.get_column("customer_id"), sort=False) if with_customers else (None, None)
        name, names = encode(frame.get_column("item_name"), sort=True) if with_names else (None, None)
        return cls(frame, order, orders, item, items, customer, customers, name, names)
