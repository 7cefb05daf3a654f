"""Readers that turn any supported source into one raw Polars frame.

Files (CSV/TSV, Parquet, Excel, gzip-compressed CSV) and in-memory frames (pandas, Polars, Arrow, DuckDB) all come
out as a Polars DataFrame with the source's own column names plus `source_row` (1-based position of the row in the
input). Text files are read with every column as a string, so that a bad value becomes a quarantined row with a
reason later instead of failing the whole read.
"""

from __future__ import annotations

import csv
import gzip
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from clvlens.data.schema import SOURCE_ROW
from clvlens.errors import ClvlensError

TEXT_SUFFIXES = {".csv", ".tsv", ".txt", ".dat"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
DELIMITER_CANDIDATES = ",;\t|"
SNIFF_BYTES = 256 * 1024


@dataclass(frozen=True)
class RawTable:
    """A source read as is: its rows, where they came from and how the text was decoded."""

    frame: pl.DataFrame
    source_name: str
    delimiter: str | None = None
    encoding: str | None = None


def read_table(
    source: Any,
    *,
    format: str = "auto",
    delimiter: str | None = None,
    encoding: str | None = None,
    sheet: str | int | None = None,
) -> RawTable:
    """Read a path or an in-memory frame into a `RawTable`.

    `format` is one of auto, csv, parquet, excel. Raises a one-line `ClvlensError` for a missing, empty, binary or
    unreadable source.
    """
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.exists():
            raise ClvlensError(f"{path}: no such file")
        if path.is_dir():
            raise ClvlensError(f"{path}: is a folder; pass a file, or --format olist for an Olist folder")
        kind = format if format != "auto" else _kind_from_suffix(path)
        if kind == "parquet":
            return RawTable(_with_source_row(_read_parquet(path)), str(path))
        if kind == "excel":
            return RawTable(_with_source_row(_read_excel(path, sheet)), str(path))
        return read_text_table(path, delimiter=delimiter, encoding=encoding)
    return RawTable(_with_source_row(frame_to_polars(source)), type(source).__name__)


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


def read_text_table(path: Path, *, delimiter: str | None = None, encoding: str | None = None) -> RawTable:
    """Read a delimited text file (optionally gzip-compressed) with every column as a string."""
    data = read_bytes(path)
    text, used_encoding = decode_text(data, path, encoding)
    if not text.strip():
        raise ClvlensError(f"{path}: empty file (no header and no rows)")
    delimiter = delimiter or sniff_delimiter(text)
    try:
        frame = pl.read_csv(
            io.StringIO(text),
            separator=delimiter,
            infer_schema=False,
            quote_char='"',
            truncate_ragged_lines=False,
        )
    except pl.exceptions.PolarsError as exc:
        raise ClvlensError(f"{path}: not a readable {_delimiter_name(delimiter)} table ({_first_line(exc)})") from None
    if frame.width == 0:
        raise ClvlensError(f"{path}: empty file (no columns)")
    frame = frame.rename({c: c.strip() for c in frame.columns})
    return RawTable(_with_source_row(frame), str(path), delimiter, used_encoding)


def sniff_delimiter(text: str) -> str:
    """Guess the delimiter from the first lines: the candidate splitting every line into the same many fields."""
    sample = "\n".join(text[:SNIFF_BYTES].splitlines()[:50])
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITER_CANDIDATES).delimiter
    except csv.Error:
        pass
    lines = [line for line in sample.splitlines() if line.strip()][:20]
    best, best_score = ",", 0
    for candidate in DELIMITER_CANDIDATES:
        counts = [line.count(candidate) for line in lines]
        if counts and min(counts) > 0 and min(counts) == max(counts) and counts[0] > best_score:
            best, best_score = candidate, counts[0]
    return best


def read_bytes(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ClvlensError(f"{path}: cannot read ({exc.strerror})") from None
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise ClvlensError(f"{path}: damaged gzip file ({exc})") from None
    return data


def decode_text(data: bytes, path: Path, encoding: str | None) -> tuple[str, str]:
    head = data[:SNIFF_BYTES]
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        offset = head.index(b"\x00")
        raise ClvlensError(f"{path}: binary data, not a text table (NUL byte at offset {offset})")
    candidates = [encoding] if encoding else ["utf-8-sig", "utf-16", "cp1252", "latin-1"]
    if not encoding and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates.remove("utf-16")
    for candidate in candidates:
        try:
            text = data.decode(candidate)
        except (UnicodeDecodeError, LookupError):
            continue
        if _looks_binary(text):
            raise ClvlensError(f"{path}: binary data, not a text table (mostly unprintable characters)")
        return text.replace("\r\n", "\n").replace("\r", "\n"), candidate
    raise ClvlensError(f"{path}: cannot decode the text as {encoding or 'UTF-8, cp1252 or latin-1'}")


def _looks_binary(text: str) -> bool:
    sample = text[:4096]
    if not sample:
        return False
    unprintable = sum(1 for ch in sample if (ord(ch) < 32 and ch not in "\r\n\t") or 0x7F <= ord(ch) < 0xA0)
    return unprintable / len(sample) > 0.05


def _read_parquet(path: Path) -> pl.DataFrame:
    try:
        return pl.read_parquet(path)
    except Exception as exc:  # polars raises several unrelated types for corrupt files
        raise ClvlensError(f"{path}: not a readable Parquet file ({_first_line(exc)})") from None


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


def _with_source_row(frame: pl.DataFrame) -> pl.DataFrame:
    if SOURCE_ROW in frame.columns:
        return frame
    return frame.with_row_index(SOURCE_ROW, offset=1).with_columns(pl.col(SOURCE_ROW).cast(pl.Int64))


def _delimiter_name(delimiter: str) -> str:
    return {",": "comma-separated", ";": "semicolon-separated", "\t": "tab-separated", "|": "pipe-separated"}.get(
        delimiter, f"'{delimiter}'-separated"
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
