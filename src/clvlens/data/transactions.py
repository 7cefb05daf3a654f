"""Read any supported source into clean canonical transactions, with the quarantine and the cleaning report."""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from clvlens.data._limits import ReadLimits, compression_of
from clvlens.data.canonical import to_canonical
from clvlens.data.cleaning import CleanedData, CleaningRules, clean
from clvlens.data.readers import read_table
from clvlens.errors import ClvlensError

# CDNOW's published files: no header, spaces between fields, an 8-digit date in the second (master) or third
# (sample) field, and at most CDNOW's own header line. Anything else (another header, tabs, other widths) is a
# generic table whose columns are mapped by name, never by position.
_CDNOW_HEADERS = (
    ["customer_id", "date", "number_of_cds", "dollar_value"],
    ["master_id", "customer_id", "date", "number_of_cds", "dollar_value"],
)
_CDNOW_LINE = re.compile(r" *\d+ +(\d+ +)?(19|20)\d{6} +\d+ +-?\d+(\.\d+)? *\r?\n?")


def load_transactions(
    source: Any,
    *,
    format: str = "auto",
    mapping: Mapping[str, str] | None = None,
    rules: CleaningRules | None = None,
    date_format: str | None = None,
    dayfirst: bool | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
    sheet: str | int | None = None,
    limits: ReadLimits | None = None,
) -> CleanedData:
    """Read a transaction log (file path or pandas/Polars/Arrow/DuckDB frame), map, parse and clean it.

    Columns are found automatically for common names (InvoiceNo, CustomerID, InvoiceDate, UnitPrice, Quantity,
    order_id, customer_id, ...) unless `mapping` (canonical name -> source name) says otherwise. Returns the kept
    rows, the quarantine and the cleaning report; `input rows = kept + quarantined` is checked before returning.
    `date_format` / `dayfirst` settle ambiguous dates; `limits` bounds decompression (see `ReadLimits`).
    """
    raw = read_table(source, format=format, delimiter=delimiter, encoding=encoding, sheet=sheet, limits=limits)
    canonical, _ = to_canonical(
        raw, mapping, date_format=date_format, dayfirst=dayfirst, keep_columns=("order_status",), release=True
    )
    name, reading = raw.source_name, raw.reading
    del raw  # the raw strings are not needed any more: free them before cleaning copies the kept rows
    return clean(canonical, rules, source_name=name, reading=reading, release=True)


FORMATS = ("auto", "olist", "online_retail", "cdnow", "csv", "parquet", "excel")


def load_source(
    source: Any,
    *,
    format: str = "auto",
    mapping: Mapping[str, str] | None = None,
    rules: CleaningRules | None = None,
    date_format: str | None = None,
    dayfirst: bool | None = None,
    limits: ReadLimits | None = None,
) -> CleanedData:
    """Load any supported source: a data set loader by `format`, or the generic reader for files and frames.

    `auto` picks the Olist loader for a folder, the CDNOW loader for a whitespace-separated CDNOW file and the
    generic reader otherwise (which already recognises Online Retail's column names).
    """
    from clvlens.data.loaders import load_cdnow, load_olist, load_online_retail

    if format not in FORMATS:
        raise ClvlensError(f"unknown format '{format}' (choose from {', '.join(FORMATS)})")
    if format == "auto" and isinstance(source, (str, Path)):
        format = detect_format(Path(source))
    if format == "olist":
        return load_olist(source, rules=rules)
    if format == "cdnow":
        return load_cdnow(source, rules=rules, limits=limits)
    if format == "online_retail":
        return load_online_retail(source, rules=rules, date_format=date_format, dayfirst=dayfirst, limits=limits)
    reader_format = format if format in {"csv", "parquet", "excel"} else "auto"
    return load_transactions(
        source, format=reader_format, mapping=mapping, rules=rules, date_format=date_format, dayfirst=dayfirst,
        limits=limits,
    )


def detect_format(path: Path) -> str:
    """Guess a source's format from what it is: a folder is Olist; a CDNOW file is headerless space-separated
    digits with a YYYYMMDD date in every one of its first lines."""
    if path.is_dir():
        return "olist"
    if not path.exists():
        raise ClvlensError(f"{path}: no such file")
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".xlsx", ".xlsm", ".xls")):
        return "excel"
    lines = _first_lines(path, 6)
    if lines and lines[0].split() in _CDNOW_HEADERS:
        lines = lines[1:]
    if lines and all(_CDNOW_LINE.fullmatch(line) for line in lines):
        return "cdnow"
    return "csv"


def _first_lines(path: Path, count: int) -> list[str]:
    """The first non-blank lines of a plain or gzip file, each read with a bounded readline."""
    kind = compression_of(path)
    if kind == "zip":
        return []
    opener = gzip.open if kind == "gzip" else open
    lines: list[str] = []
    try:
        with opener(path, "rb") as handle:  # type: ignore[operator]
            while len(lines) < count:
                raw = handle.readline(4097)
                if not raw or len(raw) > 4096:
                    break
                if raw.strip():
                    lines.append(raw.decode("latin-1"))
    except (OSError, EOFError, zlib.error):
        return []
    return lines
