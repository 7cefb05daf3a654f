"""The workspace as a star schema for BI tools (Power BI, Tableau, Looker Studio): the queries, one per table.

Facts: `fact_order_lines` (one row per clean transaction line) and `fact_customer_scores` (one row per customer).
Dimensions: `dim_customer`, `dim_product`, `dim_date`, `dim_segment`, `dim_region`. Plus `rules` and
`next_best_offer`. Keys: customer_id, product_key (= item_id), date_key (YYYYMMDD integer), region,
segment_key ("value:<segment>" / "rfm:<segment>"). List columns are written as " + "-joined text, which every BI
tool reads. The export face streams these relations to files; it holds no SQL of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb

from clvlens.summary.rfm import UNIT_DAYS

if TYPE_CHECKING:
    from clvlens.workspace.core import Workspace

UNKNOWN_REGION = "(unknown)"
DAYS_PER_YEAR = 365.25
STAR_TABLES: tuple[str, ...] = (
    "fact_order_lines", "fact_customer_scores", "dim_customer", "dim_product", "dim_date", "dim_segment",
    "dim_region", "rules", "next_best_offer",
)
SCORE_COLUMNS = (
    "frequency", "recency", "T", "monetary_value", "total_value", "first_value", "orders", "lines", "p_alive",
    "expected_purchases", "expected_spend", "clv", "clv_lower", "clv_upper", "ltv_ml", "rfm_r", "rfm_f", "rfm_m",
)


def star_tables(workspace: Workspace) -> list[str]:
    """The star tables this workspace can fill (basket and strategy tables only when those stages ran)."""
    needs = {"fact_order_lines": "transactions", "fact_customer_scores": "customers", "dim_customer": "customers",
             "dim_product": "transactions", "dim_date": "transactions", "dim_segment": "segments",
             "dim_region": "customers", "rules": "rules", "next_best_offer": "next_best_offer"}
    return [name for name in STAR_TABLES if workspace.has(needs[name])]


def star_relation(workspace: Workspace, name: str) -> duckdb.DuckDBPyRelation:
    """A lazy relation of one star table (see the module docstring)."""
    builders = {
        "fact_order_lines": _fact_order_lines, "fact_customer_scores": _fact_customer_scores,
        "dim_customer": _dim_customer, "dim_product": _dim_product, "dim_date": _dim_date,
        "dim_segment": _dim_segment, "dim_region": _dim_region, "rules": _rules,
        "next_best_offer": _next_best_offer,
    }
    return workspace._connection.cursor().sql(builders[name](workspace))


def _region(column: str = "region") -> str:
    return f"coalesce(NULLIF(trim(CAST({column} AS VARCHAR)), ''), '{UNKNOWN_REGION}')"


def _fact_order_lines(ws: Workspace) -> str:
    columns = ws.columns("transactions")
    optional = ", ".join(f'"{c}"' for c in ("quantity", "unit_price", "channel") if c in columns)
    return (
        "SELECT source_row AS line_key, order_id, customer_id, "
        "CAST(strftime(timestamp, '%Y%m%d') AS INTEGER) AS date_key, timestamp, "
        + ("item_id AS product_key, " if "item_id" in columns else "NULL::VARCHAR AS product_key, ")
        + (_region() + " AS region, " if "region" in columns else f"'{UNKNOWN_REGION}' AS region, ")
        + (optional + ", " if optional else "")
        + "amount FROM transactions ORDER BY timestamp, source_row"
    )


def _fact_customer_scores(ws: Workspace) -> str:
    columns = ws.columns("customers")
    present = [c for c in SCORE_COLUMNS if c in columns]
    health = ws.health_column
    unit_days = UNIT_DAYS.get(ws.run_info.time_unit, 7.0)
    end = ws.run_info.observation_end
    date_key = f"{end:%Y%m%d}" if end else "NULL"
    parts = ["customer_id", f"{date_key}::INTEGER AS date_key"] + [f'"{c}"' for c in present]
    if health is not None:
        parts.append(f'"{health}" AS health')
    parts.append(f'"T" * {unit_days} / {DAYS_PER_YEAR} AS tenure_years')
    for kind in ("value", "rfm"):
        if f"{kind}_segment" in columns:
            parts.append(f"'{kind}:' || {kind}_segment AS {kind}_segment_key")
    return f"SELECT {', '.join(parts)} FROM customers ORDER BY customer_id"


def _dim_customer(ws: Workspace) -> str:
    columns = ws.columns("customers")
    parts = ["customer_id", _region() + " AS region" if "region" in columns else f"'{UNKNOWN_REGION}' AS region"]
    parts += [f'"{c}"' for c in ("cohort", "first_category", "first_purchase", "last_purchase", "value_segment",
                                 "rfm_segment") if c in columns]
    return f"SELECT {', '.join(parts)} FROM customers ORDER BY customer_id"


def _dim_product(ws: Workspace) -> str:
    columns = ws.columns("transactions")
    if "item_id" not in columns:
        return "SELECT NULL::VARCHAR AS product_key, NULL::VARCHAR AS item_name, NULL::VARCHAR AS category LIMIT 0"
    name = "mode(item_name)" if "item_name" in columns else "NULL::VARCHAR"
    category = "mode(category)" if "category" in columns else "NULL::VARCHAR"
    return (f"SELECT item_id AS product_key, {name} AS item_name, {category} AS category, count(*) AS lines, "
            "sum(amount) AS revenue FROM transactions WHERE item_id IS NOT NULL GROUP BY item_id ORDER BY item_id")


def _dim_date(ws: Workspace) -> str:
    return (
        "WITH span AS (SELECT min(timestamp)::DATE AS first, max(timestamp)::DATE AS last FROM transactions) "
        "SELECT CAST(strftime(d, '%Y%m%d') AS INTEGER) AS date_key, d::DATE AS date, year(d) AS year, "
        "quarter(d) AS quarter, month(d) AS month, strftime(d, '%Y-%m') AS year_month, monthname(d) AS month_name, "
        "isoyear(d) AS iso_year, week(d) AS iso_week, isodow(d) AS iso_day_of_week, dayname(d) AS day_name, "
        "isodow(d) >= 6 AS is_weekend FROM span, range(span.first, span.last + INTERVAL 1 DAY, INTERVAL 1 DAY) "
        "AS t(d) ORDER BY date_key"
    )


def _dim_segment(ws: Workspace) -> str:
    columns = ws.columns("segments")
    extra = ", ".join(f'"{c}"' for c in ("customers", "projected_revenue", "money_at_stake", "action", "rationale")
                      if c in columns)
    return (f"SELECT segment_type || ':' || segment AS segment_key, segment_type, segment, {extra} FROM segments "
            "ORDER BY segment_type DESC, segment_key")


def _dim_region(ws: Workspace) -> str:
    customers = ("SELECT " + _region() + " AS region, count(*) AS customers FROM customers GROUP BY 1"
                 if "region" in ws.columns("customers") else
                 f"SELECT '{UNKNOWN_REGION}' AS region, count(*) AS customers FROM customers")
    if ws.has("regions"):
        return (f"WITH c AS ({customers}) SELECT c.region, r.map_name, c.customers, r.historical_revenue, "
                "r.projected_clv, r.share_revenue FROM c LEFT JOIN regions r ON r.region = c.region "
                "ORDER BY c.customers DESC, c.region")
    return f"{customers} ORDER BY customers DESC, region"


def _joined(ws: Workspace, table: str) -> str:
    """Every column of `table`, with list columns joined by ' + '."""
    described = ws._query(f'DESCRIBE "{table}"').fetchall()
    return ", ".join(f"array_to_string(\"{name}\", ' + ') AS \"{name}\"" if kind.endswith("[]") else f'"{name}"'
                     for name, kind, *_ in described)


def _rules(ws: Workspace) -> str:
    return f"SELECT row_number() OVER (ORDER BY lift DESC, rule) AS rule_key, {_joined(ws, 'rules')} FROM rules"


def _next_best_offer(ws: Workspace) -> str:
    columns = _joined(ws, "next_best_offer").replace('"item"', '"item" AS product_key', 1)
    return f"SELECT {columns} FROM next_best_offer ORDER BY customer_id, rank"
