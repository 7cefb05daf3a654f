"""The README.md written inside every export: tables, keys, relationships and the BI measures."""

from __future__ import annotations

from typing import Any

from clvlens.models import parse_horizon

TABLE_NOTES: dict[str, tuple[str, str]] = {
    "fact_order_lines": ("line_key", "one row per clean transaction line (returns and bad rows are in the workspace "
                         "quarantine, not here); `amount` is the line's revenue"),
    "fact_customer_scores": ("customer_id", "one row per customer at the observation end (`date_key`): RFM numbers, "
                             "P(alive), `health` (the score the KPIs use), expected purchases and spend, `clv` with "
                             "its interval, ML LTV, `tenure_years`, segment keys"),
    "dim_customer": ("customer_id", "region, acquisition cohort, first category, first/last purchase, segments"),
    "dim_product": ("product_key", "one row per item id: most frequent name and category, lines, revenue"),
    "dim_date": ("date_key", "every calendar day from the first to the last transaction (YYYYMMDD integer key)"),
    "dim_segment": ("segment_key", "value quadrants (`value:High-Value`, ...) and RFM segments (`rfm:Champions`, "
                    "...) with the playbook action, rationale and money at stake"),
    "dim_region": ("region", "one row per region with customers, revenue and projected value; customers with no "
                   "region are `(unknown)`"),
    "rules": ("rule_key", "association rules (antecedents -> consequents) with support, confidence and lift"),
    "next_best_offer": ("customer_id, rank", "up to a few offers per customer; `product_key` is the offered item"),
}
RELATIONSHIPS: tuple[tuple[str, str, str], ...] = (
    ("fact_order_lines[customer_id]", "dim_customer[customer_id]", "many to one"),
    ("fact_order_lines[product_key]", "dim_product[product_key]", "many to one"),
    ("fact_order_lines[date_key]", "dim_date[date_key]", "many to one"),
    ("fact_order_lines[region]", "dim_region[region]", "many to one"),
    ("fact_customer_scores[customer_id]", "dim_customer[customer_id]", "one to one"),
    ("fact_customer_scores[date_key]", "dim_date[date_key]", "many to one"),
    ("fact_customer_scores[value_segment_key]", "dim_segment[segment_key]", "many to one"),
    ("fact_customer_scores[rfm_segment_key]", "dim_segment[segment_key]", "many to one (inactive in Power BI: "
     "one active path to dim_segment)"),
    ("dim_customer[region]", "dim_region[region]", "many to one"),
    ("next_best_offer[customer_id]", "dim_customer[customer_id]", "many to one"),
    ("next_best_offer[product_key]", "dim_product[product_key]", "many to one"),
)
MEASURES: tuple[tuple[str, str, str], ...] = (
    ("Revenue", "SUM(fact_order_lines[amount])", "historical revenue of the clean lines"),
    ("Customers", "DISTINCTCOUNT(fact_customer_scores[customer_id])", "customers with a kept purchase"),
    ("Orders", "DISTINCTCOUNT(fact_order_lines[order_id])", ""),
    ("Average Order Value", "DIVIDE([Revenue], [Orders])", ""),
    ("Projected Revenue", "SUM(fact_customer_scores[clv])", "sum of CLV over the horizon (see below)"),
    ("Revenue at Risk", "MIN(SUMX(FILTER(fact_customer_scores, fact_customer_scores[value_segment_key] IN "
     "{\"value:At-Risk\", \"value:Critical Churn\"}), (1 - fact_customer_scores[health]) * "
     "fact_customer_scores[total_value] / MAX(fact_customer_scores[tenure_years], 1)) * {margin} * {years}, "
     "MAX([Projected Revenue], 0))",
     "yearly revenue of unhealthy customers expected to be lost (health clipped to 0-1), x margin {margin} x the "
     "{horizon} horizon in years ({years}), capped at the projected revenue: on the basis of `clv`"),
    ("High-Value Median CLV", "CALCULATE(MEDIAN(fact_customer_scores[clv]), "
     "fact_customer_scores[value_segment_key] = \"value:High-Value\")", ""),
    ("Opportunity Gap", "VAR m = [High-Value Median CLV] RETURN SUMX(FILTER(fact_customer_scores, "
     "fact_customer_scores[value_segment_key] = \"value:Growth\"), MAX(0, m - fact_customer_scores[clv]))",
     "extra value if every Growth customer reached the High-Value median"),
    ("Top 10% Share", "share of [Projected Revenue] held by the ceil(0.10 x [Customers]) customers with the "
     "highest clv", "use TOPN in DAX"),
)


def measure_basis(info: Any) -> dict[str, str]:
    """The run's value basis as the measures write it: margin (1 when none was applied), the horizon and its
    length in years (365.25 days each), the same basis the workspace's `revenue_at_risk` KPI uses."""
    margin = info.margin if info.margin is not None else 1.0
    years = parse_horizon(info.horizon, "D") / 365.25
    return {"margin": f"{margin:.12g}", "horizon": str(info.horizon), "years": f"{years:.12g}"}


def _fill(text: str, basis: dict[str, str]) -> str:
    # str.format would trip on the DAX set braces ({"value:At-Risk", ...}), so the placeholders are replaced.
    for key, value in basis.items():
        text = text.replace("{" + key + "}", value)
    return text


def export_readme(tables: dict[str, int], info: Any, currency: Any, to: str) -> str:
    """The README text for an export of `tables` (name -> rows)."""
    end = info.observation_end.isoformat() if info.observation_end else "n/a"
    money = currency.code or "unknown currency"
    lines = [
        "# clvlens export",
        "",
        f"A star schema of the workspace built from `{info.source}`, observed to {end}. Money is in {money} "
        f"({currency.decided_by}). Projections (`clv`, `expected_*`) cover {info.horizon}"
        + (f" at a {info.margin:.0%} margin." if info.margin_applied else " as revenue (no margin applied)."),
        "",
        "## Tables",
        "",
        "| table | key | rows | content |",
        "| --- | --- | ---: | --- |",
    ]
    for name, rows in tables.items():
        key, note = TABLE_NOTES[name]
        lines.append(f"| `{name}` | `{key}` | {rows:,} | {note} |")
    lines += ["", "## Relationships", "", "| from | to | cardinality |", "| --- | --- | --- |"]
    lines += [f"| `{a}` | `{b}` | {c} |" for a, b, c in RELATIONSHIPS
              if a.split("[")[0] in tables and b.split("[")[0] in tables]
    lines += [
        "", "Keys: `customer_id` and `product_key` are text; `date_key` is the integer YYYYMMDD of a calendar day "
        "(`dim_date[date]` holds the date); `segment_key` is `<type>:<segment>`. A null `product_key` means the "
        "source had no item id.",
        "", "## Measures (DAX)", "", "| measure | definition | note |", "| --- | --- | --- |",
    ]
    basis = measure_basis(info)
    lines += [f"| {name} | `{_fill(formula, basis)}` | {_fill(note, basis)} |" for name, formula, note in MEASURES]
    lines += [
        "",
        "Revenue at Risk and Opportunity Gap reproduce the workspace KPIs `revenue_at_risk` and `opportunity_gap`.",
        "",
        "## Format notes",
        "",
        f"- Written as {to}.",
        "- List columns (rule antecedents, item names) are text joined by ` + `.",
    ]
    if to in ("csv", "xlsx"):
        lines.append("- Text cells that start with `=`, `+`, `-`, `@`, a tab or a carriage return have a leading "
                     "apostrophe (`'`) so spreadsheets do not run them as formulas; numbers are untouched.")
    if to == "xlsx":
        lines.append("- One workbook, one sheet per table (Excel holds at most 1,048,575 data rows per sheet).")
    return "\n".join(lines) + "\n"
