"""The canonical transaction table and the mapping of source columns onto it.

Every reader and loader produces the same table: one row per order line (or per order) with the columns below.
`source_row` (1-based position of the row in its input) is kept on every row, kept or quarantined, so any figure
can be traced back to the line of the file it came from.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from clvlens.errors import ClvlensError

REQUIRED_COLUMNS: tuple[str, ...] = ("customer_id", "order_id", "timestamp", "amount")
OPTIONAL_COLUMNS: tuple[str, ...] = (
    "quantity",
    "unit_price",
    "item_id",
    "item_name",
    "category",
    "region",
    "channel",
)
CANONICAL_COLUMNS: tuple[str, ...] = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
SOURCE_ROW = "source_row"
REASON = "reason"

# Source names recognised automatically, compared after lower-casing and dropping every non-alphanumeric
# character, so "Customer ID", "customer_id" and "CustomerID" are one name. Order matters: the first alias
# present in a source wins.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "customer_id": (
        "customerid",
        "customeruniqueid",
        "customer",
        "custid",
        "clientid",
        "client",
        "userid",
        "buyerid",
        "memberid",
        "accountid",
    ),
    "order_id": (
        "orderid",
        "invoiceno",
        "invoice",
        "invoiceid",
        "invoicenumber",
        "ordernumber",
        "orderno",
        "transactionid",
        "receiptid",
        "basketid",
    ),
    "timestamp": (
        "timestamp",
        "invoicedate",
        "orderdate",
        "orderpurchasetimestamp",
        "purchasedate",
        "transactiondate",
        "datetime",
        "date",
        "orderdatetime",
        "createdat",
    ),
    "amount": (
        "amount",
        "revenue",
        "sales",
        "linetotal",
        "ordervalue",
        "ordertotal",
        "total",
        "totalamount",
        "value",
        "dollarvalue",
        "paymentvalue",
        "monetary",
        "spend",
    ),
    "quantity": ("quantity", "qty", "units", "numberofcds", "count"),
    "unit_price": ("unitprice", "price", "itemprice"),
    "item_id": ("itemid", "stockcode", "sku", "productid", "product", "item"),
    "item_name": ("itemname", "description", "productname", "productdescription", "name"),
    "category": ("category", "productcategory", "productcategorynameenglish", "productcategoryname"),
    "region": ("region", "country", "state", "customerstate", "province", "market"),
    "channel": ("channel", "saleschannel", "source"),
}


def normalize_name(name: str) -> str:
    """Lower-case a column name and drop everything but letters and digits."""
    return re.sub(r"[^0-9a-z]", "", str(name).lower())


@dataclass(frozen=True)
class ColumnMapping:
    """Which source column feeds each canonical column (canonical name -> source name)."""

    columns: dict[str, str]
    amount_from_quantity_and_price: bool
    order_id_from_row: bool

    def describe(self) -> str:
        parts = [f"{canon}<-{src}" for canon, src in self.columns.items() if canon != src]
        if self.amount_from_quantity_and_price:
            parts.append("amount<-quantity*unit_price")
        if self.order_id_from_row:
            parts.append("order_id<-row number")
        return ", ".join(parts) if parts else "identity"


def parse_mapping_option(pairs: Iterable[str]) -> dict[str, str]:
    """Parse CLI-style `canonical=source` pairs into a mapping."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ClvlensError(f"column mapping '{pair}' must look like canonical=source, e.g. customer_id=Kunde")
        canonical, source = (part.strip() for part in pair.split("=", 1))
        mapping[canonical] = source
    return mapping


def resolve_columns(
    source_columns: Iterable[str],
    explicit: Mapping[str, str] | None = None,
    *,
    source_name: str = "input",
) -> ColumnMapping:
    """Decide which source column feeds each canonical column.

    Explicit entries win; the rest are found through `COLUMN_ALIASES`. `amount` may be derived from quantity and
    unit price, and `order_id` from the row number (each row its own order) when the source has neither.
    Raises a one-line `ClvlensError` naming the missing field and the names that were looked for.
    """
    available = list(source_columns)
    by_normal = {}
    for col in available:
        by_normal.setdefault(normalize_name(col), col)
    explicit = dict(explicit or {})
    unknown = sorted(set(explicit) - set(CANONICAL_COLUMNS))
    if unknown:
        raise ClvlensError(
            f"{source_name}: unknown canonical column '{unknown[0]}' in the mapping "
            f"(known: {', '.join(CANONICAL_COLUMNS)})"
        )
    chosen: dict[str, str] = {}
    for canonical, source in explicit.items():
        if source not in available:
            raise ClvlensError(
                f"{source_name}: mapped column '{source}' (for {canonical}) is not in the file; "
                f"columns are: {_preview(available)}"
            )
        chosen[canonical] = source
    used = set(chosen.values())
    for canonical in CANONICAL_COLUMNS:
        if canonical in chosen:
            continue
        for alias in (normalize_name(canonical), *COLUMN_ALIASES[canonical]):
            source = by_normal.get(alias)
            if source is not None and source not in used:
                chosen[canonical] = source
                used.add(source)
                break

    amount_derived = "amount" not in chosen and {"quantity", "unit_price"} <= chosen.keys()
    order_derived = "order_id" not in chosen
    for canonical in ("customer_id", "timestamp"):
        if canonical not in chosen:
            raise _missing(canonical, available, source_name)
    if "amount" not in chosen and not amount_derived:
        raise _missing("amount", available, source_name, extra=" (or both a quantity and a unit price column)")
    ordered = {canon: chosen[canon] for canon in CANONICAL_COLUMNS if canon in chosen}
    return ColumnMapping(ordered, amount_derived, order_derived)


def _missing(canonical: str, available: list[str], source_name: str, extra: str = "") -> ClvlensError:
    hint = ""
    if len(available) == 1 and any(sep in available[0] for sep in ";,\t|"):
        hint = " - the whole header landed in one column: is the delimiter right?"
    looked_for = ", ".join((canonical, *COLUMN_ALIASES[canonical][:5]))
    return ClvlensError(
        f"{source_name}: missing required column '{canonical}'{extra}; looked for {looked_for}...; "
        f"columns are: {_preview(available)}{hint}; map one with --map {canonical}=COLUMN"
    )


def _preview(columns: list[str], limit: int = 12) -> str:
    shown = ", ".join(repr(str(c))[:60] for c in columns[:limit])
    return shown + (f" and {len(columns) - limit} more" if len(columns) > limit else "")
