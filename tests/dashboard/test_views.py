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


@pytest.mark.slow
def test_bundles_recounted_on_every_region_reproduce_the_stored_measures(dashboard_demo: Path) -> None:
    with Workspace.open(dashboard_demo) as ws:
        regions = [r for r in views.filter_choices(ws)["region"]]
        assert ws.customer_count({"region": regions}) == ws.customer_count()  # the filter keeps every customer
        everyone, counted, matching = views.bundles_among(ws, {"region": regions})
        assert counted == matching == ws.customer_count()
        stored = ws.bundles(limit=200)
        assert everyone["label"].to_list() == stored["label"].to_list()
        assert everyone["filtered_count"].to_list() == stored["count"].to_list()
        assert everyone["filtered_support"].to_list() == pytest.approx(stored["support"].to_list(), rel=1e-9)
        assert everyone["filtered_lift"].to_list() == pytest.approx(stored["lift"].to_list(), rel=1e-9)
        two, _, _ = views.bundles_among(ws, {"region": ["RJ", "MG"]})
        assert 0 < two["filtered_count"].sum() < stored["count"].sum()
        # the first bundle's count by hand: orders of RJ and MG customers holding every item of it
        first = stored.row(0, named=True)
        chosen = set(ws.customers(columns=["customer_id"], where={"region": ["RJ", "MG"]})["customer_id"])
        lines = ws._frame("SELECT customer_id, order_id, item_id FROM transactions WHERE item_id IS NOT NULL")
        lines = lines.filter(pl.col("customer_id").is_in(list(chosen)))
        baskets = lines.group_by("order_id").agg(pl.col("item_id").unique())
        by_hand = sum(set(first["items"]) <= set(items) for items in baskets["item_id"].to_list())
        assert two["filtered_count"][0] == by_hand
        # above the bound, the orders of a hashed sample of the customers are counted and the counts scaled
        sampled, counted, matching = views.bundles_among(ws, {"region": ["RJ", "MG"]}, max_customers=100)
        assert 0 < counted < matching == len(chosen)
        assert sampled["label"].to_list() == two["label"].to_list()
        assert sampled["filtered_count"].sum() == pytest.approx(two["filtered_count"].sum(), rel=0.5)


@pytest.mark.slow
def test_offer_lookup_and_quarantine_follow_the_region_filter(dashboard_demo: Path) -> None:
    with Workspace.open(dashboard_demo) as ws:
        everyone = views.offer_customers(ws, limit=100_000)
        in_sp = views.offer_customers(ws, {"region": ["SP"]}, limit=100_000)
        assert 0 < len(in_sp) < len(everyone) and set(in_sp) <= set(everyone)
        assert all(views.customer_matches(ws, c, {"region": ["SP"]}) for c in in_sp[:20])
        outside = next(c for c in everyone if c not in set(in_sp))
        assert not views.customer_matches(ws, outside, {"region": ["SP"]})
        total = ws.quarantine().total
        sp = ws.quarantine(regions=["SP"], page_size=10_000)
        assert 0 < sp.total < total and set(sp.rows["region"].str.strip_chars().str.to_uppercase()) == {"SP"}
        assert ws.quarantine(regions=[" sp"]).total == sp.total  # the rows are raw: case and spaces ignored


@pytest.mark.slow
def test_model_diagnostics_of_the_filtered_customers_are_exact(dashboard_demo: Path) -> None:
    from clvlens.workspace import model_diagnostics

    with Workspace.open(dashboard_demo) as ws:
        where = {"region": ["RJ", "MG"]}
        everyone, two = model_diagnostics(ws), model_diagnostics(ws, where)
        rows = ws.customers(columns=["frequency", "T"], where=where)
        assert two.sampled == rows.height < everyone.sampled == ws.customer_count() == two.customers
        aged = rows.filter(pl.col("T") > 0)
        assert two.frequency["observed"].sum() == aged.height
        assert two.frequency["observed"][1] == aged.filter(pl.col("frequency") == 1).height
        # the expected histogram covers the same customers, and the actual tracking counts each repeat day once
        assert two.frequency["expected"].sum() == pytest.approx(aged.height, rel=1e-9)
        assert two.tracking["actual_cumulative"][-1] == rows["frequency"].sum()
        assert two.tracking_note is None and two.counted == two.sampled


@pytest.mark.slow
def test_model_diagnostics_count_a_hashed_sample_above_the_bound(dashboard_demo: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from clvlens.workspace import diagnostics

    with Workspace.open(dashboard_demo) as ws:
        exact = diagnostics.model_diagnostics(ws)
        monkeypatch.setattr(diagnostics, "MAX_COUNTED_CUSTOMERS", 400)
        sampled = diagnostics.model_diagnostics(ws)
        buckets = -(-views.HASH_BUCKETS * 400 // exact.sampled)
        frequencies = ws._frame(f"SELECT frequency FROM customers WHERE hash(customer_id) % "
                                f"{views.HASH_BUCKETS} < {buckets}")["frequency"]
    assert sampled.counted == frequencies.len() and 0 < sampled.counted < sampled.sampled == exact.sampled
    assert "sample of" in sampled.tracking_note and exact.tracking_note is None
    # the histogram and the expectation stay exact; the actual count is the sample's, scaled by the sample fraction
    assert (sampled.frequency["observed"] == exact.frequency["observed"]).all()
    assert list(sampled.tracking["time"]) == list(exact.tracking["time"])
    scaled_back = sampled.tracking["actual_cumulative"][-1] * sampled.counted / sampled.sampled
    assert scaled_back == pytest.approx(frequencies.sum(), rel=1e-9)
    assert sampled.tracking["actual_cumulative"][-1] == pytest.approx(exact.tracking["actual_cumulative"][-1],
                                                                      rel=0.25)
