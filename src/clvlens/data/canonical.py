"""Turn a raw table into the canonical transaction table, marking (never dropping) rows that do not parse.

Every row of the input comes out: rows that were malformed in the file or whose timestamp or amount cannot be read
carry a `parse_error` code (and malformed ones a `detail` naming the line), and rows identical in every source
column to an earlier row carry `is_duplicate`. The cleaning rules decide what to do with them, so nothing is lost
between reading and the quarantine. Numeric-looking ids are normalised so that `12345.0` and `12345` are one id
whatever the file format.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from clvlens.data._csv import MALFORMED
from clvlens.data.dates import parse_timestamps
from clvlens.data.readers import RawTable
from clvlens.data.schema import CANONICAL_COLUMNS, SOURCE_ROW, ColumnMapping, resolve_columns

PARSE_ERROR = "parse_error"
IS_DUPLICATE = "is_duplicate"
DETAIL = "detail"
ID_COLUMNS = ("customer_id", "order_id", "item_id")
_TIMESTAMP = "__timestamp"

TEXT_COLUMNS = ("customer_id", "order_id", "item_id", "item_name", "category", "region", "channel")
NUMBER_COLUMNS = ("amount", "quantity", "unit_price")


def to_canonical(
    raw: RawTable,
    mapping: Mapping[str, str] | None = None,
    *,
    date_format: str | None = None,
    dayfirst: bool | None = None,
    keep_columns: tuple[str, ...] = (),
) -> tuple[pl.DataFrame, ColumnMapping]:
    """Map and parse a raw table into canonical columns plus `source_row`, `parse_error` and `is_duplicate`.

    `date_format` (strftime-like, e.g. %d/%m/%Y) or `dayfirst` settle how text dates read (see
    `clvlens.data.dates`). `keep_columns` names source columns carried through unchanged (for example Olist's
    `order_status`).
    """
    frame = raw.frame
    source_columns = [c for c in frame.columns if c not in (SOURCE_ROW, MALFORMED)]
    if mapping and raw.renamed:
        mapping = {canon: raw.renamed.get(src, src) for canon, src in mapping.items()}
    resolved = resolve_columns(source_columns, mapping, source_name=raw.source_name)
    cols = resolved.columns
    frame = frame.with_columns(
        _timestamp(frame, cols["timestamp"], date_format, dayfirst, raw.source_name).alias(_TIMESTAMP)
    )

    exprs: list[pl.Expr] = [pl.col(SOURCE_ROW)]
    for name in TEXT_COLUMNS:
        if name in cols:
            exprs.append(_text(frame, cols[name], numeric_id=name in ID_COLUMNS).alias(name))
        elif name == "order_id" and resolved.order_id_from_row:
            exprs.append(pl.col(SOURCE_ROW).cast(pl.String).alias(name))
        else:
            exprs.append(pl.lit(None, dtype=pl.String).alias(name))
    for name in NUMBER_COLUMNS:
        exprs.append(_number(frame, cols[name]).alias(name) if name in cols else pl.lit(None, pl.Float64).alias(name))
    exprs.append(pl.col(_TIMESTAMP).alias("timestamp"))
    raw_amount_present = _present(frame, cols["amount"]) if "amount" in cols else pl.lit(True)
    raw_time_present = _present(frame, cols["timestamp"])
    exprs.extend(
        [
            raw_amount_present.alias("_amount_present"),
            raw_time_present.alias("_time_present"),
            (~pl.struct(source_columns).is_first_distinct()).alias(IS_DUPLICATE),
        ]
    )
    malformed = pl.col(MALFORMED) if MALFORMED in frame.columns else pl.lit(None, pl.String)
    exprs.append(malformed.alias(DETAIL))
    exprs.extend(pl.col(c) for c in keep_columns if c in frame.columns)
    out = frame.select(exprs)
    if resolved.amount_from_quantity_and_price:
        out = out.with_columns((pl.col("quantity") * pl.col("unit_price")).alias("amount"))
    nonfinite = pl.any_horizontal(
        (pl.col(c).is_not_null() & ~pl.col(c).is_finite()) for c in ("amount", "quantity", "unit_price")
    )
    out = out.with_columns(
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
    return out.select(ordered + [c for c in out.columns if c not in ordered]), resolved


def _present(frame: pl.DataFrame, column: str) -> pl.Expr:
    col = pl.col(column)
    if frame.schema[column] == pl.String:
        return col.is_not_null() & (col.str.strip_chars() != "")
    return col.is_not_null()


def _text(frame: pl.DataFrame, column: str, *, numeric_id: bool = False) -> pl.Expr:
    dtype = frame.schema[column]
    col = pl.col(column)
    if dtype.is_float():
        # pandas turns integer ids with gaps into floats: 17850.0 must read as "17850"
        integral = col.is_not_nan() & (col == col.floor())
        return pl.when(integral).then(col.cast(pl.Int64).cast(pl.String)).otherwise(col.cast(pl.String))
    text = col.cast(pl.String)
    if dtype == pl.String:
        text = text.str.strip_chars()
        if numeric_id:
            # spreadsheets write integer ids as 12345.0: the same id as 12345 (Excel and Parquet already agree)
            text = text.str.replace(r"^(-?\d+)\.0+$", "$1")
        text = pl.when(text == "").then(None).otherwise(text)
    return text


def _number(frame: pl.DataFrame, column: str) -> pl.Expr:
    dtype = frame.schema[column]
    col = pl.col(column)
    if dtype.is_numeric():
        return col.cast(pl.Float64)
    text = col.cast(pl.String).str.strip_chars().str.replace_all(r"[£$€R\s]", "")
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


def _timestamp(
    frame: pl.DataFrame, column: str, date_format: str | None, dayfirst: bool | None, source_name: str
) -> pl.Series:
    dtype = frame.schema[column]
    values = frame.get_column(column)
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

