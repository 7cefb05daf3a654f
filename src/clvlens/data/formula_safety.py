"""Neutralising spreadsheet formulas in text cells before a table is written for people to open.

A CSV cell starting with `=`, `+`, `-` or `@` (or a tab or carriage return, which some spreadsheets skip before
reading one of those) is run as a formula by Excel, LibreOffice and Google Sheets: customer ids and item names come
from whoever filled the shop's forms, so an exported table could carry `=HYPERLINK(...)` into an analyst's
spreadsheet (CSV or formula injection, OWASP). Such text cells get a leading apostrophe, which spreadsheets show
as plain text. Numeric columns stay numeric, and a text cell that is just a number (`-3`, `+1.5e3`) is left as is:
a spreadsheet reads it as that number, never as a formula.
"""

from __future__ import annotations

import polars as pl

FORMULA_START = r"^[=+\-@\t\r]"
PLAIN_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"


def neutralise_formulas(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with every text cell that a spreadsheet would run as a formula prefixed by an apostrophe."""
    text_columns = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    if not text_columns:
        return frame
    return frame.with_columns(neutralise_expr(pl.col(name)).alias(name) for name in text_columns)


def neutralise_expr(value: pl.Expr) -> pl.Expr:
    """The expression form, for callers that build their own select."""
    risky = value.str.contains(FORMULA_START) & ~value.str.contains(PLAIN_NUMBER)
    return pl.when(risky).then(pl.lit("'") + value).otherwise(value)
