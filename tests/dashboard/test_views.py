"""The workspace views, the what-if rescoring and the formula-safe CSV behind the dashboard, and the
`clvlens dashboard` command's argument checks, on the real demo workspace."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from clvlens.workspace import Workspace, views
from clvlens.workspace.safe_csv import safe_csv_bytes
from clvlens.workspace.whatif import what_if

SRC = Path(__file__).resolve().parents[2] / "src"


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised() -> None:
    frame = pl.DataFrame({
        "text": ["=HYPERLINK(\"http://x\")", "+1", "-2", "@SUM(A1)", "\tx", "plain", None],
        "number": [-1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
        "items": [["=a"], ["b"], [], None, ["c"], ["d"], ["e"]],
    })
    back = pl.read_csv(io.BytesIO(safe_csv_bytes(frame)))
    assert back["text"].to_list()[:6] == ["'=HYPERLINK(\"http://x\")", "'+1", "'-2", "'@SUM(A1)", "'\tx", "plain"]
    assert back["number"].to_list() == frame["number"].to_list()  # numbers untouched, negative ones too
    assert back["items"][0] == '["=a"]'  # lists as JSON text, which starts with a bracket


@pytest.mark.slow
def test_views_agree_with_the_workspace_kpis(dashboard_demo: Path) -> None:
    with Workspace.open(dashboard_demo) as ws:
        totals = views.filtered_totals(ws)
        assert totals["customers"] == ws.kpi("customers")
        assert totals["projected_revenue"] == pytest.approx(ws.kpi("projected_revenue"), rel=1e-9)
        by_region = views.totals_by(ws, "region")
        assert by_region["customers"].sum() == ws.kpi("customers")
        regions = ws.regions().sort("region")
        joined = by_region.sort("region").join(regions, on="region", suffix="_table")
        assert joined.height == regions.height
        assert (joined["projected_clv"] - joined["projected_clv_table"]).abs().max() < 1e-6
        assert views.asset_points(ws, max_points=100).height == 100
        assert views.asset_points(ws, {"region": ["AC", "AP", "RR"]}, max_points=5000).height == ws.customer_count(
            {"region": ["AC", "AP", "RR"]})
        choices = views.filter_choices(ws)
        assert choices["cohort"] == sorted(choices["cohort"]) and choices["region"][0] == "SP"


@pytest.mark.slow
def test_alive_history_ends_at_the_saved_p_alive(dashboard_demo: Path) -> None:
    with Workspace.open(dashboard_demo) as ws:
        repeaters = ws.customers(columns=["customer_id", "p_alive", "frequency"], order_by="frequency", limit=20)
        for row in repeaters.iter_rows(named=True):
            history = views.alive_history(ws, row["customer_id"])
            assert history["date"][-1] == ws.run_info.observation_end
            assert history["p_alive"][-1] == pytest.approx(row["p_alive"], rel=1e-9, abs=1e-12)
            assert history["purchases"][-1] == row["frequency"] + 1
            assert history["p_alive"].is_between(0, 1).all()
        assert views.alive_history(ws, "NO-SUCH-CUSTOMER") is None


@pytest.mark.slow
def test_what_if_on_a_sample_scales_to_every_customer(dashboard_demo: Path) -> None:
    with Workspace.open(dashboard_demo) as ws:
        info = ws.run_info
        sampled = what_if(ws, horizon=info.horizon, discount_rate=info.discount_rate, margin=info.margin,
                          max_customers=500)
        assert sampled.customers == ws.kpi("customers") and sampled.scored == 500
        assert sampled.what_if_total == pytest.approx(sampled.saved_total, rel=1e-9)
        assert sampled.saved_total == pytest.approx(ws.kpi("projected_revenue"), rel=0.25)
        longer = what_if(ws, horizon="24M", discount_rate=info.discount_rate, margin=info.margin)
        assert longer.what_if_total > longer.saved_total
        assert longer.by_segment["what_if_clv"].sum() == pytest.approx(longer.what_if_total, rel=1e-9)
        seasonal = float(info.raw.get("seasonal_factor", "1"))
        assert sampled.seasonal_factor == seasonal  # the run's factor, reproduced at its own horizon
        assert longer.seasonal_factor == 1.0 and ("seasonality not applied" in longer.note or seasonal == 1.0)
        from clvlens.errors import ClvlensError

        with pytest.raises(ClvlensError, match="margin"):
            what_if(ws, horizon="12M", discount_rate=0.1, margin=0.0)


def test_upload_mapping_proposal_on_uci_names() -> None:
    from clvlens.pipeline.uploads import proposed_mapping

    columns = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID",
               "Country"]
    proposal = proposed_mapping(columns)
    assert proposal["order_id"] == "InvoiceNo" and proposal["customer_id"] == "CustomerID"
    assert proposal["timestamp"] == "InvoiceDate" and proposal["amount"] is None
    assert proposal["quantity"] == "Quantity" and proposal["unit_price"] == "UnitPrice"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "clvlens", *args], capture_output=True, text=True, env=env,
                          timeout=120, check=False)


def test_dashboard_command_refuses_a_folder_without_a_workspace(tmp_path: Path) -> None:
    done = _cli("dashboard", str(tmp_path))
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1 and "no workspace here" in lines[0], done.stderr


@pytest.mark.slow
def test_dashboard_command_refuses_a_bad_port(dashboard_demo: Path) -> None:
    done = _cli("dashboard", str(dashboard_demo), "--port", "70000")
    assert done.returncode == 2 and "--port must be between 1 and 65535" in done.stderr, done.stderr


def test_dashboard_serves_headless_on_loopback_by_default(tmp_path: Path) -> None:
    from clvlens.dashboard import streamlit_command

    command = streamlit_command(tmp_path, port=8123)
    options = command[command.index("run") + 2:command.index("--")]
    pairs = dict(zip(options[::2], options[1::2], strict=True))
    assert pairs["--server.address"] == "127.0.0.1" and pairs["--server.headless"] == "true"
    assert pairs["--server.port"] == "8123" and pairs["--server.enableStaticServing"] == "true"
    assert command[-2:] == ["--", str(tmp_path)]
