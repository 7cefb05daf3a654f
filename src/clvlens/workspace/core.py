"""`Workspace`: the one read API over a workspace folder (the DuckDB file and the model JSON files).

Every face (CLI, report, export, dashboard, service) reads through this class; none holds table names or SQL.
The connection is read-only; each query runs on its own cursor, so one `Workspace` can serve several threads.
Large tables are filtered, aggregated, paged or sampled in DuckDB; only small tables (KPIs, segments, cohorts,
regions, ...) are read whole. A table a run did not write (a skipped stage) reads as None, never as an error.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from clvlens.errors import ClvlensError
from clvlens.pipeline.workspace import MODELS_FOLDER, WORKSPACE_FILE, workspace_path
from clvlens.workspace.settings import Currency, RunInfo, detect_currency

MAX_PAGE_SIZE = 10_000
BRAZIL_STATE_CODES = (
    "AC", "AL", "AM", "AP", "BA", "CE", "DF", "ES", "GO", "MA", "MG", "MS", "MT", "PA", "PB", "PE", "PI", "PR", "RJ",
    "RN", "RO", "RR", "RS", "SC", "SE", "SP", "TO",
)


@dataclass(frozen=True)
class QuarantinePage:
    """One page of rejected rows (ordered by source row) and how many there are in all."""

    rows: pl.DataFrame
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


class Workspace:
    """A workspace folder opened read-only. Use `Workspace.open(folder)`; close it (or use `with`) when done."""

    def __init__(self, folder: Path, connection: duckdb.DuckDBPyConnection, currency: str | None = None) -> None:
        self.folder = folder
        self._connection = connection
        self._tables = {row[0] for row in connection.execute("SHOW TABLES").fetchall()}
        self._columns: dict[str, list[str]] = {}
        self.run_info = self._read_run_info(currency)

    @classmethod
    def open(cls, folder: str | Path, *, currency: str | None = None) -> Workspace:
        """Open the workspace in `folder`; `currency` (an ISO code) overrides the detected one."""
        folder = Path(folder)
        path = workspace_path(folder)
        if not path.is_file():
            raise ClvlensError(f"{folder}: no workspace here (expected {WORKSPACE_FILE}; create one with clvlens run)")
        try:
            connection = duckdb.connect(str(path), read_only=True)
        except duckdb.Error as exc:
            raise ClvlensError(f"{path}: cannot open the workspace ({' '.join(str(exc).split())[:200]})") from None
        workspace = cls(folder, connection)
        if currency:
            workspace.run_info = workspace._read_run_info(currency)
        return workspace

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # ---- general -------------------------------------------------------------------------------------------
    @property
    def currency(self) -> Currency:
        return self.run_info.currency

    @property
    def tables(self) -> frozenset[str]:
        return frozenset(self._tables)

    def has(self, table: str) -> bool:
        return table in self._tables

    def columns(self, table: str) -> list[str]:
        """The column names of `table` ([] when the run did not write it)."""
        if table not in self._tables:
            return []
        if table not in self._columns:
            self._columns[table] = [r[0] for r in self._query(f'DESCRIBE "{table}"').fetchall()]
        return self._columns[table]

    def row_count(self, table: str) -> int:
        return int(self._scalar(f'SELECT count(*) FROM "{table}"') or 0) if self.has(table) else 0

    def _query(self, sql: str, params: Sequence[Any] | None = None) -> duckdb.DuckDBPyConnection:
        cursor = self._connection.cursor()
        return cursor.execute(sql, params or [])

    def _frame(self, sql: str, params: Sequence[Any] | None = None) -> pl.DataFrame:
        cursor = self._connection.cursor()
        return cursor.sql(sql, params=params or None).pl()

    def _scalar(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        row = self._query(sql, params).fetchone()
        return None if row is None else row[0]

    def _small_table(self, table: str, order: str | None = None) -> pl.DataFrame | None:
        if not self.has(table):
            return None
        return self._frame(f'SELECT * FROM "{table}"' + (f" ORDER BY {order}" if order else ""))

    def star_tables(self) -> list[str]:
        """The BI star-schema tables this workspace can fill (:mod:`clvlens.workspace.star`)."""
        from clvlens.workspace.star import star_tables

        return star_tables(self)

    def star(self, name: str) -> duckdb.DuckDBPyRelation:
        """One star-schema table as a lazy DuckDB relation, for streaming writers (the export)."""
        from clvlens.workspace.star import star_relation

        if name not in self.star_tables():
            raise ClvlensError(f"{self.folder}: the workspace cannot fill star table '{name}'")
        return star_relation(self, name)

    # ---- settings ------------------------------------------------------------------------------------------
    def _read_run_info(self, currency: str | None) -> RunInfo:
        entries: dict[str, str | None] = {}
        if self.has("run_info"):
            entries = dict(self._query("SELECT key, value FROM run_info").fetchall())
        brazilian = False
        if self.has("customers") and "region" in self.columns("customers"):
            row = self._query(
                "SELECT count(*) FILTER (WHERE region IS NOT NULL), "
                "count(*) FILTER (WHERE upper(trim(region)) IN (SELECT unnest(?))) FROM customers",
                [list(BRAZIL_STATE_CODES)],
            ).fetchone()
            brazilian = bool(row and row[0] and row[0] == row[1])
        return RunInfo.from_entries(entries, detect_currency({k: v or "" for k, v in entries.items()}, brazilian,
                                                             currency))

    # ---- customers -----------------------------------------------------------------------------------------
    @property
    def health_column(self) -> str | None:
        """`health` (the health score) when the run wrote it, else `p_alive`, else None."""
        columns = self.columns("customers")
        return next((c for c in ("health", "p_alive") if c in columns), None)

    @property
    def value_column(self) -> str:
        """`clv` when the models ran, else historical value `total_value`."""
        return "clv" if "clv" in self.columns("customers") else "total_value"

    def customers(
        self,
        *,
        columns: Iterable[str] | None = None,
        where: Mapping[str, Any] | None = None,
        order_by: str | None = None,
        descending: bool = True,
        limit: int | None = None,
        offset: int = 0,
        sample: int | None = None,
        seed: int = 0,
    ) -> pl.DataFrame:
        """Customers as a Polars frame: `columns` to read, `where` (column -> value or list of values), ordered
        by `order_by`, at most `limit` rows from `offset`, or a reproducible random `sample` of that many rows."""
        known = self.columns("customers")
        if not known:
            raise ClvlensError(f"{self.folder}: the workspace has no customers table")
        selected = list(columns) if columns is not None else known
        self._check_columns(selected + list(where or {}) + ([order_by] if order_by else []), known)
        clause, params = _where_clause(where)
        select = ", ".join(f'"{c}"' for c in selected)
        sql = f"SELECT {select} FROM customers{clause}"
        if sample is not None:
            sql = f"SELECT * FROM ({sql}) USING SAMPLE reservoir({int(sample)} ROWS) REPEATABLE ({int(seed)})"
            if order_by:
                sql = f"SELECT * FROM ({sql})"
        if order_by:
            sql += f' ORDER BY "{order_by}" {"DESC" if descending else "ASC"} NULLS LAST, "customer_id"' if (
                "customer_id" in selected) else f' ORDER BY "{order_by}" {"DESC" if descending else "ASC"} NULLS LAST'
        if limit is not None:
            sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
        return self._frame(sql, params)

    def customer_count(self, where: Mapping[str, Any] | None = None) -> int:
        self._check_columns(list(where or {}), self.columns("customers"))
        clause, params = _where_clause(where)
        return int(self._scalar(f"SELECT count(*) FROM customers{clause}", params) or 0)

    def customer_totals(self) -> dict[str, float]:
        """customers, historical revenue (sum total_value) and, when modelled, the CLV sum."""
        clv = ", sum(clv)" if "clv" in self.columns("customers") else ", NULL"
        row = self._query(f"SELECT count(*), sum(total_value){clv} FROM customers").fetchone() or (0, 0, None)
        return {"customers": int(row[0]), "historical_revenue": float(row[1] or 0.0),
                "clv": None if row[2] is None else float(row[2])}

    def asset_points(self, max_points: int = 5000, seed: int = 0) -> pl.DataFrame | None:
        """customer_id, value, health and value_segment per customer for the asset matrix, sampled to at most
        `max_points` (None when the run has no health or value segments)."""
        health, columns = self.health_column, self.columns("customers")
        if health is None or "value_segment" not in columns or "clv" not in columns:
            return None
        sql = (f'SELECT customer_id, clv AS value, "{health}" AS health, value_segment FROM customers '
               "WHERE clv IS NOT NULL AND value_segment IS NOT NULL")
        if self.customer_count() > max_points:
            sql += f" USING SAMPLE reservoir({int(max_points)} ROWS) REPEATABLE ({int(seed)})"
        return self._frame(sql)

    def _check_columns(self, wanted: Iterable[str], known: list[str]) -> None:
        unknown = [c for c in wanted if c not in known]
        if unknown:
            raise ClvlensError(f"customers: no column {', '.join(map(repr, unknown))} (columns: {', '.join(known)})")

    # ---- strategy tables -------------------------------------------------------------------------------------
    def kpis(self) -> pl.DataFrame | None:
        return self._small_table("kpis")

    def kpi(self, name: str) -> float | None:
        """One KPI's value, None when the run has no KPIs or not this one."""
        if not self.has("kpis"):
            return None
        value = self._scalar("SELECT value FROM kpis WHERE name = ?", [name])
        return None if value is None else float(value)

    def kpi_definitions(self) -> dict[str, str]:
        return dict(self._query("SELECT name, definition FROM kpis").fetchall()) if self.has("kpis") else {}

    def segments(self, segment_type: str | None = None) -> pl.DataFrame | None:
        if not self.has("segments"):
            return None
        if segment_type is None:
            return self._frame("SELECT * FROM segments")
        return self._frame("SELECT * FROM segments WHERE segment_type = ?", [segment_type])

    def cohorts(self) -> pl.DataFrame | None:
        return self._small_table("cohorts", "cohort, period")

    def cohort_cliffs(self) -> pl.DataFrame | None:
        return self._small_table("cohort_cliffs", "cohort")

    def month2_cliff(self) -> dict[str, float] | None:
        """Customer-weighted month-2 cliff over cohorts that reached month 2 (as the strategy headline)."""
        if not self.has("cohort_cliffs"):
            return None
        row = self._query(
            "SELECT sum(month2_cliff * customers) / sum(customers), count(*), "
            "avg(CAST(cliff_at_month2 AS DOUBLE)) FROM cohort_cliffs WHERE month2_cliff IS NOT NULL"
        ).fetchone()
        if row is None or row[0] is None:
            return None
        return {"month2_cliff": float(row[0]), "cohorts": int(row[1]), "share_cohorts_cliff_at_month2": float(row[2])}

    def regions(self) -> pl.DataFrame | None:
        return self._small_table("regions", "historical_revenue DESC, region")

    def lorenz(self) -> pl.DataFrame | None:
        return self._small_table("lorenz", "share_customers")

    # ---- basket ----------------------------------------------------------------------------------------------
    def rules(self, limit: int | None = 500, order_by: str = "lift") -> pl.DataFrame | None:
        if not self.has("rules"):
            return None
        self._check_order(order_by, "rules")
        return self._frame(f'SELECT * FROM rules ORDER BY "{order_by}" DESC'
                           + (f" LIMIT {int(limit)}" if limit is not None else ""))

    def bundles(self, limit: int | None = None) -> pl.DataFrame | None:
        if not self.has("bundles"):
            return None
        return self._frame("SELECT * FROM bundles ORDER BY lift DESC, size, rank"
                           + (f" LIMIT {int(limit)}" if limit is not None else ""))

    def next_best_offer(self, *, customer_id: str | None = None, limit: int | None = 100) -> pl.DataFrame | None:
        """Offers for one customer, or the highest-scoring offers across customers."""
        if not self.has("next_best_offer"):
            return None
        if customer_id is not None:
            return self._frame("SELECT * FROM next_best_offer WHERE customer_id = ? ORDER BY rank", [customer_id])
        return self._frame("SELECT * FROM next_best_offer ORDER BY score DESC, customer_id, rank"
                           + (f" LIMIT {int(limit)}" if limit is not None else ""))

    def _check_order(self, column: str, table: str) -> None:
        if column not in self.columns(table):
            raise ClvlensError(f"{table}: no column {column!r} to order by")

    # ---- models and evaluation -------------------------------------------------------------------------------
    def scorecard(self) -> pl.DataFrame | None:
        return self._small_table("scorecard")

    def scorecard_gains(self) -> pl.DataFrame | None:
        return self._small_table("scorecard_gains", "model, share_customers")

    def model_selection(self) -> pl.DataFrame | None:
        return self._small_table("model_selection")

    def health_validation(self) -> pl.DataFrame | None:
        return self._small_table("health_validation")

    def models(self) -> dict[str, dict[str, Any]]:
        """Every model JSON file of DIR/models by name (the ML model's metadata as `ltv_ml`); {} when none."""
        folder = self.folder / MODELS_FOLDER
        found: dict[str, dict[str, Any]] = {}
        for path in sorted(folder.glob("*.json")) + sorted(folder.glob("*/metadata.json")):
            name = path.parent.name if path.name == "metadata.json" else path.stem
            try:
                found[name] = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ClvlensError(f"{path}: not a readable model file ({exc})") from None
        return found

    # ---- data quality and transactions -----------------------------------------------------------------------
    def cleaning_report(self) -> pl.DataFrame | None:
        return self._small_table("cleaning_report", "rows DESC")

    def quarantine(self, page: int = 1, page_size: int = 100, reason: str | None = None,
                   regions: Sequence[str] | None = None) -> QuarantinePage:
        """Page `page` (1-based) of the rejected rows, optionally of one reason code and of the `regions` (matched
        ignoring case and surrounding spaces, as the rows are raw; a quarantine without a region column then has
        no rows)."""
        if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ClvlensError(f"quarantine: page must be >= 1 and page_size within 1-{MAX_PAGE_SIZE}")
        if not self.has("quarantine") or (regions and "region" not in self.columns("quarantine")):
            return QuarantinePage(pl.DataFrame(), 0, page, page_size)
        clause, params = _where_clause({"reason": reason} if reason else None)
        if regions:
            clause += (" AND " if clause else " WHERE ") + (
                "upper(trim(CAST(region AS VARCHAR))) IN (SELECT upper(trim(unnest(?))))")
            params.append([str(r) for r in regions])
        total = int(self._scalar(f"SELECT count(*) FROM quarantine{clause}", params) or 0)
        rows = self._frame(f"SELECT * FROM quarantine{clause} ORDER BY source_row LIMIT {int(page_size)} "
                           f"OFFSET {(page - 1) * int(page_size)}", params)
        return QuarantinePage(rows, total, page, page_size)

    def transaction_totals(self) -> dict[str, Any]:
        """rows, customers, orders, revenue, first and last timestamp of the clean transactions."""
        if not self.has("transactions"):
            return {}
        row = self._query(
            "SELECT count(*), count(DISTINCT customer_id), count(DISTINCT order_id), sum(amount), min(timestamp), "
            "max(timestamp) FROM transactions"
        ).fetchone()
        keys = ("rows", "customers", "orders", "revenue", "first", "last")
        return dict(zip(keys, row or (), strict=False))

    def revenue_by_month(self) -> pl.DataFrame | None:
        """month (first day), revenue, orders and customers per calendar month of the clean transactions."""
        if not self.has("transactions"):
            return None
        return self._frame(
            "SELECT date_trunc('month', timestamp)::DATE AS month, sum(amount) AS revenue, "
            "count(DISTINCT order_id) AS orders, count(DISTINCT customer_id) AS customers "
            "FROM transactions GROUP BY 1 ORDER BY 1"
        )


def _where_clause(where: Mapping[str, Any] | None) -> tuple[str, list[Any]]:
    if not where:
        return "", []
    parts, params = [], []
    for column, wanted in where.items():
        if isinstance(wanted, (list, tuple, set, frozenset)):
            parts.append(f'"{column}" IN (SELECT unnest(?))')
            params.append(list(wanted))
        elif wanted is None:
            parts.append(f'"{column}" IS NULL')
        else:
            parts.append(f'"{column}" = ?')
            params.append(wanted)
    return " WHERE " + " AND ".join(parts), params
