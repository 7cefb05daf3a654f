"""UCI Online Retail: data set 352 (InvoiceNo, ..., UnitPrice, CustomerID) and Online Retail II (Invoice, ...,
Price, Customer ID), as CSV or as the published xlsx workbook.

Chen, Sain & Guo (2012), Journal of Database Marketing and Customer Strategy Management 19(3).
"""

from __future__ import annotations

from pathlib import Path

from clvlens.data._limits import ReadLimits
from clvlens.data.canonical import to_canonical
from clvlens.data.cleaning import CleanedData, CleaningRules, clean
from clvlens.data.readers import read_table
from clvlens.data.schema import normalize_name
from clvlens.errors import ClvlensError

# canonical -> candidate source names; both releases, compared after normalize_name
_RELEASE_COLUMNS: dict[str, tuple[str, ...]] = {
    "order_id": ("invoiceno", "invoice"),
    "item_id": ("stockcode",),
    "item_name": ("description",),
    "quantity": ("quantity",),
    "timestamp": ("invoicedate",),
    "unit_price": ("unitprice", "price"),
    "customer_id": ("customerid",),
    "region": ("country",),
}


def load_online_retail(
    path: str | Path,
    *,
    rules: CleaningRules | None = None,
    sheet: str | int | None = None,
    date_format: str | None = None,
    dayfirst: bool | None = None,
    limits: ReadLimits | None = None,
) -> CleanedData:
    """Load either Online Retail release; amount = Quantity x UnitPrice, region = Country.

    Cancellations are invoices starting with "C" (negative quantities); the purchase lines they reverse are
    quarantined with them. The "Online Retail II" workbook has two sheets (2009-2010, 2010-2011): pass `sheet`
    to choose one, or export both into one CSV.
    """
    raw = read_table(path, sheet=sheet, limits=limits)
    by_normal = {normalize_name(c): c for c in raw.frame.columns}
    mapping: dict[str, str] = {}
    for canonical, candidates in _RELEASE_COLUMNS.items():
        found = next((by_normal[c] for c in candidates if c in by_normal), None)
        if found is None:
            raise ClvlensError(
                f"{path}: not an Online Retail file: no column {' or '.join(candidates)} for {canonical} "
                f"(columns: {', '.join(raw.frame.columns[:10])})"
            )
        mapping[canonical] = found
    canonical_frame, _ = to_canonical(raw, mapping, date_format=date_format, dayfirst=dayfirst,
                                      release=True)
    return clean(canonical_frame, rules or CleaningRules(), source_name=raw.source_name, reading=raw.reading,
                 release=True)
