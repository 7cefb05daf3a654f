"""Streaming writers for one star table: Parquet (DuckDB), CSV (Arrow batches) and XLSX (openpyxl, write-only).

CSV and XLSX cells are neutralised against formula injection: a text cell that starts with =, +, -, @, a tab or a
carriage return gets a leading apostrophe, so a spreadsheet shows it as text instead of running it. Numbers,
dates and booleans are written as they are (only text columns are touched).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from clvlens.errors import ClvlensError

BATCH_ROWS = 100_000
XLSX_MAX_ROWS = 1_048_576  # Excel's sheet limit, the header row included
DANGEROUS_START = r"^[=+\-@\t\r]"


def neutralise(batch: pa.RecordBatch) -> pa.RecordBatch:
    """The batch with every text cell that a spreadsheet could run as a formula prefixed by an apostrophe."""
    columns = []
    for column in batch.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            risky = pc.fill_null(pc.match_substring_regex(column, DANGEROUS_START), False)
            column = pc.if_else(risky, pc.binary_join_element_wise("'", column, ""), column)
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, schema=batch.schema)


def write_parquet(relation: Any, path: Path) -> int:
    import pyarrow.parquet as pq

    relation.write_parquet(str(path), compression="zstd")
    return int(pq.ParquetFile(str(path)).metadata.num_rows)


def write_csv(relation: Any, path: Path) -> int:
    reader = relation.to_arrow_reader(BATCH_ROWS)
    rows = 0
    with pacsv.CSVWriter(str(path), reader.schema) as writer:
        for batch in reader:
            writer.write_batch(neutralise(batch))
            rows += batch.num_rows
    return rows


def write_sheet(workbook: Any, name: str, relation: Any, rows_expected: int) -> int:
    """Append one sheet to an `XlsxWriter`; refuses (one line) a table longer than Excel's row limit."""
    if rows_expected + 1 > XLSX_MAX_ROWS:
        raise ClvlensError(
            f"export --to xlsx: {name} has {rows_expected:,} rows, more than an Excel sheet holds "
            f"({XLSX_MAX_ROWS - 1:,} below the header); export to parquet or csv instead"
        )
    reader = relation.to_arrow_reader(BATCH_ROWS)
    batches = (_rows(neutralise(batch)) for batch in reader)
    return int(workbook.sheet(name, list(reader.schema.names), batches))


def _rows(batch: pa.RecordBatch) -> Any:
    columns = [column.to_pylist() for column in batch.columns]
    return zip(*columns, strict=True)
