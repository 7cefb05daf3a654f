"""Time units shared by every layer: hours, days, weeks, months, quarters and years, and their multiples.

A unit is written as an optional whole multiple and a letter: ``"D"``, ``"W"``, ``"2W"``, ``"4H"``, ``"1Q"``.
Lengths use the calendar's averages, never a hidden 30-day month: H = 1/24 day, W = 7 days, M = 365.25 / 12
days, Q = 365.25 / 4 days, Y = 365.25 days. Pure Python, so that the numpy-only model layer can import it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from clvlens.errors import ClvlensError

__all__ = ["BASE_DAYS", "MODEL_BASES", "TimeUnit", "parse_time_unit", "unit_days"]

BASE_DAYS: dict[str, float] = {"H": 1.0 / 24.0, "D": 1.0, "W": 7.0, "M": 365.25 / 12.0, "Q": 365.25 / 4.0,
                               "Y": 365.25}
_PATTERN = re.compile(r"^\s*(\d+)?\s*([HDWMQY])\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class TimeUnit:
    """``multiple`` periods of the calendar unit ``base`` (one of H, D, W, M, Q, Y)."""

    multiple: int
    base: str

    @property
    def days(self) -> float:
        """Average length in days."""
        return self.multiple * BASE_DAYS[self.base]

    @property
    def code(self) -> str:
        """The canonical spelling: ``"W"`` for one week, ``"2W"`` for two."""
        return self.base if self.multiple == 1 else f"{self.multiple}{self.base}"


#: units a summary or a model may be measured in (a year is a horizon, not a unit of age)
MODEL_BASES = ("H", "D", "W", "M", "Q")


def parse_time_unit(text: object, name: str = "time_unit", allowed: tuple[str, ...] = MODEL_BASES) -> TimeUnit:
    """Read ``"D"``, ``"2W"``, ``"4H"``, ``"1Q"`` ...; a one-line error naming ``name`` otherwise."""
    match = _PATTERN.match(str(text)) if isinstance(text, str) else None
    if (match is None or (match.group(1) is not None and int(match.group(1)) == 0)
            or match.group(2).upper() not in allowed):
        raise ClvlensError(
            f"{name}: {text!r} is not a time unit; use {', '.join(allowed)}, optionally with a whole multiple "
            "such as '2W' or '4H'"
        )
    multiple = int(match.group(1)) if match.group(1) else 1
    return TimeUnit(multiple, match.group(2).upper())


def unit_days(text: object, name: str = "time_unit", allowed: tuple[str, ...] = MODEL_BASES) -> float:
    """Average length in days of a unit such as ``"W"`` or ``"2W"``."""
    return parse_time_unit(text, name, allowed).days
