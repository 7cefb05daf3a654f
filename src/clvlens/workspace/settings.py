"""The run settings of a workspace as a typed record, and the currency its money is in.

The currency is not in the transaction data, so it is decided in this order and the record says which rule
decided it (a guess is never silent): an explicit override, a ``currency`` entry in ``run_info``, the data set
named by the run's source or format (Olist and the demo store: BRL; the UCI Online Retail file: GBP; CDNOW: USD),
regions that are all Brazilian state codes (BRL). Otherwise the money has no symbol and the record says so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from clvlens.errors import ClvlensError

SYMBOLS: dict[str, str] = {"BRL": "R$", "GBP": "£", "USD": "$", "EUR": "€", "JPY": "¥", "INR": "₹", "CHF": "CHF "}

# (pattern on the lower-cased source or format, currency, data set named in the reason)
SOURCE_RULES: tuple[tuple[str, str, str], ...] = (
    (r"olist", "BRL", "Olist (Brazil)"),
    (r"online[_ -]?retail|\buci\b", "GBP", "UCI Online Retail (UK)"),
    (r"cdnow", "USD", "CDNOW (US)"),
    (r"demo", "BRL", "the demo store (modelled on Olist)"),
)


@dataclass(frozen=True)
class Currency:
    """ISO code, the symbol written before amounts, and how the workspace's currency was decided."""

    code: str
    symbol: str
    decided_by: str

    @classmethod
    def of(cls, code: str, decided_by: str) -> Currency:
        code = code.strip().upper()
        if not re.fullmatch(r"[A-Z]{3}", code):
            raise ClvlensError(f"currency: expected a three-letter ISO code such as BRL, GBP or USD, got {code!r}")
        return cls(code, SYMBOLS.get(code, code + " "), decided_by)

    @classmethod
    def unknown(cls) -> Currency:
        return cls("", "", "not known: no rule matched the source (set it with --currency)")

    @property
    def known(self) -> bool:
        return bool(self.code)


def detect_currency(info: Mapping[str, str], regions_all_brazilian: bool, override: str | None = None) -> Currency:
    """The workspace's currency by the rules of the module docstring."""
    if override:
        return Currency.of(override, "set by the user")
    if info.get("currency"):
        return Currency.of(info["currency"], "recorded in run_info")
    text = f"{info.get('format', '')} {info.get('source', '')}".lower()
    for pattern, code, dataset in SOURCE_RULES:
        if re.search(pattern, text):
            return Currency.of(code, f"guessed from the source: {dataset}")
    if regions_all_brazilian:
        return Currency.of("BRL", "guessed from the regions: all are Brazilian states")
    return Currency.unknown()


@dataclass(frozen=True)
class RunInfo:
    """What a run read and how it modelled; `raw` keeps every run_info entry as written."""

    source: str
    format: str
    time_unit: str
    observation_end: date | None
    horizon: str
    discount_rate: float | None
    margin: float | None
    model: str | None
    model_criterion: str | None
    customers: int | None
    input_rows: int | None
    kept_rows: int | None
    quarantined_rows: int | None
    created_at: str | None
    version: str | None
    currency: Currency
    skipped: dict[str, str] = field(default_factory=dict)
    raw: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_entries(cls, entries: Mapping[str, str | None], currency: Currency) -> RunInfo:
        info = {k: v for k, v in entries.items() if v is not None}
        end = info.get("observation_end")
        return cls(
            source=info.get("source", ""),
            format=info.get("format", "auto"),
            time_unit=info.get("time_unit", "W"),
            observation_end=date.fromisoformat(end[:10]) if end else None,
            horizon=info.get("horizon", "12M"),
            discount_rate=_float(info.get("discount_rate")),
            margin=_float(info.get("margin")),
            model=info.get("model"),
            model_criterion=info.get("model_criterion"),
            customers=_int(info.get("customers")),
            input_rows=_int(info.get("input_rows")),
            kept_rows=_int(info.get("kept_rows")),
            quarantined_rows=_int(info.get("quarantined_rows")),
            created_at=info.get("created_at"),
            version=info.get("clvlens_version"),
            currency=currency,
            skipped={k.removeprefix("skipped_"): v for k, v in info.items() if k.startswith("skipped_")},
            raw=dict(info),
        )

    @property
    def margin_applied(self) -> bool:
        return self.margin is not None and self.margin != 1.0


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _int(text: str | None) -> int | None:
    try:
        return int(float(text)) if text is not None else None
    except ValueError:
        return None
