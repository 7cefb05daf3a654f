"""Turn a raw table into the canonical transaction table, marking (never dropping) rows that do not parse.

Every row of the input comes out: rows whose timestamp or amount cannot be read carry a `parse_error` code, and
rows identical in every source column to an earlier row carry `is_duplicate`. The cleaning rules decide what to do
with them, so nothing is lost between reading and the quarantine.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from clvlens.data.readers import RawTable
from clvlens.data.schema import CANONICAL_COLUMNS, SOURCE_ROW, ColumnMapping, resolve_columns

PARSE_ERROR = "parse_error"
IS_DUPLICATE = "is_duplicate"

# Tried in order on a sample of the values; the format reading the most values wins, earlier ones on ties
# (month-first before day-first, as in the UCI workbook's own "12/1/2010 8:26").
TIMESTAMP_FORMATS: tuple[str, ...] = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%Y%m%d",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
)
TEXT_COLUMNS = ("customer_id", "order_id", "item_id", "item_name", "category", "region", "channel")
NUMBER_COLUMNS = ("amount", "quantity", "unit_price")
FORMAT_SAMPLE = 2000


def to_canonical(
    raw: RawTable,
    mapping: Mapping[str, str] | None = None,
    *,
    date_format: str | None = None,
    keep_columns: tuple[str, ...] = (),
) -> tuple[pl.DataFrame, ColumnMapping]:
    """Map and parse a raw table into canonical columns plus `source_row`, `parse_error` and `is_duplicate`.

    `keep_columns` names source columns carried through unchanged (for example Olist's `order_status`).
    """
    frame = raw.frame
    source_columns = [c for c in frame.columns if c != SOURCE_ROW]
    resolved = resolve_columns(source_columns, mapping, source_name=raw.source_name)
    cols = resolved.columns

    exprs: list[pl.Expr] = [pl.col(SOURCE_ROW)]
    for name in TEXT_COLUMNS:
        if name in cols:
            exprs.append(_text(frame, cols[name]).alias(name))
        elif name == "order_id" and resolved.order_id_from_row:
            exprs.append(pl.col(SOURCE_ROW).cast(pl.String).alias(name))
        else:
            exprs.append(pl.lit(None, dtype=pl.String).alias(name))
    for name in NUMBER_COLUMNS:
        exprs.append(_number(frame, cols[name]).alias(name) if name in cols else pl.lit(None, pl.Float64).alias(name))
    exprs.append(_timestamp(frame, cols["timestamp"], date_format).alias("timestamp"))
    raw_amount_present = _present(frame, cols["amount"]) if "amount" in cols else pl.lit(True)
    raw_time_present = _present(frame, cols["timestamp"])
    exprs.extend(
        [
            raw_amount_present.alias("_amount_present"),
            raw_time_present.alias("_time_present"),
            (~pl.struct(source_columns).is_first_distinct()).alias(IS_DUPLICATE),
        ]
    )
    exprs.extend(pl.col(c) for c in keep_columns if c in frame.columns)
    out = frame.select(exprs)
    if resolved.amount_from_quantity_and_price:
        out = out.with_columns((pl.col("quantity") * pl.col("unit_price")).alias("amount"))
    out = out.with_columns(
        pl.when(~pl.col("_time_present"))
        .then(pl.lit("missing_timestamp"))
        .when(pl.col("timestamp").is_null())
        .then(pl.lit("unparseable_timestamp"))
        .when(~pl.col("_amount_present") | (pl.col("amount").is_null() & resolved.amount_from_quantity_and_price))
        .then(pl.lit("missing_amount"))
        .when(pl.col("amount").is_null() | ~pl.col("amount").is_finite())
        .then(pl.lit("unparseable_amount"))
        .otherwise(pl.lit(None, pl.String))
        .alias(PARSE_ERROR)
    ).drop("_amount_present", "_time_present")
    ordered = [SOURCE_ROW, *CANONICAL_COLUMNS, PARSE_ERROR, IS_DUPLICATE]
    return out.select(ordered + [c for c in out.columns if c not in ordered]), resolved


def _present(frame: pl.DataFrame, column: str) -> pl.Expr:
    col = pl.col(column)
    if frame.schema[column] == pl.String:
        return col.is_not_null() & (col.str.strip_chars() != "")
    return col.is_not_null()


def _text(frame: pl.DataFrame, column: str) -> pl.Expr:
    dtype = frame.schema[column]
    col = pl.col(column)
    if dtype.is_float():
        # pandas turns integer ids with gaps into floats: 17850.0 must read as "17850"
        integral = col.is_not_nan() & (col == col.floor())
        return pl.when(integral).then(col.cast(pl.Int64).cast(pl.String)).otherwise(col.cast(pl.String))
    text = col.cast(pl.String)
    if dtype == pl.String:
        text = text.str.strip_chars()
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


def _timestamp(frame: pl.DataFrame, column: str, date_format: str | None) -> pl.Expr:
    dtype = frame.schema[column]
    col = pl.col(column)
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is not None:
            col = col.dt.replace_time_zone(None)
        return col.cast(pl.Datetime("us"))
    if dtype == pl.Date:
        return col.cast(pl.Datetime("us"))
    if dtype.is_integer():
        return col.cast(pl.String).str.to_datetime("%Y%m%d", strict=False, time_unit="us")
    text = col.cast(pl.String).str.strip_chars()
    fmt = date_format or guess_timestamp_format(frame.get_column(column).cast(pl.String))
    if fmt is None:
        return pl.lit(None, pl.Datetime("us"))
    return text.str.to_datetime(fmt, strict=False, time_unit="us", exact=True)


def guess_timestamp_format(values: pl.Series) -> str | None:
    """The format in `TIMESTAMP_FORMATS` that parses the most of a sample of the non-empty values."""
    sample = values.str.strip_chars().drop_nulls().filter(values.drop_nulls().str.strip_chars() != "")
    sample = sample.head(FORMAT_SAMPLE)
    if sample.is_empty():
        return None
    best, best_count = None, 0
    for fmt in TIMESTAMP_FORMATS:
        parsed = sample.str.to_datetime(fmt, strict=False, time_unit="us", exact=True)
        count = parsed.len() - parsed.null_count()
        if count > best_count:
            best, best_count = fmt, count
            if count == sample.len():
                break
    return best
