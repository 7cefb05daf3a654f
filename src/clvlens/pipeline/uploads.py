"""What an upload form needs before a run: the file's columns and a proposed mapping onto the canonical table.

The proposal is only a starting point shown to the user, who confirms or changes each role before the run
(a guessed role is never applied silently); the run itself is :func:`clvlens.pipeline.run_pipeline`.
"""

from __future__ import annotations

from pathlib import Path

from clvlens.data.schema import CANONICAL_COLUMNS, COLUMN_ALIASES, REQUIRED_COLUMNS, normalize_name
from clvlens.errors import ClvlensError

UPLOAD_SUFFIXES = (".csv", ".txt", ".gz", ".parquet", ".pq", ".xlsx", ".xlsm")
ROLES = CANONICAL_COLUMNS
REQUIRED_ROLES = REQUIRED_COLUMNS


def source_columns(path: Path) -> list[str]:
    """The column names of an uploaded CSV, Parquet or Excel file (one-line error when it cannot be read)."""
    from clvlens.data.readers import read_table

    if not path.name.lower().endswith(UPLOAD_SUFFIXES):
        raise ClvlensError(f"{path.name}: not a CSV, Parquet or Excel file ({', '.join(UPLOAD_SUFFIXES)})")
    frame = read_table(path).frame
    return [c for c in frame.columns if c != "source_row"]


def proposed_mapping(columns: list[str]) -> dict[str, str | None]:
    """For every canonical role, the source column whose name matches it or one of its aliases, else None."""
    by_normal: dict[str, str] = {}
    for column in columns:
        by_normal.setdefault(normalize_name(column), column)
    proposal: dict[str, str | None] = {}
    used: set[str] = set()
    for role in ROLES:
        proposal[role] = None
        for alias in (normalize_name(role), *COLUMN_ALIASES[role]):
            found = by_normal.get(alias)
            if found is not None and found not in used:
                proposal[role] = found
                used.add(found)
                break
    return proposal
