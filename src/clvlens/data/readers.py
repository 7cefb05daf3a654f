"""Readers that turn any supported source into one raw Polars frame.

Files (CSV/TSV, Parquet, Excel, gzip- or zip-compressed CSV) and in-memory frames (pandas, Polars, Arrow,
DuckDB) all come out as a Polars DataFrame with the source's own column names plus `source_row` (1-based
position of the row in the input). Text files are read with every column as a string, so that a bad value
becomes a quarantined row with a reason later instead of failing the whole read; a malformed record (wrong
number of fields, unbalanced quote, last line cut short) is a row of nulls with a `_malformed` note that the
cleaning quarantines as `malformed_row`. Reading is bounded (see `_limits`): compressed files are inflated in
chunks under a size and ratio budget, and Excel workbooks are checked from their zip directory before they are
opened. A source column called `source_row` is renamed `source_row_input`, so it never replaces the numbering.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from clvlens.data._chunks import single_chunk
from clvlens.data._csv import (
    MALFORMED,
    ends_with_newline,
    first_record,
    head_text,
    header_names,
    looks_cut,
    mark_last_row,
    prepare_text,
    read_fast,
    read_records,
    sniff_delimiter,
)
from clvlens.data._limits import ReadLimits, TemporaryFolder, check_excel, read_parquet_bounded
from clvlens.data.schema import SOURCE_ROW
from clvlens.errors import ClvlensError

__all__ = ["MALFORMED", "RawTable", "ReadLimits", "frame_to_polars", "read_table", "read_text_table",
           "sniff_delimiter"]

RENAMED_SOURCE_ROW = "source_row_input"
# how the rows were read, recorded in the cleaning report
READ_TEXT_FAST = "fast path: the text was well formed and Polars parsed it in one strict pass"
READ_TEXT_CAREFUL = ("careful path: Polars' strict parse refused the file, so it was read record by record "
                     "({broken:,} malformed record{s} quarantined as malformed_row)")
READ_PARQUET = "Parquet read in batches by Polars"
READ_EXCEL = "Excel sheet read by pandas"
READ_FRAME = "in-memory frame"
TEXT_SUFFIXES = {".csv", ".tsv", ".txt", ".dat"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls"}
PARQUET_SUFFIXES = {".parquet", ".pq"}


@dataclass(frozen=True)
class RawTable:
    """A source read as is: its rows, where they came from and how the text was decoded."""

    frame: pl.DataFrame
    source_name: str
    delimiter: str | None = None
    encoding: str | None = None
    renamed: dict[str, str] | None = None
    reading: str | None = None


def read_table(
    source: Any,
    *,
    format: str = "auto",
    delimiter: str | None = None,
    encoding: str | None = None,
    sheet: str | int | None = None,
    limits: ReadLimits | None = None,
) -> RawTable:
    """Read a path or an in-memory frame into a `RawTable`.

    `format` is one of auto, csv, parquet, excel. `limits` bounds decompression and field sizes (default:
    `ReadLimits.from_environment()`). Raises a one-line `ClvlensError` for a missing, empty, header-only, binary,
    oversized or unreadable source.
    """
    limits = limits or ReadLimits.from_environment()
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.exists():
            raise ClvlensError(f"{path}: no such file")
        if path.is_dir():
            raise ClvlensError(f"{path}: is a folder; pass a file, or --format olist for an Olist folder")
        kind = format if format != "auto" else _kind_from_suffix(path)
        if kind == "parquet":
            # a Parquet read's batches are compact: joined column by column on arrival (see clvlens.data._chunks)
            return _table(single_chunk(_read_parquet(path, limits)), str(path), reading=READ_PARQUET)
        if kind == "excel":
            check_excel(path, limits)
            return _table(_read_excel(path, sheet), str(path), reading=READ_EXCEL)
        return read_text_table(path, delimiter=delimiter, encoding=encoding, limits=limits)
    return _table(frame_to_polars(source), type(source).__name__, reading=READ_FRAME)


def _table(
    frame: pl.DataFrame, name: str, delimiter: str | None = None, encoding: str | None = None,
    reading: str | None = None,
) -> RawTable:
    renamed: dict[str, str] = {}
    if SOURCE_ROW in frame.columns:
        if RENAMED_SOURCE_ROW in frame.columns:
            raise ClvlensError(f"{name}: columns '{SOURCE_ROW}' and '{RENAMED_SOURCE_ROW}' are reserved; rename them")
        frame = frame.rename({SOURCE_ROW: RENAMED_SOURCE_ROW})
        renamed[SOURCE_ROW] = RENAMED_SOURCE_ROW
    if frame.height == 0:
        raise ClvlensError(f"{name}: header only, no data rows")
    frame = frame.with_row_index(SOURCE_ROW, offset=1)
    # a Series, not an expression: an expression over columns chunked differently copies them all (see
    # clvlens.data._chunks); the canonical table is made contiguous once its columns are converted
    frame = frame.with_columns(frame.get_column(SOURCE_ROW).cast(pl.Int64))
    return RawTable(frame, name, delimiter, encoding, renamed or None, reading)


def frame_to_polars(frame: Any) -> pl.DataFrame:
    """Convert a pandas, Polars, Arrow or DuckDB frame to an eager Polars DataFrame."""
    if isinstance(frame, pl.DataFrame):
        return frame
    if isinstance(frame, pl.LazyFrame):
        return frame.collect()
    module = type(frame).__module__.split(".")[0]
    if module == "pandas":
        return pl.from_pandas(frame)
    if module == "pyarrow":
        return pl.from_arrow(frame)  # type: ignore[return-value]
    if module in {"duckdb", "_duckdb"}:
        return frame.pl()
    if hasattr(frame, "__arrow_c_stream__"):
        return pl.DataFrame(frame)
    raise ClvlensError(
        f"unsupported input of type {type(frame).__name__}: pass a file path or a pandas, Polars, Arrow or "
        "DuckDB frame"
    )


def read_text_table(
    path: Path, *, delimiter: str | None = None, encoding: str | None = None, limits: ReadLimits | None = None
) -> RawTable:
    """Read a delimited text file (plain, gzip or zip) with every column as a string, in bounded memory."""
    limits = limits or ReadLimits.from_environment()
    with TemporaryFolder() as folder:
        text_path, used_encoding, complete = prepare_text(path, limits, folder, encoding)
        delimiter = delimiter or sniff_delimiter(head_text(text_path))
        fields, header_lines = first_record(text_path, delimiter)
        names = header_names(fields, path)
        if not names:
            raise ClvlensError(f"{path}: empty file (no columns)")
        frame = read_fast(text_path, delimiter, names, header_lines)
        reading = READ_TEXT_FAST
        if frame is None:
            frame = read_records(text_path, delimiter, names, header_lines, limits)
            broken = frame.height - frame.get_column(MALFORMED).null_count()
            reading = READ_TEXT_CAREFUL.format(broken=broken, s="" if broken == 1 else "s")
        if not ends_with_newline(text_path) and (not complete or looks_cut(frame, names)):
            why = "the compressed stream ends early" if not complete else "the last line looks cut short"
            frame = mark_last_row(frame, names, f"row {frame.height}: {why} (no line break at the end of the file)")
    return _table(frame, str(path), delimiter, used_encoding, reading)


def _read_parquet(path: Path, limits: ReadLimits) -> pl.DataFrame:
    return read_parquet_bounded(path, limits)  # type: ignore[no-any-return]


def _read_excel(path: Path, sheet: str | int | None) -> pl.DataFrame:
    import pandas as pd

    try:
        frame = pd.read_excel(path, sheet_name=sheet if sheet is not None else 0, dtype=object, engine=None)
    except Exception as exc:  # openpyxl/xlrd raise many types for damaged workbooks
        raise ClvlensError(f"{path}: not a readable Excel workbook ({_first_line(exc)})") from None
    if frame.empty and len(frame.columns) == 0:
        raise ClvlensError(f"{path}: the sheet is empty")
    frame.columns = [str(c).strip() for c in frame.columns]
    for column in frame.columns:
        frame[column] = frame[column].map(_excel_cell_to_text)
    return pl.from_pandas(frame.astype("string"))


def _excel_cell_to_text(value: Any) -> str | None:
    import pandas as pd

    if value is None or (isinstance(value, float) and value != value) or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp) or hasattr(value, "isoformat"):
        return value.isoformat(sep=" ") if hasattr(value, "hour") else value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _kind_from_suffix(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    last = suffixes[-1] if suffixes else ""
    if last in PARQUET_SUFFIXES:
        return "parquet"
    if last in EXCEL_SUFFIXES:
        return "excel"
    return "csv"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
