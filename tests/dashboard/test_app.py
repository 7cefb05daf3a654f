"""Streamlit AppTest on every page of the dashboard over a real demo workspace (and the UCI workspace where the
data set is present): no exception, the expected elements, and the global filters changing what is shown."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

pytest.importorskip("streamlit", reason="the dashboard needs streamlit (a runtime dependency)")

from clvlens.workspace import Workspace
from clvlens.workspace.views import filtered_totals, totals_by

# page -> (header, least plotly charts, least tables)
PAGES = {
    "Overview": ("Overview", 1, 1),
    "Asset matrix": ("Asset matrix", 1, 1),
    "Segments and playbooks": ("Segments and playbooks", 2, 1),
    "What-if CLV": ("What-if CLV", 0, 1),
    "Cohorts": ("Cohorts", 2, 2),
    "Regions": ("Regions", 1, 1),
    "Market basket": ("Market basket", 2, 3),
    "Models": ("Models", 4, 2),
    "Customer": ("Customer", 1, 1),
    "Data quality": ("Data quality", 1, 2),
    "Upload and run": ("Upload and run", 0, 0),
}


def _open(app, page: str):
    app.sidebar.radio[0].set_value(page).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def _figures(app) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]


def _metric(app, label: str) -> str:
    found = [m.value for m in app.metric if m.label == label]
    assert found, [m.label for m in app.metric]
    return found[0]


@pytest.mark.slow
def test_every_page_renders_its_elements(app_for, dashboard_demo: Path) -> None:
    app = app_for(dashboard_demo).run()
    assert not app.exception
    assert list(app.sidebar.radio[0].options) == list(PAGES)
    for page, (header, charts, tables) in PAGES.items():
        _open(app, page)
        assert [h.value for h in app.header] == [header], page
        assert len(app.get("plotly_chart")) >= charts, page
        assert len(app.dataframe) >= tables, page
        assert not app.error, (page, [e.value for e in app.error])
        if tables:
            assert len(app.get("download_button")) >= 1, page  # every table downloads as CSV


@pytest.mark.slow
def test_overview_kpis_and_insights_match_the_workspace(app_for, dashboard_demo: Path) -> None:
    app = _open(app_for(dashboard_demo).run(), "Overview")
    with Workspace.open(dashboard_demo) as ws:
        customers = int(ws.kpi("customers"))
        assert _metric(app, "Customers") == f"{customers:,}"
        assert len(app.metric) == 8
        from clvlens.charts import insights

        texts = [i.text for i in insights(ws)]
    shown = " ".join(m.value for m in app.markdown)
    assert texts and all(t in shown for t in texts)


@pytest.mark.slow
def test_region_filter_changes_the_overview_and_the_regions_page(app_for, dashboard_demo: Path) -> None:
    app = _open(app_for(dashboard_demo).run(), "Overview")
    app.multiselect(key="filter_region").set_value(["RJ", "MG"]).run()
    assert not app.exception
    with Workspace.open(dashboard_demo) as ws:
        expected = filtered_totals(ws, {"region": ["RJ", "MG"]})
        everyone = int(ws.kpi("customers"))
    assert "The filtered customers" in [s.value for s in app.subheader]
    assert _metric(app, "Customers") == f"{int(expected['customers']):,}"
    assert int(expected["customers"]) < everyone

    _open(app, "Regions")  # the filter stays on: only the two states are drawn and listed
    regions = app.dataframe[0].value
    assert sorted(regions["region"].tolist()) == ["MG", "RJ"]
    locations = [loc for fig in _figures(app) for trace in fig["data"] for loc in trace.get("locations", [])]
    assert sorted(locations) == ["MG", "RJ"]


TABLE_LIMIT = 500  # rows the asset-matrix page lists (pages_value)


@pytest.mark.slow
def test_segment_filter_restricts_the_asset_matrix_and_its_table(app_for, dashboard_demo: Path) -> None:
    app = _open(app_for(dashboard_demo).run(), "Asset matrix")
    before = sum(len(t.get("x", [])) for t in _figures(app)[0]["data"])
    app.multiselect(key="filter_value_segment").set_value(["At-Risk"]).run()
    assert not app.exception
    figure = _figures(app)[0]
    names = [t["name"] for t in figure["data"] if t.get("x")]
    assert len(names) == 1 and names[0].startswith("At-Risk")
    with Workspace.open(dashboard_demo) as ws:
        at_risk = ws.customer_count({"value_segment": "At-Risk"})
    assert sum(len(t["x"]) for t in figure["data"] if t.get("x")) == at_risk < before
    listed = app.dataframe[0].value
    # the table lists the most valuable of them, at most TABLE_LIMIT
    assert set(listed["value_segment"]) == {"At-Risk"} and len(listed) == min(at_risk, TABLE_LIMIT)


@pytest.mark.slow
def test_cohort_filter_narrows_the_heatmap(app_for, dashboard_demo: Path) -> None:
    app = _open(app_for(dashboard_demo).run(), "Cohorts")
    heatmap = _figures(app)[0]["data"][0]
    assert len(heatmap["y"]) > 3
    chosen = sorted(heatmap["y"])[:2]
    app.multiselect(key="filter_cohort").set_value(chosen).run()
    assert not app.exception
    assert sorted(_figures(app)[0]["data"][0]["y"]) == chosen


@pytest.mark.slow
def test_segments_page_lists_playbooks_and_filtered_counts(app_for, dashboard_demo: Path) -> None:
    app = _open(app_for(dashboard_demo).run(), "Segments and playbooks")
    text = " ".join(m.value for m in app.markdown)
    assert "Champions" in text and "win back" in text
    app.multiselect(key="filter_region").set_value(["SP"]).run()
    with Workspace.open(dashboard_demo) as ws:
        expected = totals_by(ws, "value_segment", {"region": ["SP"]})
    shown = [d.value for d in app.dataframe if "value_segment" in d.value.columns]
    assert shown and shown[0]["customers"].sum() == expected["customers"].sum()


@pytest.mark.slow
def test_what_if_at_the_saved_settings_reproduces_the_saved_clv(app_for, dashboard_demo: Path) -> None:
    app = _open(app_for(dashboard_demo).run(), "What-if CLV")
    assert _metric(app, "Change") in ("+0.0%", "-0.0%")
    saved = _metric(app, "Projected value as saved")
    assert _metric(app, "Projected value, what-if") == saved
    app.slider(key="whatif_margin").set_value(0.5).run()  # CLV is proportional to the margin
    from clvlens.workspace.whatif import what_if

    with Workspace.open(dashboard_demo) as ws:
        half = what_if(ws, horizon=ws.run_info.horizon, discount_rate=ws.run_info.discount_rate, margin=0.5)
        full = what_if(ws, horizon=ws.run_info.horizon, discount_rate=ws.run_info.discount_rate, margin=1.0)
        assert full.what_if_total == pytest.approx(full.saved_total, rel=1e-9)
        assert half.what_if_total == pytest.approx(full.saved_total / 2, rel=1e-9)
    assert _metric(app, "Change") == "-50.0%"


@pytest.mark.slow
def test_basket_thresholds_filter_the_rules(app_for, dashboard_demo: Path) -> None:
    app = _open(app_for(dashboard_demo).run(), "Market basket")
    def matching() -> int:
        caption = next(c.value for c in app.caption if c.value.endswith("rules match"))
        return int(caption.split()[0].replace(",", ""))
    everything = matching()
    app.slider(key="basket_lift").set_value(3.0).run()
    with Workspace.open(dashboard_demo) as ws:
        from clvlens.workspace.views import rules

        _, expected = rules(ws, min_lift=3.0)
    assert matching() == expected < everything
    offers = [d.value for d in app.dataframe if "item_name" in d.value.columns and "rank" in d.value.columns]
    assert offers, "next-best offers for the first customer"


def _notes(app) -> list[str]:
    return [i.value for i in app.info if i.value.startswith("Not filtered:")]


@pytest.mark.slow
def test_region_filter_restricts_bundles_and_offers_and_notes_the_store_wide_rules(app_for,
                                                                                    dashboard_demo: Path) -> None:
    app = _open(app_for(dashboard_demo).run(), "Market basket")
    assert not _notes(app)
    bundles = next(d.value for d in app.dataframe if "label" in d.value.columns)
    assert "filtered_count" not in bundles.columns
    everyone = list(app.selectbox(key="offer_customer").options)
    app.multiselect(key="filter_region").set_value(["RJ", "MG"]).run()
    assert not app.exception
    assert any("rules are mined once over every order" in n for n in _notes(app))
    with Workspace.open(dashboard_demo) as ws:
        from clvlens.workspace.views import bundles_among, offer_customers

        expected, _, _ = bundles_among(ws, {"region": ["RJ", "MG"]})
        expected_offers = offer_customers(ws, {"region": ["RJ", "MG"]})
        outside = next(c for c in everyone if c not in set(offer_customers(ws, {"region": ["RJ", "MG"]},
                                                                           limit=100_000)))
    recounted = next(d.value for d in app.dataframe if "filtered_count" in d.value.columns)
    assert recounted["filtered_count"].tolist() == expected["filtered_count"].to_list()
    assert recounted["filtered_count"].sum() < recounted["count"].sum()
    offered = list(app.selectbox(key="offer_customer").options)
    assert offered == expected_offers and offered != everyone
    app.text_input(key="offer_customer_typed").input(outside).run()
    assert any("does not match the filters" in w.value for w in app.warning)
    downloads = [b for b in app.get("download_button")]
    assert downloads  # the recounted bundles download like every table


@pytest.mark.slow
def test_region_filter_recomputes_the_models_tracking_and_histogram(app_for, dashboard_demo: Path) -> None:
    def observed_total() -> float:
        histogram = next(f for f in _figures(app) if "Repeat purchases per customer" in str(f["layout"]["title"]))
        return sum(histogram["data"][0]["y"])

    def actual_tracking_end() -> float:
        tracked = next(f for f in _figures(app) if "Tracking" in str(f["layout"]["title"]))
        return next(t for t in tracked["data"] if t["name"] == "actual")["y"][-1]

    app = _open(app_for(dashboard_demo).run(), "Models")
    assert not _notes(app)
    before = observed_total()
    app.multiselect(key="filter_region").set_value(["SP"]).run()
    assert not app.exception
    with Workspace.open(dashboard_demo) as ws:
        rows = ws.customers(columns=["frequency", "T"], where={"region": ["SP"]})
        assert before == ws.customers(columns=["T"]).filter(pl.col("T") > 0).height
    assert observed_total() == rows.filter(pl.col("T") > 0).height < before
    assert actual_tracking_end() == rows["frequency"].sum()
    assert any(f"the {rows.height:,} of" in c.value for c in app.caption)
    assert any("scorecard" in n for n in _notes(app))


@pytest.mark.slow
def test_region_filter_pages_the_quarantine_of_those_regions(app_for, dashboard_demo: Path) -> None:
    app = _open(app_for(dashboard_demo).run(), "Data quality")
    with Workspace.open(dashboard_demo) as ws:
        everyone = ws.quarantine().total
        in_two = ws.quarantine(regions=["RJ", "MG"]).total
    assert len(app.dataframe[-1].value) == min(everyone, 100)
    app.multiselect(key="filter_region").set_value(["RJ", "MG"]).run()
    app.multiselect(key="filter_value_segment").set_value(["At-Risk"]).run()
    assert not app.exception
    shown = app.dataframe[-1].value
    assert 0 < len(shown) == in_two < everyone and set(shown["region"].str.strip().str.upper()) <= {"RJ", "MG"}
    notes = " ".join(_notes(app))
    assert "whole input file" in notes and "value segment filters do not apply to the quarantine" in notes


@pytest.mark.slow
def test_filters_survive_the_upload_page_and_every_page_switch(app_for, dashboard_demo: Path) -> None:
    app = _open(app_for(dashboard_demo).run(), "Overview")
    app.multiselect(key="filter_region").set_value(["SP"]).run()
    app.multiselect(key="filter_value_segment").set_value(["At-Risk", "High-Value"]).run()
    with Workspace.open(dashboard_demo) as ws:
        expected = f"{ws.customer_count({'region': ['SP'], 'value_segment': ['At-Risk', 'High-Value']}):,}"
    assert _metric(app, "Customers") == expected
    _open(app, "Upload and run")
    assert any("Filters kept for the other pages: Region in SP" in c.value for c in app.sidebar.caption)
    for page in ("Overview", "Upload and run", "Models", "Upload and run", "Overview"):
        _open(app, page)
    assert app.multiselect(key="filter_region").value == ["SP"]
    assert app.multiselect(key="filter_value_segment").value == ["At-Risk", "High-Value"]
    assert _metric(app, "Customers") == expected
    assert not any("Filters reset" in i.value for i in app.sidebar.info)


@pytest.mark.slow
def test_customer_page_shows_clv_interval_and_history(app_for, dashboard_demo: Path) -> None:
    with Workspace.open(dashboard_demo) as ws:
        row = ws.customers(where={"frequency": 3}, limit=1).row(0, named=True)
    app = _open(app_for(dashboard_demo).run(), "Customer")
    app.text_input(key="customer_typed").input(row["customer_id"]).run()
    assert not app.exception
    labels = [m.label for m in app.metric]
    assert "CLV (12M)" in labels and "P(alive)" in labels
    assert _metric(app, "P(alive)") == f"{row['p_alive']:.2f}"
    orders = app.dataframe[0].value
    assert len(orders) == row["orders"]
    history = _figures(app)[0]["data"][0]
    assert history["name"] == "P(alive)" and len(history["y"]) >= 4
    app.text_input(key="customer_typed").input("NO-SUCH-CUSTOMER").run()
    assert any("No customer" in w.value for w in app.warning)


@pytest.mark.slow
def test_quarantine_pages_and_reason_filter(app_for, dashboard_demo: Path) -> None:
    app = _open(app_for(dashboard_demo).run(), "Data quality")
    with Workspace.open(dashboard_demo) as ws:
        total = ws.quarantine().total
        duplicates = ws.quarantine(reason="duplicate").total
    quarantine = app.dataframe[-1].value
    assert len(quarantine) == min(total, 100)
    app.selectbox(key="quarantine_reason").set_value("duplicate").run()
    quarantine = app.dataframe[-1].value
    assert len(quarantine) == duplicates > 0 and set(quarantine["reason"]) == {"duplicate"}


@pytest.mark.slow
def test_upload_maps_columns_runs_and_shows_the_new_workspace(app_for, dashboard_demo: Path, tmp_path: Path) -> None:
    log = pl.read_csv(dashboard_demo / "demo_transactions.csv", infer_schema_length=0)
    customers = log.get_column("customer_id").drop_nulls().unique().sort().head(400)
    small = log.filter(pl.col("customer_id").is_in(customers.implode())).rename({"customer_id": "Kunde"})
    payload = small.write_csv().encode()
    app = _open(app_for(dashboard_demo).run(), "Overview")
    app.multiselect(key="filter_region").set_value(["SP"]).run()
    _open(app, "Upload and run")
    app.file_uploader[0].upload("shop.csv", payload, "text/csv").run()
    assert not app.exception, [e.value for e in app.exception]
    # "Kunde" matches no alias: the customer role is left empty until the user maps it
    assert app.selectbox(key="map_customer_id").value == "(none)"
    app.selectbox(key="map_customer_id").set_value("Kunde").run()
    app.button(key="upload_run").click().run(timeout=300)
    assert not app.exception, [e.value for e in app.exception]
    assert app.success, [e.value for e in app.error]
    new_folder = Path(app.session_state["workspace_dir"])
    assert new_folder.is_relative_to(tmp_path / "uploads") and new_folder != dashboard_demo
    _open(app, "Overview")
    with Workspace.open(new_folder) as ws:
        uploaded_customers = int(ws.kpi("customers"))
        assert ws.run_info.input_rows == small.height  # every uploaded row was read
    assert 0 < uploaded_customers <= 400
    assert _metric(app, "Customers") == f"{uploaded_customers:,}"  # every customer: the SP filter was reset
    assert str(new_folder) in " ".join(c.value for c in app.sidebar.caption)
    assert any("Filters reset: a different workspace was opened" in i.value for i in app.sidebar.info)
    assert app.multiselect(key="filter_region").value == []


@pytest.mark.slow
def test_uci_workspace_pages(app_for, uci_workspace: Path) -> None:
    app = app_for(uci_workspace).run()
    for page in ("Overview", "Asset matrix", "Regions", "Market basket", "Models", "Customer", "Data quality"):
        _open(app, page)
        assert not app.error, (page, [e.value for e in app.error])
    _open(app, "Regions")
    figure = _figures(app)[0]
    assert figure["data"][0]["type"] == "choropleth"
    app.multiselect(key="filter_region").set_value(["France", "Germany"]).run()
    assert sorted(app.dataframe[0].value["region"].tolist()) == ["France", "Germany"]


def test_without_a_workspace_the_pages_point_to_the_upload(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from streamlit.testing.v1 import AppTest

    app_file = Path(__file__).resolve().parents[2] / "src" / "clvlens" / "dashboard" / "app.py"
    monkeypatch.delenv("CLVLENS_WORKSPACE", raising=False)
    app = AppTest.from_file(str(app_file), default_timeout=60).run()
    assert not app.exception
    assert any("Upload and run" in i.value for i in app.info)
    _open(app, "Upload and run")
    assert len(app.file_uploader) == 1
    monkeypatch.setenv("CLVLENS_WORKSPACE", str(tmp_path))  # a folder with no workspace: one line, no traceback
    app = AppTest.from_file(str(app_file), default_timeout=60).run()
    assert not app.exception and any("no workspace here" in e.value for e in app.error)
