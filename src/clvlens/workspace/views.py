"""Filtered views of a workspace for interactive faces (the dashboard): the global filters' choices, customer
totals and per-group totals under a filter, a sampled asset matrix, one customer's record and history, and rules
filtered by their measures.

Everything is aggregated, paged or sampled in DuckDB; no function returns more rows than its bound.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from clvlens.errors import ClvlensError

if TYPE_CHECKING:
    from clvlens.workspace.core import Workspace

# the customer columns a global filter may restrict, with their labels
FILTER_COLUMNS: dict[str, str] = {
    "region": "Region",
    "value_segment": "Value segment",
    "rfm_segment": "RFM segment",
    "cohort": "Cohort (first month)",
}
MAX_CHOICES = 500
MAX_HISTORY_ORDERS = 500
MAX_RULES = 5000
# matching customers whose orders or purchase days are counted one by one; above it a reproducible sample of them
# (by a hash of the id) is counted, since joining millions of transaction rows to the customers takes seconds
MAX_COUNTED_CUSTOMERS = 100_000
MAX_BASKET_CUSTOMERS = 25_000  # the bundles' recount joins every order line: a smaller sample keeps it under a second
HASH_BUCKETS = 10_000


def filter_choices(ws: Workspace) -> dict[str, list[str]]:
    """For each filterable column the workspace has, its values (most customers first; cohorts in time order),
    at most MAX_CHOICES of them."""
    columns = ws.columns("customers")
    found: dict[str, list[str]] = {}
    for column in FILTER_COLUMNS:
        if column not in columns:
            continue
        order = f'"{column}"' if column == "cohort" else f'count(*) DESC, "{column}"'
        rows = ws._query(
            f'SELECT CAST("{column}" AS VARCHAR) FROM customers WHERE "{column}" IS NOT NULL '
            f'GROUP BY "{column}" ORDER BY {order} LIMIT {MAX_CHOICES}'
        ).fetchall()
        found[column] = [r[0] for r in rows]
    return found


def filter_where(selected: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """The `where` mapping for `Workspace.customers` from the chosen values (an empty choice means no filter)."""
    return {column: list(values) for column, values in selected.items() if column in FILTER_COLUMNS and values}


def _clause(ws: Workspace, where: Mapping[str, Any] | None) -> tuple[str, list[Any]]:
    from clvlens.workspace.core import _where_clause

    ws._check_columns(list(where or {}), ws.columns("customers"))
    return _where_clause(where)


def customer_sample(ws: Workspace, clause: str, params: list[Any], matching: int,
                    bound: int = MAX_COUNTED_CUSTOMERS) -> tuple[str | None, int]:
    """When more than `bound` customers match `clause`, the SQL condition choosing a reproducible sample of about
    `bound` of them (those whose id hashes into the first of HASH_BUCKETS buckets) and how many it chooses;
    (None, matching) otherwise."""
    if matching <= bound:
        return None, matching
    buckets = -(-HASH_BUCKETS * bound // matching)
    condition = f"hash(customer_id) % {HASH_BUCKETS} < {buckets}"
    sampled = f"{clause} AND {condition}" if clause else f" WHERE {condition}"
    return condition, int(ws._scalar(f"SELECT count(*) FROM customers{sampled}", params) or 0)


def filtered_totals(ws: Workspace, where: Mapping[str, Any] | None = None) -> dict[str, float | None]:
    """customers, historical revenue, projected value (sum of CLV and of its bounds), mean health and the share of
    one-time buyers among the customers that match `where` (None where the run has no such column)."""
    columns = ws.columns("customers")
    health = ws.health_column
    parts = {
        "customers": "count(*)",
        "historical_revenue": "sum(total_value)",
        "projected_revenue": "sum(clv)" if "clv" in columns else "NULL",
        "projected_lower": "sum(clv_lower)" if "clv_lower" in columns else "NULL",
        "projected_upper": "sum(clv_upper)" if "clv_upper" in columns else "NULL",
        "mean_health": f'avg("{health}")' if health else "NULL",
        "one_time_buyer_share": "avg(CASE WHEN frequency = 0 THEN 1.0 ELSE 0.0 END)",
    }
    clause, params = _clause(ws, where)
    row = ws._query(f"SELECT {', '.join(parts.values())} FROM customers{clause}", params).fetchone()
    values = dict(zip(parts, row or (None,) * len(parts), strict=True))
    return {k: (None if v is None else float(v)) for k, v in values.items()}


def totals_by(ws: Workspace, column: str, where: Mapping[str, Any] | None = None, limit: int = 500) -> pl.DataFrame:
    """Per value of `column`: customers, historical revenue, projected value and mean health, under `where`
    (largest projected value first, at most `limit` groups)."""
    columns = ws.columns("customers")
    ws._check_columns([column], columns)
    value = "sum(clv)" if "clv" in columns else "sum(total_value)"
    health = f'avg("{ws.health_column}")' if ws.health_column else "NULL"
    clause, params = _clause(ws, where)
    return ws._frame(
        f'SELECT CAST("{column}" AS VARCHAR) AS "{column}", count(*) AS customers, '
        f"sum(total_value) AS historical_revenue, {value} AS projected_clv, {health} AS mean_health "
        f'FROM customers{clause} GROUP BY 1 ORDER BY projected_clv DESC NULLS LAST, 1 LIMIT {int(limit)}',
        params,
    )


def asset_points(ws: Workspace, where: Mapping[str, Any] | None = None, max_points: int = 5000,
                 seed: int = 0) -> pl.DataFrame | None:
    """customer_id, value, health and value_segment of at most `max_points` customers matching `where`
    (a reproducible reservoir sample when more match); None when the run has no health, CLV or value segments."""
    health, columns = ws.health_column, ws.columns("customers")
    if health is None or "value_segment" not in columns or "clv" not in columns:
        return None
    clause, params = _clause(ws, where)
    extra = "WHERE" if not clause else "AND"
    sql = (f'SELECT customer_id, clv AS value, "{health}" AS health, value_segment FROM customers{clause} '
           f"{extra} clv IS NOT NULL AND value_segment IS NOT NULL")
    sql = f"SELECT * FROM ({sql}) USING SAMPLE reservoir({int(max_points)} ROWS) REPEATABLE ({int(seed)})"
    return ws._frame(sql, params)


def customer_record(ws: Workspace, customer_id: str) -> dict[str, Any] | None:
    """Every column of one customer, or None when there is no such customer."""
    rows = ws.customers(where={"customer_id": customer_id}, limit=1)
    return None if rows.is_empty() else rows.row(0, named=True)


def customer_orders(ws: Workspace, customer_id: str, limit: int = MAX_HISTORY_ORDERS) -> pl.DataFrame | None:
    """One customer's orders (first `limit` in time order): order id, time, amount, lines and items."""
    if not ws.has("transactions"):
        return None
    return ws._frame(
        "SELECT order_id, min(timestamp) AS timestamp, sum(amount) AS amount, count(*) AS lines, "
        "string_agg(DISTINCT CAST(item_name AS VARCHAR), ', ' ORDER BY CAST(item_name AS VARCHAR)) AS items "
        "FROM transactions WHERE customer_id = ? "
        f"GROUP BY order_id ORDER BY timestamp, order_id LIMIT {int(limit)}",
        [customer_id],
    )


def alive_history(ws: Workspace, customer_id: str, points: int = 60) -> pl.DataFrame | None:
    """P(alive) of one customer at `points` dates from the first purchase to the observation end, from the saved
    transaction model and the customer's purchase days up to each date (the RFM definitions of
    :mod:`clvlens.summary.rfm`: purchases on one day are one transaction); None without a model or transactions."""
    from clvlens.models.persistence import load_model
    from clvlens.pipeline.workspace import MODELS_FOLDER
    from clvlens.summary.rfm import UNIT_DAYS

    chosen, end = ws.run_info.model, ws.run_info.observation_end
    path = ws.folder / MODELS_FOLDER / f"{chosen}.json"
    if not chosen or end is None or not path.is_file() or not ws.has("transactions"):
        return None
    try:
        model = load_model(path)
    except ClvlensError:
        return None
    days = [r[0] for r in ws._query(
        "SELECT DISTINCT CAST(timestamp AS DATE) AS day FROM transactions WHERE customer_id = ? AND "
        "CAST(timestamp AS DATE) <= ? ORDER BY day LIMIT 100000", [customer_id, end]).fetchall()]
    if not days:
        return None
    unit = UNIT_DAYS.get(ws.run_info.time_unit, 7.0)
    offsets = np.array([(d - days[0]).days for d in days], dtype=float)
    span = float((end - days[0]).days)
    times = np.unique(np.concatenate([np.linspace(0.0, span, max(2, points)), offsets]))
    seen = np.searchsorted(offsets, times, side="right")  # purchase days on or before each time
    x = (seen - 1).astype(float)
    tx = offsets[seen - 1] / unit
    ages = times / unit
    p_alive = model.conditional_probability_alive(x, tx, ages)
    dates = [days[0] + np.timedelta64(int(t), "D").item() for t in times]
    return pl.DataFrame({"date": dates, "p_alive": np.asarray(p_alive, dtype=float), "purchases": seen})


def rules(ws: Workspace, *, min_support: float = 0.0, min_confidence: float = 0.0, min_lift: float = 0.0,
          item: str | None = None, limit: int = 200) -> tuple[pl.DataFrame | None, int]:
    """Rules meeting the thresholds (and naming `item` in either side, case-insensitive), highest lift first, at
    most `limit` of them, and how many match in all."""
    if not ws.has("rules"):
        return None, 0
    conditions = ["support >= ?", "confidence >= ?", "lift >= ?"]
    params: list[Any] = [float(min_support), float(min_confidence), float(min_lift)]
    if item:
        conditions.append("(CAST(rule AS VARCHAR) ILIKE ? OR CAST(antecedent_names AS VARCHAR) ILIKE ? "
                          "OR CAST(consequent_names AS VARCHAR) ILIKE ?)")
        params += [f"%{item}%"] * 3
    clause = " WHERE " + " AND ".join(conditions)
    total = int(ws._scalar(f"SELECT count(*) FROM rules{clause}", params) or 0)
    frame = ws._frame(f"SELECT * FROM rules{clause} ORDER BY lift DESC, confidence DESC "
                      f"LIMIT {min(int(limit), MAX_RULES)}", params)
    return frame, total


def rule_ranges(ws: Workspace) -> dict[str, tuple[float, float]]:
    """(min, max) of support, confidence and lift over the rules ({} without rules)."""
    if not ws.has("rules"):
        return {}
    row = ws._query("SELECT min(support), max(support), min(confidence), max(confidence), min(lift), max(lift) "
                    "FROM rules").fetchone()
    if row is None or row[0] is None:
        return {}
    return {"support": (row[0], row[1]), "confidence": (row[2], row[3]), "lift": (row[4], row[5])}


def offer_customers(ws: Workspace, where: Mapping[str, Any] | None = None, limit: int = 200) -> list[str]:
    """Customers with next-best offers (those matching `where` when given), highest top score first (for a
    lookup list)."""
    if not ws.has("next_best_offer"):
        return []
    clause, params = _clause(ws, where)
    matching = f" WHERE customer_id IN (SELECT customer_id FROM customers{clause})" if clause else ""
    return [r[0] for r in ws._query(
        f"SELECT customer_id FROM next_best_offer{matching} GROUP BY customer_id ORDER BY max(score) DESC, "
        f"customer_id LIMIT {int(limit)}", params).fetchall()]


def customer_matches(ws: Workspace, customer_id: str, where: Mapping[str, Any] | None = None) -> bool:
    """Whether the customer exists and matches `where`."""
    return ws.customer_count({**(where or {}), "customer_id": customer_id}) > 0


def bundles_among(ws: Workspace, where: Mapping[str, Any], limit: int = 200,
                  max_customers: int = MAX_BASKET_CUSTOMERS) -> tuple[pl.DataFrame | None, int, int]:
    """The stored bundles (mined over every order) with their measures recounted on the orders of the customers
    matching `where`: orders holding every item of the bundle (`filtered_count`), their share of those customers'
    orders with an item (`filtered_support`) and the itemset lift among those orders (`filtered_lift`: support of
    the bundle over the product of its items' supports, as the stored lift); with how many customers were counted
    and how many match. Above `max_customers` matching customers the orders of a reproducible sample of them are
    counted (:func:`customer_sample`) and `filtered_count` is scaled up by matching / counted. The frame is None
    without bundles or item ids."""
    if not ws.has("bundles") or not ws.has("transactions") or "item_id" not in ws.columns("transactions"):
        return None, 0, 0
    clause, params = _clause(ws, where)
    matching = ws.customer_count(where)
    sample, counted = customer_sample(ws, clause, params, matching, max_customers)
    customers = f"{clause} AND {sample}" if sample and clause else (f" WHERE {sample}" if sample else clause)
    scale = matching / counted if counted else 0.0
    bundles = f"SELECT row_number() OVER (ORDER BY lift DESC, size, rank) AS bundle, * FROM bundles LIMIT {int(limit)}"
    frame = ws._frame(
        f"WITH chosen AS ({bundles}), "
        "wanted AS (SELECT DISTINCT bundle, size, CAST(unnest(items) AS VARCHAR) AS item FROM chosen), "
        "lines AS MATERIALIZED (SELECT order_id, CAST(item_id AS VARCHAR) AS item FROM transactions "
        "WHERE item_id IS NOT NULL AND order_id IS NOT NULL" + (f" AND {sample}" if sample else "")
        + f" AND customer_id IN (SELECT customer_id FROM customers{customers})), "
        "orders AS (SELECT count(DISTINCT order_id) AS n FROM lines), "
        "kept AS (SELECT DISTINCT order_id, item FROM lines WHERE item IN (SELECT item FROM wanted)), "
        "item_share AS (SELECT item, count(*) / (SELECT n FROM orders) AS share FROM kept GROUP BY item), "
        "hits AS (SELECT bundle, count(*) AS orders FROM (SELECT w.bundle, k.order_id FROM wanted w "
        "JOIN kept k USING (item) GROUP BY w.bundle, w.size, k.order_id HAVING count(*) = w.size) GROUP BY bundle), "
        "expected AS (SELECT w.bundle, product(coalesce(s.share, 0)) AS expected FROM wanted w "
        "LEFT JOIN item_share s USING (item) GROUP BY w.bundle) "
        f"SELECT c.* EXCLUDE (bundle), CAST(round(coalesce(h.orders, 0) * {scale!r}) AS BIGINT) AS filtered_count, "
        "coalesce(h.orders, 0) / nullif((SELECT n FROM orders), 0) AS filtered_support, "
        "CASE WHEN e.expected > 0 THEN coalesce(h.orders, 0) / (SELECT n FROM orders) / e.expected "
        "END AS filtered_lift "
        "FROM chosen c LEFT JOIN hits h USING (bundle) LEFT JOIN expected e USING (bundle) ORDER BY c.bundle",
        params,
    )
    return frame, counted, matching


def top_customers(ws: Workspace, where: Mapping[str, Any] | None = None, limit: int = 200) -> list[str]:
    """The most valuable customers matching `where` (for a customer picker)."""
    order = ws.value_column
    rows = ws.customers(columns=["customer_id"], where=where, order_by=order, limit=limit)
    return rows.get_column("customer_id").cast(pl.String).to_list()


def cohort_rows(ws: Workspace, cohorts: Sequence[str] | None = None) -> pl.DataFrame | None:
    """The cohort table (every cohort, or the chosen ones) in cohort and period order."""
    if not ws.has("cohorts"):
        return None
    if not cohorts:
        return ws.cohorts()
    return ws._frame("SELECT * FROM cohorts WHERE CAST(cohort AS VARCHAR) IN (SELECT unnest(?)) "
                     "ORDER BY cohort, period", [list(cohorts)])


def cohort_cliff_rows(ws: Workspace, cohorts: Sequence[str] | None = None) -> pl.DataFrame | None:
    """The month-2 cliff per cohort (every cohort, or the chosen ones)."""
    if not ws.has("cohort_cliffs"):
        return None
    if not cohorts:
        return ws.cohort_cliffs()
    return ws._frame("SELECT * FROM cohort_cliffs WHERE CAST(cohort AS VARCHAR) IN (SELECT unnest(?)) "
                     "ORDER BY cohort", [list(cohorts)])


def workspace_version(folder: str | Path) -> float:
    """When the workspace file in `folder` was last written (0 when there is none): a cache key that changes
    when a run rewrites the workspace."""
    from clvlens.pipeline.workspace import workspace_path

    path = workspace_path(folder)
    return path.stat().st_mtime if path.is_file() else 0.0
