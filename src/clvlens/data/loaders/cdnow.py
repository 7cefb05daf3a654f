"""CDNOW: the full purchase history (to June 1998) of customers who first bought at CDNOW in Q1 1997.

Two files as published by Fader & Hardie (and shipped by lifetimes): the master file (customer id, date
YYYYMMDD, number of CDs, dollar value; 23,570 customers) and the 1/10 sample of Fader, Hardie & Lee (2005) with a
sample id 1-2357 in the second column. Both are whitespace-separated; a header line is optional.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from clvlens.data._csv import MALFORMED, prepare_text
from clvlens.data._limits import ReadLimits, TemporaryFolder
from clvlens.data.canonical import to_canonical
from clvlens.data.cleaning import CleanedData, CleaningRules, clean
from clvlens.data.readers import RawTable
from clvlens.data.schema import SOURCE_ROW
from clvlens.errors import ClvlensError

_MASTER = ("customer_id", "date", "number_of_cds", "dollar_value")
_SAMPLE = ("master_id", "customer_id", "date", "number_of_cds", "dollar_value")


def load_cdnow(
    path: str | Path, *, rules: CleaningRules | None = None, limits: ReadLimits | None = None
) -> CleanedData:
    """Load CDNOW_master or CDNOW_sample (plain or gzip); the customer id is the sample id for the sample.

    Each line is one transaction, so order ids are the line numbers; a line with the wrong number of fields is
    quarantined as `malformed_row`. Customer ids keep no leading zeros, so they
    match the published summaries' ID column.
    """
    path = Path(path)
    if not path.exists():
        raise ClvlensError(f"{path}: no such file")
    rows: list[list[str | None]] = []
    notes: list[str | None] = []
    width = 0
    with TemporaryFolder() as folder:
        text_path, _, _ = prepare_text(path, limits or ReadLimits.from_environment(), folder, None)
        with open(text_path, encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, start=1):
                fields = line.split()
                if not fields:
                    continue
                if not rows and not re.fullmatch(r"\d+", fields[0]):
                    continue  # header line
                if width == 0:
                    width = len(fields)
                    if width not in (len(_MASTER), len(_SAMPLE)):
                        raise ClvlensError(
                            f"{path}, line {number}: expected 4 (master) or 5 (sample) whitespace-separated fields, "
                            f"found {width}"
                        )
                problem = None
                if len(fields) != width:
                    problem = f"line {number}: {len(fields)} fields where CDNOW has {width}"
                elif not line.endswith("\n"):
                    problem = f"line {number}: no line break at the end of the file (cut short?)"
                rows.append([None] * width if problem else fields)
                notes.append(problem)
    if not rows:
        raise ClvlensError(f"{path}: empty file (no transactions)")
    names = _MASTER if width == len(_MASTER) else _SAMPLE
    frame = pl.DataFrame(rows, schema={n: pl.String for n in names}, orient="row").with_columns(
        pl.col("customer_id").str.strip_chars_start("0").replace("", "0"),
        pl.Series(MALFORMED, notes, dtype=pl.String),
    )
    frame = frame.with_row_index(SOURCE_ROW, offset=1).with_columns(pl.col(SOURCE_ROW).cast(pl.Int64))
    raw = RawTable(frame, str(path))
    mapping = {"customer_id": "customer_id", "timestamp": "date", "amount": "dollar_value", "quantity": "number_of_cds"}
    canonical, _ = to_canonical(raw, mapping, date_format="%Y%m%d")
    # CDNOW has no cancellations and no item ids: identical lines are distinct purchases on the same day, not
    # copies, so the duplicate rule is off (the summary merges same-day purchases). Its $0.00 lines are real
    # purchase occasions that the published summaries count, so zero amounts are kept.
    rules = rules or CleaningRules(drop_duplicates=False, drop_cancellations=False, allow_zero_amount=True)
    return clean(canonical, rules, source_name=str(path), release=True)
