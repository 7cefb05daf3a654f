"""The read API on real workspaces: typed settings, currency per data set, queries that filter, sample and page
in DuckDB, and missing optional tables read as None."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from clvlens.errors import ClvlensError
from clvlens.workspace import Workspace, model_diagnostics


def test_uci_settings_and_currency(uci_workspace: Path) -> None:
    with Workspace.open(uci_workspace) as ws:
        info = ws.run_info
        assert info.currency.code == "GBP" and info.currency.symbol == "£"
        assert "UCI" in info.currency.decided_by  # a guess says it is one
        assert info.time_unit == "W" and info.horizon == "12M" and info.observation_end.isoformat() == "2011-12-09"
        assert info.input_rows == info.kept_rows + info.quarantined_rows
        assert info.customers == ws.customer_count()
    with Workspace.open(uci_workspace, currency="eur") as ws:
        assert ws.currency.code == "EUR" and ws.currency.decided_by == "set by the user"


def test_demo_currency_is_brl(demo_workspace: Path) -> None:
    with Workspace.open(demo_workspace) as ws:
        assert ws.currency.code == "BRL" and ws.currency.symbol == "R$"


def test_customer_queries_run_in_duckdb(demo_workspace: Path) -> None:
    raw = duckdb.connect(str(demo_workspace / "clvlens.duckdb"), read_only=True)
    with Workspace.open(demo_workspace) as ws:
        top = ws.customers(columns=["customer_id", "clv"], order_by="clv", limit=5)
        expected = raw.execute("SELECT customer_id FROM customers ORDER BY clv DESC, customer_id LIMIT 5").fetchall()
        assert top.get_column("customer_id").to_list() == [r[0] for r in expected]
        growth = ws.customers(where={"value_segment": "Growth"}, columns=["customer_id", "value_segment"])
        count = raw.execute("SELECT count(*) FROM customers WHERE value_segment = 'Growth'").fetchone()[0]
        assert growth.height == count == ws.customer_count({"value_segment": ["Growth"]})
        sample = ws.customers(sample=100, seed=3)
        assert sample.height == 100 and sample.equals(ws.customers(sample=100, seed=3))
        assert ws.asset_points(max_points=300).height == 300
        totals = ws.customer_totals()
        assert totals["clv"] == pytest.approx(ws.kpi("projected_revenue"), rel=1e-9)
        with pytest.raises(ClvlensError, match="no column 'nope'"):
            ws.customers(columns=["nope"])
        with pytest.raises(ClvlensError, match="no column"):
            ws.customers(where={"x; DROP TABLE customers": 1})


def test_quarantine_pages_and_totals(uci_workspace: Path) -> None:
    with Workspace.open(uci_workspace) as ws:
        first, second = ws.quarantine(page=1, page_size=50), ws.quarantine(page=2, page_size=50)
        assert first.total == ws.run_info.quarantined_rows and first.pages == -(-first.total // 50)
        assert first.rows.height == 50 and second.rows["source_row"][0] > first.rows["source_row"][-1]
        cancellations = ws.quarantine(reason="cancellation", page_size=10)
        report = ws.cleaning_report()
        assert cancellations.total == report.filter(report["outcome"] == "cancellation")["rows"][0]
        with pytest.raises(ClvlensError):
            ws.quarantine(page_size=10**6)


def test_tables_and_models(uci_workspace: Path) -> None:
    with Workspace.open(uci_workspace) as ws:
        assert ws.month2_cliff()["month2_cliff"] > 0.5
        assert ws.regions().row(0, named=True)["region"] == "United Kingdom"
        assert ws.rules(limit=10).height == 10 and ws.bundles() is not None
        offers = ws.next_best_offer(limit=5)
        one = ws.next_best_offer(customer_id=offers["customer_id"][0])
        assert one.height >= 1 and one["rank"].to_list() == sorted(one["rank"].to_list())
        assert ws.run_info.model in ws.models() and "ltv_ml" in ws.models()
        totals = ws.transaction_totals()
        assert totals["revenue"] == pytest.approx(ws.kpi("historical_revenue"), rel=1e-9)
        diagnostics = model_diagnostics(ws)
        aged = ws.customers(columns=["T"]).filter(pl.col("T") > 0).height  # T = 0 has no repeat-purchase window
        assert diagnostics.frequency["observed"].sum() == aged
        # every repeat purchase day is counted once: the tracking total equals the sum of frequency
        frequency_total = ws.customers(columns=["frequency"]).get_column("frequency").sum()
        assert diagnostics.tracking["actual_cumulative"][-1] == frequency_total


def test_missing_optional_tables_are_none(demo_workspace: Path, tmp_path: Path) -> None:
    folder = tmp_path / "ws"
    folder.mkdir()
    shutil.copyfile(demo_workspace / "clvlens.duckdb", folder / "clvlens.duckdb")
    with duckdb.connect(str(folder / "clvlens.duckdb")) as connection:
        optional = ("rules", "bundles", "next_best_offer", "scorecard", "scorecard_gains", "regions")
        for table in (*optional, "health_validation"):
            connection.execute(f"DROP TABLE {table}")
    with Workspace.open(folder) as ws:
        assert ws.rules() is None and ws.bundles() is None and ws.next_best_offer() is None
        assert ws.scorecard() is None and ws.regions() is None and ws.health_validation() is None
        assert ws.models() == {} and model_diagnostics(ws) is None
        assert "rules" not in ws.star_tables()


def test_no_workspace_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ClvlensError, match="no workspace here"):
        Workspace.open(tmp_path)


def test_transactions_read_back_in_source_order(uci_workspace: Path) -> None:
    # the lines are stored in any order (DuckDB writes them in parallel); reading restores the source's order
    from clvlens.pipeline import read_table

    lines = read_table(uci_workspace, "transactions")
    with Workspace.open(uci_workspace) as ws:
        kept = ws.cleaning_report().filter(pl.col("outcome") == "kept")["rows"][0]
    assert lines.height == kept > 100_000
    assert lines["source_row"].is_sorted() and lines["source_row"].n_unique() == lines.height
