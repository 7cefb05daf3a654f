"""Formula-safe CSV of a (small, already bounded) table for download buttons.

A text cell that starts with =, +, -, @, a tab or a carriage return gets a leading apostrophe, so a spreadsheet
shows it as text instead of running it (the rule the BI export applies to its CSV and XLSX files). Numbers, dates
and booleans are written as they are.
"""

from __future__ import annotations

import polars as pl

DANGEROUS_START = r"^[=+\-@\t\r]"


def formula_safe(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with every risky text cell prefixed by an apostrophe."""
    text = [name for name, dtype in frame.schema.items() if dtype in (pl.String, pl.Categorical, pl.Enum)]
    return frame.with_columns(
        pl.when(pl.col(c).cast(pl.String).str.contains(DANGEROUS_START))
        .then(pl.lit("'") + pl.col(c).cast(pl.String))
        .otherwise(pl.col(c).cast(pl.String))
        .alias(c)
        for c in text
    )


def safe_csv_bytes(frame: pl.DataFrame) -> bytes:
    """UTF-8 CSV of `frame` with formula-safe text cells; list and struct columns are written as JSON text."""
    nested = [name for name, dtype in frame.schema.items() if isinstance(dtype, (pl.List, pl.Array, pl.Struct))]
    if nested:
        frame = frame.with_columns(
            pl.col(c).map_elements(_json_text, return_dtype=pl.String) for c in nested
        )
    return formula_safe(frame).write_csv().encode("utf-8")


def _json_text(value: object) -> str:
    import json

    if hasattr(value, "to_list"):
        value = value.to_list()
    return json.dumps(value, default=str, ensure_ascii=False)
