"""Read any supported source into clean canonical transactions, with the quarantine and the cleaning report."""

from __future__ import annotations

import contextlib
import gzip
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from clvlens.data.canonical import to_canonical
from clvlens.data.cleaning import CleanedData, CleaningRules, clean
from clvlens.data.readers import read_table
from clvlens.errors import ClvlensError


def load_transactions(
    source: Any,
    *,
    format: str = "auto",
    mapping: Mapping[str, str] | None = None,
    rules: CleaningRules | None = None,
    date_format: str | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
    sheet: str | int | None = None,
) -> CleanedData:
    """Read a transaction log (file path or pandas/Polars/Arrow/DuckDB frame), map, parse and clean it.

    Columns are found automatically for common names (InvoiceNo, CustomerID, InvoiceDate, UnitPrice, Quantity,
    order_id, customer_id, ...) unless `mapping` (canonical name -> source name) says otherwise. Returns the kept
    rows, the quarantine and the cleaning report; `input rows = kept + quarantined` is checked before returning.
    """
    raw = read_table(source, format=format, delimiter=delimiter, encoding=encoding, sheet=sheet)
    canonical, _ = to_canonical(raw, mapping, date_format=date_format, keep_columns=("order_status",))
    return clean(canonical, rules, source_name=raw.source_name)


FORMATS = ("auto", "olist", "online_retail", "cdnow", "csv", "parquet", "excel")


def load_source(
    source: Any,
    *,
    format: str = "auto",
    mapping: Mapping[str, str] | None = None,
    rules: CleaningRules | None = None,
    date_format: str | None = None,
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
        return load_cdnow(source, rules=rules)
    if format == "online_retail":
        return load_online_retail(source, rules=rules)
    reader_format = format if format in {"csv", "parquet", "excel"} else "auto"
    return load_transactions(source, format=reader_format, mapping=mapping, rules=rules, date_format=date_format)


def detect_format(path: Path) -> str:
    """Guess a source's format from what it is: a folder is Olist; a CDNOW file is whitespace-separated digits."""
    if path.is_dir():
        return "olist"
    if not path.exists():
        raise ClvlensError(f"{path}: no such file")
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".xlsx", ".xlsm", ".xls")):
        return "excel"
    with contextlib.suppress(ClvlensError):
        head = _first_data_line(path)
        if re.fullmatch(r"\s*\d+(\s+\d+){2,3}\s+-?\d+(\.\d+)?\s*", head):
            return "cdnow"
    return "csv"


def _first_data_line(path: Path) -> str:
    with open(path, "rb") as handle:
        compressed = handle.read(2) == b"\x1f\x8b"
    opener = gzip.open if compressed else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as handle:  # type: ignore[operator]
        for _ in range(3):
            line = handle.readline()
            if re.match(r"\s*\d", line):
                return line
    return ""
