"""Cleaning rules with full accounting: every input row is either kept or quarantined with one reason code.

The rules run in a fixed order and a row gets the code of the first rule it breaks, so the counts per reason add up
to the quarantine exactly and `input rows = kept rows + quarantined rows` always holds (`CleanedData.check()`).

Codes, in the order the rules run (see `REASON_DESCRIPTIONS` for the one-line texts stored with the report):

- malformed_row: the record was broken in the file (wrong number of fields, unbalanced quote, last line cut
  short); `detail` names the line;
- missing_timestamp, unparseable_timestamp, missing_amount, unparseable_amount: the value is empty or cannot be
  read (dates in the detected or given format; amounts as numbers, decimal commas accepted);
- nonfinite_amount: amount, quantity or unit price is infinite or NaN;
- implausible_timestamp: before `earliest_timestamp` (1990-01-01) or more than `future_days` (1) after today;
- implausible_amount: amount, quantity or unit price beyond +-`max_abs_value` (1e12), where sums stop being exact;
- missing_customer: no customer id (UCI Online Retail has 135,080 such lines);
- not_delivered: an order status other than the kept ones (Olist: only `delivered` orders are purchases);
- cancellation: order id starting with the cancellation prefix ("C" in UCI), or a negative quantity;
- cancelled_original: the purchase line a cancellation reverses: same customer, item and absolute quantity, the
  latest such line at or before the cancellation, each matched once (partial returns leave the purchase kept);
- duplicate: identical in every source column to an earlier row;
- nonpositive_amount: amount or unit price zero or negative (free samples, bad-debt adjustments); with
  `allow_zero_amount` only negative ones;
- outlier: amount above `max_amount` or above the `outlier_quantile` of amounts, or quantity above `max_quantity`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from clvlens.data.canonical import DETAIL, IS_DUPLICATE, PARSE_ERROR
from clvlens.data.schema import CANONICAL_COLUMNS, REASON, SOURCE_ROW
from clvlens.errors import ClvlensError

REASON_DESCRIPTIONS: dict[str, str] = {
    "malformed_row": "the record is broken in the file (see detail for the line)",
    "missing_timestamp": "timestamp is empty",
    "unparseable_timestamp": "timestamp cannot be read in the detected date format",
    "missing_amount": "amount (or quantity and unit price) is empty",
    "unparseable_amount": "amount is not a number",
    "nonfinite_amount": "amount, quantity or unit price is infinite or NaN",
    "implausible_timestamp": "timestamp before the earliest plausible date or in the future",
    "implausible_amount": "amount, quantity or unit price beyond the plausible maximum",
    "missing_customer": "no customer id",
    "not_delivered": "order status is not one of the kept statuses",
    "cancellation": "cancellation line (cancellation prefix on the order id, or negative quantity)",
    "cancelled_original": "purchase line reversed by a later cancellation",
    "duplicate": "identical in every source column to an earlier row",
    "nonpositive_amount": "amount or unit price is zero or negative",
    "outlier": "amount or quantity above the configured cap",
}
ORDER_STATUS = "order_status"
_ROW = "_row"


@dataclass(frozen=True)
class CleaningRules:
    """Which rules run and their settings; the defaults suit UCI Online Retail, Olist, CDNOW and most shop logs."""

    drop_cancellations: bool = True
    cancellation_prefix: str | None = "C"
    drop_cancelled_originals: bool = True
    drop_missing_customers: bool = True
    drop_duplicates: bool = True
    drop_nonpositive: bool = True
    allow_zero_amount: bool = False
    keep_statuses: tuple[str, ...] = ("delivered",)
    max_amount: float | None = None
    max_quantity: float | None = None
    outlier_quantile: float | None = None
    earliest_timestamp: str | None = "1990-01-01"
    future_days: float | None = 1.0
    max_abs_value: float | None = 1e12

    def __post_init__(self) -> None:
        if self.earliest_timestamp is not None:
            try:
                datetime.fromisoformat(self.earliest_timestamp)
            except ValueError:
                message = f"earliest_timestamp must be a date (YYYY-MM-DD), got {self.earliest_timestamp}"
                raise ClvlensError(message) from None
        if self.outlier_quantile is not None and not 0.5 < self.outlier_quantile < 1:
            raise ClvlensError(f"outlier_quantile must be between 0.5 and 1, got {self.outlier_quantile}")
        for name in ("max_amount", "max_quantity", "max_abs_value"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ClvlensError(f"{name} must be positive, got {value}")


@dataclass(frozen=True)
class CleaningReport:
    """Counts and amounts per reason; `input_rows == kept_rows + quarantined_rows` by construction."""

    input_rows: int
    kept_rows: int
    kept_amount: float
    by_reason: dict[str, tuple[int, float]] = field(default_factory=dict)
    reading: str | None = None  # how the source was read (fast path or careful path, see clvlens.data.readers)

    @property
    def quarantined_rows(self) -> int:
        return sum(rows for rows, _ in self.by_reason.values())

    def to_frame(self) -> pl.DataFrame:
        """One row per outcome (`kept` first, then each reason) with rows, amount and share of input rows."""
        rows = [("kept", self.kept_rows, self.kept_amount, "rows kept for analysis")]
        rows += [(r, n, amt, REASON_DESCRIPTIONS.get(r, r)) for r, (n, amt) in self.by_reason.items()]
        total = max(self.input_rows, 1)
        return pl.DataFrame(
            {
                "outcome": [r[0] for r in rows],
                "rows": [r[1] for r in rows],
                # a sum that overflows (rows quarantined for implausible amounts) is unknown, not inf
                "amount": [round(r[2], 2) if math.isfinite(r[2]) else None for r in rows],
                "share_of_rows": [r[1] / total for r in rows],
                "description": [r[3] for r in rows],
            },
            schema={
                "outcome": pl.String,
                "rows": pl.Int64,
                "amount": pl.Float64,
                "share_of_rows": pl.Float64,
                "description": pl.String,
            },
        )

    def __str__(self) -> str:
        lines = [f"{self.input_rows:,} rows in, {self.kept_rows:,} kept, {self.quarantined_rows:,} quarantined"]
        for reason, (rows, amount) in self.by_reason.items():
            lines.append(f"  {reason}: {rows:,} rows, amount {amount:,.2f}")
        if self.reading:
            lines.append(f"  read: {self.reading}")
        return "\n".join(lines)


@dataclass
class CleanedData:
    """The kept transactions, the quarantine (each rejected row and its reason) and the report."""

    transactions: pl.DataFrame
    quarantine: pl.DataFrame
    report: CleaningReport
    source_name: str = "input"

    def require_transactions(self) -> None:
        """Raise one line naming the source and why every row went to the quarantine when none is kept."""
        if self.transactions.height:
            return
        reasons = ", ".join(f"{code} {rows:,}" for code, (rows, _) in self.report.by_reason.items())
        raise ClvlensError(
            f"{self.source_name}: no transactions left after cleaning: all {self.report.input_rows:,} rows "
            f"quarantined ({reasons})"
        )

    def check(self) -> None:
        """Raise if the row accounting does not add up (it always should)."""
        total = self.transactions.height + self.quarantine.height
        if total != self.report.input_rows:
            raise ClvlensError(
                f"{self.source_name}: row accounting broken: {self.report.input_rows} in, "
                f"{self.transactions.height} kept + {self.quarantine.height} quarantined"
            )


def clean(
    canonical: pl.DataFrame, rules: CleaningRules | None = None, *, source_name: str = "input",
    reading: str | None = None, release: bool = False,
) -> CleanedData:
    """Apply the cleaning rules to a canonical frame (from `to_canonical`) and account for every row.

    `reading` (how the source was read) is carried into the report. `release`: the caller gives `canonical` up (it
    is left without columns), so that each column is let go as its kept rows are copied."""
    rules = rules or CleaningRules()
    frame = canonical.with_row_index(_ROW)
    if release:
        for name in canonical.columns:
            canonical.drop_in_place(name)
    # the rules are gathered into a few when/then chains (first rule broken wins), so the table is passed over
    # a few times rather than once per rule; the chain is cut only where a rule needs the reasons so far
    rules_before: list[tuple[pl.Expr, str]] = []
    if PARSE_ERROR in frame.columns:
        rules_before.append((pl.col(PARSE_ERROR).is_not_null(), ""))
    if rules.earliest_timestamp is not None:
        rules_before.append(
            (pl.col("timestamp") < datetime.fromisoformat(rules.earliest_timestamp), "implausible_timestamp"))
    if rules.future_days is not None:
        rules_before.append(
            (pl.col("timestamp") > datetime.now() + timedelta(days=rules.future_days), "implausible_timestamp"))
    if rules.max_abs_value is not None:
        too_big = pl.any_horizontal(pl.col(c).abs() > rules.max_abs_value for c in ("amount", "quantity", "unit_price"))
        rules_before.append((too_big, "implausible_amount"))
    if rules.drop_missing_customers:
        rules_before.append((pl.col("customer_id").is_null(), "missing_customer"))
    if ORDER_STATUS in frame.columns and rules.keep_statuses:
        rules_before.append((~pl.col(ORDER_STATUS).is_in(list(rules.keep_statuses)), "not_delivered"))
    frame = frame.with_columns(_first_broken(rules_before, None).alias(REASON))

    rules_after: list[tuple[pl.Expr, str]] = []
    if rules.drop_cancellations:
        is_cancel = pl.col("quantity") < 0
        if rules.cancellation_prefix:
            is_cancel = is_cancel | pl.col("order_id").str.starts_with(rules.cancellation_prefix)
        frame = frame.with_columns(is_cancel.fill_null(False).alias("_is_cancel"))
        if rules.drop_cancelled_originals:
            originals = _cancelled_originals(frame)
            if originals.len():
                rules_after.append((pl.col(_ROW).is_in(originals.implode()), "cancelled_original"))
        rules_after.append((pl.col("_is_cancel"), "cancellation"))
    if rules.drop_duplicates and IS_DUPLICATE in frame.columns:
        rules_after.append((pl.col(IS_DUPLICATE), "duplicate"))
    if rules.drop_nonpositive:
        if rules.allow_zero_amount:
            rules_after.append(((pl.col("amount") < 0) | (pl.col("unit_price") < 0), "nonpositive_amount"))
        else:
            rules_after.append(((pl.col("amount") <= 0) | (pl.col("unit_price") <= 0), "nonpositive_amount"))
    if rules_after:
        frame = frame.with_columns(_first_broken(rules_after, pl.col(REASON)).alias(REASON))
    frame = frame.drop("_is_cancel", strict=False)
    outlier = _outlier_condition(frame, rules)
    if outlier is not None:
        frame = frame.with_columns(_first_broken([(outlier, "outlier")], pl.col(REASON)).alias(REASON))

    report = _report(frame, reading)
    helper_columns = [c for c in (PARSE_ERROR, IS_DUPLICATE, _ROW) if c in frame.columns]
    is_kept = frame.get_column(REASON).is_null()
    quarantine = _filter_rows(frame.drop(helper_columns), ~is_kept)
    # the kept rows a column at a time, each source column let go once copied (when nothing else holds it, see
    # `release`): the whole table is then never held twice (loading 10M Parquet lines peaked 240-270 MB lower;
    # bench/bench_scale_parts.py)
    frame = frame.drop([*helper_columns, REASON, DETAIL], strict=False)
    kept = _filter_rows(frame, is_kept, consume=True)
    del frame
    # an infinite or NaN value is recorded by its reason; stored as null so no output column holds inf or NaN
    quarantine = quarantine.with_columns(
        pl.when(pl.col(c).is_finite()).then(pl.col(c)).alias(c) for c in ("amount", "quantity", "unit_price")
    )
    front = [SOURCE_ROW, REASON, *CANONICAL_COLUMNS]
    quarantine = quarantine.select(front + [c for c in quarantine.columns if c not in front])
    result = CleanedData(kept, quarantine, report, source_name)
    result.check()
    return result


def _filter_rows(frame: pl.DataFrame, mask: pl.Series, *, consume: bool = False) -> pl.DataFrame:
    """`frame.filter(mask)`, with the columns that hold only nulls (item_name, category... when the source has
    none) made anew instead of filtered: filtering a text column copies 16 bytes per row even when all are null.
    `consume`: the columns are taken out of `frame` one at a time (it is left empty), so each can be freed once its
    rows are copied."""
    height = int(mask.sum())
    schema = frame.schema
    empty = {name for name, series in frame.to_dict().items() if series.null_count() == frame.height}
    if not consume and (not empty or len(empty) == frame.width):
        return frame.filter(mask)
    columns = []
    for name in list(frame.columns):
        source = frame.drop_in_place(name) if consume else frame.get_column(name)
        if name in empty:
            columns.append(pl.repeat(None, height, dtype=schema[name], eager=True).alias(name))
        else:
            columns.append(source.filter(mask))
        del source
    return pl.DataFrame(columns, schema=schema)


def _first_broken(conditions: list[tuple[pl.Expr, str]], current: pl.Expr | None) -> pl.Expr:
    """The reason a row already has, else the code of the first condition it meets (an empty code: the parse
    error column's own value), else null."""
    chain: Any = None
    if current is not None:
        chain = pl.when(current.is_not_null()).then(current)
    for condition, code in conditions:
        value = pl.col(PARSE_ERROR) if code == "" else pl.lit(code)
        condition = condition.fill_null(False)
        chain = pl.when(condition).then(value) if chain is None else chain.when(condition).then(value)
    if chain is None:
        return pl.lit(None, pl.String) if current is None else current
    return chain.otherwise(pl.lit(None, pl.String))


def _cancelled_originals(frame: pl.DataFrame) -> pl.Series:
    """Rows reversed by a cancellation: same customer, item and |quantity|, latest at or before it, each once."""
    open_rows = pl.col(REASON).is_null() & pl.col("customer_id").is_not_null()
    if not frame.select((open_rows & pl.col("_is_cancel")).any()).item():
        return pl.Series(_ROW, [], dtype=pl.UInt32)
    size = (
        pl.col("quantity").abs().fill_null(pl.col("amount").abs())
        if frame.get_column("quantity").null_count() < frame.height
        else pl.col("amount").abs()
    )
    keyed = frame.with_columns(
        pl.col("item_id").fill_null("").alias("_item"),
        size.round(6).alias("_size"),
    )
    keys = ["customer_id", "_item", "_size"]
    cancels = keyed.filter(open_rows & pl.col("_is_cancel")).select([*keys, "timestamp"]).sort("timestamp")
    # only the purchases of customers who cancelled something can be reversed
    cancelling = cancels.get_column("customer_id").unique().implode()
    purchases = (
        keyed.filter(open_rows & ~pl.col("_is_cancel") & pl.col("customer_id").is_in(cancelling))
        .select([*keys, "timestamp", _ROW])
        .sort("timestamp")
    )
    if purchases.is_empty() or cancels.is_empty():
        return pl.Series(_ROW, [], dtype=pl.UInt32)
    matched = cancels.join_asof(
        purchases, on="timestamp", by=keys, strategy="backward", check_sortedness=False
    )
    return matched.get_column(_ROW).drop_nulls().unique()


def _outlier_condition(frame: pl.DataFrame, rules: CleaningRules) -> pl.Expr | None:
    conditions: list[pl.Expr] = []
    if rules.max_amount is not None:
        conditions.append(pl.col("amount") > rules.max_amount)
    if rules.max_quantity is not None:
        conditions.append(pl.col("quantity") > rules.max_quantity)
    if rules.outlier_quantile is not None:
        open_amounts = frame.filter(pl.col(REASON).is_null()).get_column("amount")
        if open_amounts.len():
            cap = open_amounts.quantile(rules.outlier_quantile, interpolation="higher")
            conditions.append(pl.col("amount") > cap)
    if not conditions:
        return None
    combined = conditions[0]
    for condition in conditions[1:]:
        combined = combined | condition
    return combined


def _report(frame: pl.DataFrame, reading: str | None = None) -> CleaningReport:
    counts = (
        frame.group_by(REASON, maintain_order=True)
        .agg(pl.len().alias("rows"), pl.col("amount").filter(pl.col("amount").is_finite()).sum().alias("amount"))
        .sort(REASON, nulls_last=False)
    )
    by_reason: dict[str, tuple[int, float]] = {}
    kept_rows, kept_amount = 0, 0.0
    for code, rows, amount in counts.iter_rows():
        if code is None:
            kept_rows, kept_amount = int(rows), float(amount or 0.0)
        else:
            by_reason[code] = (int(rows), float(amount or 0.0))
    ordered = {code: by_reason[code] for code in REASON_DESCRIPTIONS if code in by_reason}
    ordered.update({code: value for code, value in by_reason.items() if code not in ordered})
    return CleaningReport(frame.height, kept_rows, kept_amount, ordered, reading)
