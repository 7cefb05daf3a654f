"""Reading a timestamp column whose format nobody declared, without ever swapping day and month silently.

Formats come in three families by the order of their fields: year first (ISO 8601 and its relatives, with or
without a zone), month first (12/31/2024) and day first (31/12/2024, 31.12.2024). The family is decided on the
whole column (every distinct value, not a sample): the family that reads the most values wins, so a single value
with a first field above 12 is enough to prove day-first. When month-first and day-first read the same values
and give different dates for some of them, the order cannot be known and reading stops with one line asking for
`--dayfirst` / `--date-format`. Within the chosen family every format is tried in turn, so a column mixing
`2024-01-05` and `2024-01-05 10:00:00` reads whole.

Timestamps carrying a zone (`Z`, `+02:00`, `+0200`) are converted to UTC and stored without a zone; timestamps
without one are taken as they are written (the shop's own clock).
"""

from __future__ import annotations

import polars as pl

from clvlens.errors import ClvlensError

_TIMES = (" %H:%M:%S", " %H:%M:%S%.f", " %H:%M", "")
YEAR_FIRST: tuple[str, ...] = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%Y%m%d",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
)
ZONED: tuple[str, ...] = (
    "%Y-%m-%dT%H:%M:%S%#z",
    "%Y-%m-%dT%H:%M:%S%.f%#z",
    "%Y-%m-%d %H:%M:%S%#z",
    "%Y-%m-%d %H:%M:%S%.f%#z",
    "%Y-%m-%dT%H:%M%#z",
)
MONTH_FIRST: tuple[str, ...] = tuple(f"%m/%d/%Y{t}" for t in _TIMES) + tuple(f"%m-%d-%Y{t}" for t in _TIMES)
DAY_FIRST: tuple[str, ...] = (
    tuple(f"%d/%m/%Y{t}" for t in _TIMES)
    + tuple(f"%d-%m-%Y{t}" for t in _TIMES)
    + tuple(f"%d.%m.%Y{t}" for t in _TIMES)
)
FAMILIES: dict[str, tuple[str, ...]] = {"year-first": YEAR_FIRST + ZONED, "month-first": MONTH_FIRST,
                                        "day-first": DAY_FIRST}
SCREEN_SAMPLE = 5000


def _parse(values: pl.Series, fmt: str) -> pl.Series:
    parsed = values.str.to_datetime(fmt, strict=False, time_unit="us", exact=True)
    if "%#z" in fmt or "%z" in fmt:
        parsed = parsed.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    return parsed


def parse_with(values: pl.Series, formats: tuple[str, ...]) -> pl.Series:
    """Each value read with the first of `formats` that reads it (null when none does).

    The first format reads the whole column; each later one only the values still unread, so a column in one
    format costs one parse.
    """
    if not formats:
        return pl.repeat(None, values.len(), dtype=pl.Datetime("us"), eager=True).alias(values.name)
    result = _parse(values, formats[0])
    for fmt in formats[1:]:
        unread = result.is_null() & values.is_not_null()
        if not unread.any():
            break
        positions = unread.arg_true()
        result = result.scatter(positions, _parse(values.gather(positions), fmt))
    return result.alias(values.name)


def choose_formats(
    values: pl.Series, *, dayfirst: bool | None = None, field: str = "timestamp", source_name: str = "input"
) -> tuple[str, ...]:
    """The formats to read a text timestamp column with, decided on all its distinct non-empty values.

    `dayfirst` settles the order of day and month (True: day-first, False: month-first). Raises a one-line
    `ClvlensError` naming the file and field when the order is ambiguous and matters.
    """
    # strip the distinct values rather than the whole column, then merge the ones that only differed by spaces;
    # text stripped already (as parse_timestamps passes it) needs no second pass over its distinct values, which a
    # large log counts in millions
    distinct = values.cast(pl.String).drop_nulls().unique()
    stripped = distinct.str.strip_chars()
    distinct = stripped.unique() if (stripped != distinct).any() else stripped
    distinct = distinct.filter(distinct != "")
    if distinct.is_empty():
        return ()
    step = max(distinct.len() // SCREEN_SAMPLE, 1)
    screen = distinct.gather_every(step)
    families = dict(FAMILIES)
    if dayfirst is True:
        families.pop("month-first")
    elif dayfirst is False:
        families.pop("day-first")
    useful = {
        name: tuple(f for f in formats if _parse(screen, f).null_count() < screen.len())
        for name, formats in families.items()
    }
    candidates = [name for name, formats in useful.items() if formats]
    if len(candidates) <= 1:
        return useful[candidates[0]] if candidates else ()  # one family reads the screen: nothing to weigh
    parsed = {name: parse_with(distinct, useful[name]) for name in candidates}
    counts = {name: series.len() - series.null_count() for name, series in parsed.items()}
    best = max(counts.values())
    winners = [name for name, count in counts.items() if count == best]
    if {"month-first", "day-first"} <= set(winners):
        both = parsed["month-first"].is_not_null() & parsed["day-first"].is_not_null()
        differ = both & (parsed["month-first"] != parsed["day-first"])
        if differ.any():
            example = distinct.filter(differ)[0]
            raise ClvlensError(
                f"{source_name}: field '{field}': dates like '{example}' could be day-first or month-first and "
                "nothing in the column settles it; pass --dayfirst or --monthfirst, or --date-format (e.g. %d/%m/%Y)"
            )
    return useful[winners[0]]


def parse_timestamps(
    values: pl.Series,
    *,
    date_format: str | None = None,
    dayfirst: bool | None = None,
    field: str = "timestamp",
    source_name: str = "input",
) -> pl.Series:
    """A text column read as naive datetimes (UTC for zoned values); unreadable values become null."""
    text = values.cast(pl.String).str.strip_chars()
    if date_format is not None:
        try:
            return _parse(text, date_format)
        except pl.exceptions.PolarsError as exc:
            raise ClvlensError(f"{source_name}: date format '{date_format}' is not usable ({exc})") from None
    formats = choose_formats(text, dayfirst=dayfirst, field=field, source_name=source_name)
    if not formats:
        return pl.Series(values.name, [None] * values.len(), dtype=pl.Datetime("us"))
    return parse_with(text, formats)
