"""Turn a raw table into the canonical transaction table, marking (never dropping) rows that do not parse.

Every row of the input comes out: rows that were malformed in the file or whose timestamp or amount cannot be read
carry a `parse_error` code (and malformed ones a `detail` naming the line), and rows identical in every source
column to an earlier row carry `is_duplicate`. The cleaning rules decide what to do with them, so nothing is lost
between reading and the quarantine. Numeric-looking ids are normalised so that `12345.0` and `12345` are one id
whatever the file format.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl

from clvlens.data._chunks import single_chunk
from clvlens.data._csv import MALFORMED
from clvlens.data.dates import parse_timestamps
from clvlens.data.readers import RawTable
from clvlens.data.schema import CANONICAL_COLUMNS, SOURCE_ROW, ColumnMapping, resolve_columns

PARSE_ERROR = "parse_error"
IS_DUPLICATE = "is_duplicate"
DETAIL = "detail"
ID_COLUMNS = ("customer_id", "order_id", "item_id")
_TIMESTAMP = "__timestamp"
_HASH_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)

TEXT_COLUMNS = ("customer_id", "order_id", "item_id", "item_name", "category", "region", "channel")
NUMBER_COLUMNS = ("amount", "quantity", "unit_price")


def to_canonical(
    raw: RawTable,
    mapping: Mapping[str, str] | None = None,
    *,
    date_format: str | None = None,
    dayfirst: bool | None = None,
    keep_columns: tuple[str, ...] = (),
    release: bool = False,
) -> tuple[pl.DataFrame, ColumnMapping]:
    """Map and parse a raw table into canonical columns plus `source_row`, `parse_error` and `is_duplicate`.

    `date_format` (strftime-like, e.g. %d/%m/%Y) or `dayfirst` settle how text dates read (see
    `clvlens.data.dates`). `keep_columns` names source columns carried through unchanged (for example Olist's
    `order_status`). With `release`, `raw.frame` is emptied and each raw column is let go once converted, so the
    raw text and the canonical table are never both whole in memory (the caller must not use `raw.frame` after).
    """
    frame = raw.frame
    source_columns = [c for c in frame.columns if c not in (SOURCE_ROW, MALFORMED)]
    if mapping and raw.renamed:
        mapping = {canon: raw.renamed.get(src, src) for canon, src in mapping.items()}
    resolved = resolve_columns(source_columns, mapping, source_name=raw.source_name)
    cols = resolved.columns
    height = frame.height
    duplicates = duplicate_rows(frame, source_columns)
    source = _SourceColumns(frame, cols)
    kept = {name: frame.get_column(name) for name in keep_columns if name in frame.columns}
    if release:
        object.__setattr__(raw, "frame", frame.clear())
    del frame
    timestamp = _timestamp(source.use("timestamp"), date_format, dayfirst, raw.source_name)

    # each column is converted on its own, with a fast path for the common clean case (see _text and _number)
    out: dict[str, pl.Series] = {SOURCE_ROW: source.raw(SOURCE_ROW)}
    for name in TEXT_COLUMNS:
        if name in cols:
            out[name] = _text(source.use(name), numeric_id=name in ID_COLUMNS)
        elif name == "order_id" and resolved.order_id_from_row:
            out[name] = out[SOURCE_ROW].cast(pl.String)
        else:
            out[name] = pl.repeat(None, height, dtype=pl.String, eager=True)
    for name in NUMBER_COLUMNS:
        if name in cols:
            out[name] = _number(source.use(name))
        else:
            out[name] = pl.repeat(None, height, dtype=pl.Float64, eager=True)
    if resolved.amount_from_quantity_and_price:
        out["amount"] = out["quantity"] * out["unit_price"]
    out["timestamp"] = timestamp
    out[IS_DUPLICATE] = duplicates
    out[DETAIL] = source.raw(MALFORMED) if source.has(MALFORMED) else pl.repeat(
        None, height, dtype=pl.String, eager=True)
    for name, values in kept.items():
        if name not in out:
            out[name] = values
    out["_amount_present"] = (
        _present(source.use("amount"), out["amount"]) if "amount" in cols
        else pl.repeat(True, height, dtype=pl.Boolean, eager=True)
    )
    out["_time_present"] = _present(source.use("timestamp"), timestamp)
    result = pl.DataFrame([series.alias(name) for name, series in out.items()])
    out.clear()  # so that each chunked column is let go as its contiguous copy replaces it
    result = single_chunk(result)
    nonfinite = pl.any_horizontal(
        (pl.col(c).is_not_null() & ~pl.col(c).is_finite()) for c in ("amount", "quantity", "unit_price")
    )
    result = result.with_columns(
        pl.when(pl.col(DETAIL).is_not_null())
        .then(pl.lit("malformed_row"))
        .when(~pl.col("_time_present"))
        .then(pl.lit("missing_timestamp"))
        .when(pl.col("timestamp").is_null())
        .then(pl.lit("unparseable_timestamp"))
        .when(~pl.col("_amount_present") | (pl.col("amount").is_null() & resolved.amount_from_quantity_and_price))
        .then(pl.lit("missing_amount"))
        .when(nonfinite)
        .then(pl.lit("nonfinite_amount"))
        .when(pl.col("amount").is_null())
        .then(pl.lit("unparseable_amount"))
        .otherwise(pl.lit(None, pl.String))
        .alias(PARSE_ERROR)
    ).drop("_amount_present", "_time_present")
    ordered = [SOURCE_ROW, *CANONICAL_COLUMNS, PARSE_ERROR, IS_DUPLICATE, DETAIL]
    return result.select(ordered + [c for c in result.columns if c not in ordered]), resolved


class _SourceColumns:
    """The raw columns by name; a canonical column's source is let go after its last use (see `release`)."""

    def __init__(self, frame: pl.DataFrame, mapping: dict[str, str]) -> None:
        self.columns = {name: frame.get_column(name) for name in frame.columns}
        self.mapping = mapping
        self.uses: dict[str, int] = {}
        for canonical, name in mapping.items():
            self.uses[name] = self.uses.get(name, 0) + 1 + (canonical in ("timestamp", "amount"))

    def has(self, name: str) -> bool:
        return name in self.columns

    def raw(self, name: str) -> pl.Series:
        return self.columns[name]

    def use(self, canonical: str) -> pl.Series:
        """The source of a canonical column; dropped here once every use of it is done."""
        name = self.mapping[canonical]
        values = self.columns[name]
        self.uses[name] -= 1
        if self.uses[name] <= 0 and name != SOURCE_ROW and name != MALFORMED:
            self.columns.pop(name)
        return values


def _present(values: pl.Series, parsed: pl.Series) -> pl.Series:
    """Whether each raw value is there (not null, not blank); a value that parsed is there, so only the rest are
    looked at."""
    if values.dtype != pl.String:
        return values.is_not_null()
    unread = parsed.is_null()
    if not unread.any():
        return pl.repeat(True, values.len(), dtype=pl.Boolean, eager=True)
    positions = unread.arg_true()
    rest = values.gather(positions)
    blank = rest.is_null() | (rest.str.strip_chars() == "")
    return pl.repeat(True, values.len(), dtype=pl.Boolean, eager=True).scatter(positions, ~blank)


def _text(values: pl.Series, *, numeric_id: bool = False) -> pl.Series:
    dtype = values.dtype
    if dtype.is_float():
        # pandas turns integer ids with gaps into floats: 17850.0 must read as "17850"
        col = pl.col(values.name)
        integral = col.is_not_nan() & (col == col.floor())
        text = pl.when(integral).then(col.cast(pl.Int64).cast(pl.String)).otherwise(col.cast(pl.String))
        return values.to_frame().select(text).to_series()
    if dtype != pl.String:
        return values.cast(pl.String)
    text = values.str.strip_chars()
    # spreadsheets write integer ids as 12345.0: the same id as 12345 (Excel and Parquet already agree); the
    # literal test first spares the regular expression on the usual column without any such value
    if numeric_id and text.str.contains(".0", literal=True).any():
        text = text.str.replace(r"^(-?\d+)\.0+$", "$1")
    empty = text == ""
    return text.zip_with(~empty.fill_null(False), pl.repeat(None, text.len(), dtype=pl.String, eager=True)) if (
        empty.any()) else text


def _number(values: pl.Series) -> pl.Series:
    """Numbers as Float64. Text is first cast as is (a plain number casts directly, and nothing below would change
    it); only the values that fail go through the lenient reading (currency signs, spaces, thousands separators,
    decimal commas)."""
    if values.dtype.is_numeric():
        return values.cast(pl.Float64)
    text = values.cast(pl.String)
    direct = text.cast(pl.Float64, strict=False)
    failed = direct.is_null() & text.is_not_null()
    if not failed.any():
        return direct
    positions = failed.arg_true()
    lenient = text.gather(positions).to_frame("v").select(lenient_number(pl.col("v"))).to_series()
    return direct.scatter(positions, lenient)


def lenient_number(text: pl.Expr) -> pl.Expr:
    """Text read as a number: currency signs and spaces dropped; 1.234,56 and 12,5 read as European; commas
    otherwise taken as thousands separators; null when it still is not a number."""
    text = text.cast(pl.String).str.strip_chars().str.replace_all(r"[£$€R\s]", "")
    european = text.str.contains(r"^-?\d{1,3}(\.\d{3})+,\d+$")
    decimal_comma = text.str.contains(r"^-?\d+,\d{1,2}$")
    text = (
        pl.when(european)
        .then(text.str.replace_all(r"\.", "").str.replace(",", "."))
        .when(decimal_comma)
        .then(text.str.replace(",", "."))
        .otherwise(text.str.replace_all(",", ""))
    )
    return text.cast(pl.Float64, strict=False)


def duplicate_rows(frame: pl.DataFrame, columns: list[str]) -> pl.Series:
    """True for each row identical in every one of `columns` to an earlier row.

    Exact, but cheap on a large table: rows are hashed, the hashes sorted, and only the rows whose hash occurs more
    than once (true duplicates and rare collisions) are compared value by value.
    """
    if frame.height < 2 or not columns:
        return pl.repeat(False, frame.height, dtype=pl.Boolean, eager=True)
    try:
        hashes = _row_hashes(frame, columns)
    except pl.exceptions.PolarsError:  # a column type without a hash: compare values directly
        return frame.select(~pl.struct(columns).is_first_distinct()).to_series()
    ordered = np.sort(hashes)
    repeated = ordered[1:][ordered[1:] == ordered[:-1]]
    flags = np.zeros(frame.height, dtype=bool)
    if repeated.size:
        candidates = pl.Series(hashes).is_in(pl.Series(repeated).implode()).arg_true()
        subset = frame.select(columns)[candidates]
        later = subset.select(~pl.struct(columns).is_first_distinct()).to_series().to_numpy()
        flags[candidates.to_numpy()] = later
    return pl.Series(flags)


def _row_hashes(frame: pl.DataFrame, columns: list[str]) -> np.ndarray:
    """One 64-bit hash per row, combined from each column's own hash (equal rows always get equal hashes)."""
    combined = np.zeros(frame.height, dtype=np.uint64)
    for name in columns:
        values = frame.get_column(name)
        if values.dtype.is_float():
            values = values.fill_nan(float("nan")) + 0.0  # one NaN, and -0.0 as 0.0, as the exact comparison sees them
        combined = combined * _HASH_MULTIPLIER ^ values.hash().to_numpy()
    return combined


def _timestamp(values: pl.Series, date_format: str | None, dayfirst: bool | None, source_name: str) -> pl.Series:
    dtype = values.dtype
    column = values.name
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is not None:
            values = values.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        return values.cast(pl.Datetime("us"))
    if dtype == pl.Date:
        return values.cast(pl.Datetime("us"))
    if dtype.is_integer():
        return values.cast(pl.String).str.to_datetime("%Y%m%d", strict=False, time_unit="us")
    return parse_timestamps(
        values.cast(pl.String), date_format=date_format, dayfirst=dayfirst, field=column, source_name=source_name
    )

