"""The BI export loads back into DuckDB and its documented joins and measures reproduce the workspace's totals;
CSV and XLSX cells are neutralised against formula injection."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from clvlens.errors import ClvlensError
from clvlens.export import export_workspace, neutralise
from clvlens.export.readme import measure_basis
from clvlens.export.writers import XLSX_MAX_ROWS, write_sheet
from clvlens.workspace import Workspace

STAR = ("fact_order_lines", "fact_customer_scores", "dim_customer", "dim_product", "dim_date", "dim_segment",
        "dim_region", "rules", "next_best_offer")
REVENUE_AT_RISK = """
    SELECT least(sum((1 - least(greatest(health, 0), 1)) * total_value / greatest(tenure_years, 1)) * ? * ?,
                 greatest((SELECT sum(clv) FROM fact_customer_scores), 0))
    FROM fact_customer_scores WHERE value_segment_key IN ('value:At-Risk', 'value:Critical Churn')"""
OPPORTUNITY_GAP = """
    WITH m AS (SELECT median(clv) AS m FROM fact_customer_scores WHERE value_segment_key = 'value:High-Value')
    SELECT coalesce(sum(greatest(0, m.m - clv)), 0) FROM fact_customer_scores, m
    WHERE value_segment_key = 'value:Growth'"""


def _load(folder: Path, to: str) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    for name in STAR:
        reader = "read_parquet" if to == "parquet" else "read_csv_auto"
        connection.execute(f"CREATE VIEW {name} AS SELECT * FROM {reader}('{folder / f'{name}.{to}'}')")
    return connection


def _check_totals(connection: duckdb.DuckDBPyConnection, workspace: Path) -> None:
    with Workspace.open(workspace) as ws:
        kpi = ws.kpi
        revenue = connection.execute(
            "SELECT sum(f.amount), count(DISTINCT c.customer_id), count(DISTINCT d.date_key) FROM fact_order_lines f "
            "JOIN dim_customer c USING (customer_id) JOIN dim_date d USING (date_key) "
            "JOIN dim_region r ON r.region = f.region").fetchone()
        assert revenue[0] == pytest.approx(kpi("historical_revenue"), rel=1e-9)
        assert revenue[1] == kpi("customers") == ws.customer_count()
        scores = connection.execute(
            "SELECT count(*), sum(s.clv), count(v.segment_key), count(r.segment_key) FROM fact_customer_scores s "
            "JOIN dim_customer c USING (customer_id) LEFT JOIN dim_segment v ON v.segment_key = s.value_segment_key "
            "LEFT JOIN dim_segment r ON r.segment_key = s.rfm_segment_key").fetchone()
        assert scores[0] == scores[2] == scores[3] == kpi("customers")
        assert scores[1] == pytest.approx(kpi("projected_revenue"), rel=1e-9)
        basis = measure_basis(ws.run_info)  # the margin and horizon years the README's measure writes out
        at_risk = connection.execute(REVENUE_AT_RISK, [float(basis["margin"]), float(basis["years"])]).fetchone()[0]
        at_risk = at_risk or 0.0
        assert at_risk == pytest.approx(kpi("revenue_at_risk"), rel=1e-9, abs=1e-6)
        assert connection.execute(OPPORTUNITY_GAP).fetchone()[0] == pytest.approx(kpi("opportunity_gap"), rel=1e-9)
        orphans = connection.execute(
            "SELECT (SELECT count(*) FROM fact_order_lines f WHERE f.product_key IS NOT NULL AND f.product_key NOT IN "
            "(SELECT product_key FROM dim_product)), "
            "(SELECT count(*) FROM next_best_offer n WHERE n.product_key NOT IN "
            "(SELECT product_key FROM dim_product)), (SELECT count(*) FROM dim_customer c WHERE c.region NOT IN "
            "(SELECT region FROM dim_region))").fetchone()
        assert orphans == (0, 0, 0)
        offers = connection.execute("SELECT count(*) FROM next_best_offer").fetchone()[0]
        assert offers == ws.row_count("next_best_offer")


@pytest.mark.slow
def test_parquet_export_reproduces_uci_totals(uci_workspace: Path, tmp_path: Path) -> None:
    result = export_workspace(uci_workspace, "parquet", tmp_path / "bi")
    assert set(result.rows) == set(STAR)
    readme = (tmp_path / "bi" / "README.md").read_text()
    for name in STAR:
        assert f"`{name}`" in readme
    assert "Revenue at Risk" in readme and "Opportunity Gap" in readme and "GBP" in readme
    _check_totals(_load(tmp_path / "bi", "parquet"), uci_workspace)


@pytest.mark.slow
def test_csv_export_reproduces_demo_totals(demo_workspace: Path, tmp_path: Path) -> None:
    export_workspace(demo_workspace, "csv", tmp_path / "bi")
    with Workspace.open(demo_workspace) as ws:
        assert (ws.kpi("revenue_at_risk") or 0) > 0  # the measure is checked on a non-trivial value
        basis = measure_basis(ws.run_info)
    assert f"* {basis['margin']} * {basis['years']}" in (tmp_path / "bi" / "README.md").read_text()
    _check_totals(_load(tmp_path / "bi", "csv"), demo_workspace)


def test_neutralise_prefixes_formula_starts_and_keeps_numbers() -> None:
    batch = pa.record_batch({
        "text": ["=HYPERLINK(\"http://x\")", "+1", "-2", "@SUM(A1)", "\tx", "\rx", "plain", None, "a=b"],
        "number": [-5.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
    })
    out = neutralise(batch).to_pydict()
    assert out["text"] == ["'=HYPERLINK(\"http://x\")", "'+1", "'-2", "'@SUM(A1)", "'\tx", "'\rx", "plain", None, "a=b"]
    assert out["number"] == batch.to_pydict()["number"]


def test_xlsx_refuses_a_table_over_the_sheet_limit() -> None:
    with pytest.raises(ClvlensError, match="more than an Excel sheet holds"):
        write_sheet(None, "fact_order_lines", None, XLSX_MAX_ROWS)


@pytest.mark.slow
def test_hostile_cells_are_neutralised_in_csv_and_xlsx(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    from clvlens.data.demo import generate_demo_store, write_flat_log
    from clvlens.pipeline import RunSettings, run_pipeline

    store = generate_demo_store(n_customers=300, seed=5)
    log = write_flat_log(store, tmp_path / "log.csv")
    with log.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    hostile = ["=HYPERLINK(\"http://evil\",\"x\")", "@SUM(1+1)", "+cmd|' /C calc'!A0", "-1+1"]
    for index, row in enumerate(rows[:40]):
        row["item_name"] = hostile[index % len(hostile)]
    with log.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    run_pipeline(RunSettings(str(log), tmp_path / "ws", "auto", store.truth.time_unit))

    export_workspace(tmp_path / "ws", "csv", tmp_path / "csv")
    text = (tmp_path / "csv" / "dim_product.csv").read_text(encoding="utf-8")
    assert "'=HYPERLINK" in text or "'@SUM" in text or "'+cmd" in text or "'-1+1" in text
    for line in csv.reader(text.splitlines()):
        assert not any(cell[:1] in "=+-@" and not _is_number(cell) for cell in line if cell), line
    export_workspace(tmp_path / "ws", "xlsx", tmp_path / "xlsx")
    workbook = load_workbook(tmp_path / "xlsx" / "clvlens_export.xlsx", read_only=True)
    formulas, numbers = 0, 0
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows(values_only=True):
            for value in row:
                if isinstance(value, str) and value[:1] in "=+-@":
                    formulas += 1
                numbers += isinstance(value, (int, float))
    assert formulas == 0 and numbers > 0


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True
