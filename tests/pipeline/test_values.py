"""Values that add up: model choice on a time split, settings carried over by the single steps, margin and horizon
stated on every value, the ML forecast calibrated, seasonality applied where two years are observed."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from clvlens.errors import ClvlensError
from clvlens.pipeline import RunSettings, read_table, run_pipeline
from clvlens.pipeline.modeling import ModelSettings, default_holdout_days, fit_models
from clvlens.pipeline.run import build_customer_table, observed_until
from clvlens.pipeline.steps import (
    fit_workspace,
    predict_workspace_ltv,
    run_settings,
    score_workspace,
    train_workspace_ltv,
)
from clvlens.pipeline.values import ML_TOLERANCE, calibration_check


def _info(folder: Path) -> dict[str, str]:
    return run_settings(folder)


def _kpi(folder: Path, name: str) -> float:
    return float(read_table(folder, "kpis").filter(pl.col("name") == name)["value"][0])


@pytest.fixture(scope="module")
def cdnow_transactions(cdnow_sample: Path) -> pl.DataFrame:
    from clvlens.data import load_source

    return load_source(str(cdnow_sample), format="cdnow").transactions


def _fit(transactions: pl.DataFrame, end: str, **settings: object):
    customers = build_customer_table(transactions, "W", end)
    observed = observed_until(transactions, datetime.fromisoformat(end))
    return fit_models(observed, customers, time_unit="W", observation_end=datetime.fromisoformat(end),
                      settings=ModelSettings(**settings))  # type: ignore[arg-type]


def test_default_holdout_is_a_quarter_of_the_span_capped_at_the_horizon() -> None:
    assert default_holdout_days(546, 365.25) == 19 * 7  # CDNOW: 78 weeks observed -> 19 weeks
    assert default_holdout_days(3 * 365, 182.6) == 182  # three years, 6M horizon: capped
    assert default_holdout_days(60, 365.25) == 14  # too short to be used (under 28 days)


def test_model_is_chosen_on_a_time_split_by_default(cdnow_transactions: pl.DataFrame) -> None:
    fitted = _fit(cdnow_transactions, "1998-06-30")
    rows = fitted.selection.rows()
    assert {r["criterion"] for r in rows} == {"holdout_mae"}
    scored = [r for r in rows if r["error"] is None]
    assert len(scored) == 3 and all(r["holdout_mae"] is not None and np.isfinite(r["bic"]) for r in scored)
    chosen = next(r for r in rows if r["chosen"])
    assert chosen["holdout_mae"] == min(r["holdout_mae"] for r in scored)
    # the BIC recorded is that of the fit on all the data, which is the model used
    assert chosen["bic"] == pytest.approx(fitted.transaction_model.fit_result_.bic)
    assert "holdout 19W" in fitted.criterion_note and "1998-02-17 to 1998-06-30" in fitted.criterion_note
    assert "BIC would choose" in fitted.criterion_note


def test_short_data_fall_back_to_bic_with_the_reason(cdnow_transactions: pl.DataFrame) -> None:
    fitted = _fit(cdnow_transactions, "1997-02-20")
    assert fitted.selection.criterion == "bic"
    assert "too short for a time split" in fitted.criterion_note and "at least 28 needed" in fitted.criterion_note
    asked = _fit(cdnow_transactions, "1998-06-30", holdout="bic")
    assert asked.selection.criterion == "bic" and "as asked" in asked.criterion_note
    with pytest.raises(ClvlensError, match="holdout"):
        _fit(cdnow_transactions, "1997-03-20", holdout="70W")


def test_calibration_check_keeps_in_range_and_rescales_outside() -> None:
    factor, note = calibration_check(1_000.0, 900.0, 1_200.0)
    assert factor == 1.0 and note.startswith("kept")
    upper = (1 + ML_TOLERANCE) * 1_200.0
    factor, note = calibration_check(2 * upper, 900.0, 1_200.0)
    assert factor == pytest.approx(900.0 / (2 * upper)) and "rescaled" in note and "BTYD" in note
    factor, note = calibration_check(100.0, None, 1_200.0)
    assert factor == pytest.approx(12.0) and "baseline" in note
    factor, note = calibration_check(0.0, 900.0, 1_200.0)
    assert np.isnan(factor) and note.startswith("unavailable")


@pytest.fixture(scope="module")
def margin_workspace(tmp_path_factory: pytest.TempPathFactory, cdnow_sample: Path) -> Path:
    out = tmp_path_factory.mktemp("values") / "ws"
    settings = RunSettings(str(cdnow_sample), out, "cdnow", "W",
                           models=ModelSettings(horizon="6M", margin=0.3), scorecard=False)
    result = run_pipeline(settings)
    assert "models" not in result.skipped and "ml" not in result.skipped, result.skipped
    return out


def test_margin_and_horizon_are_applied_and_stated_everywhere(margin_workspace: Path) -> None:
    info = _info(margin_workspace)
    assert info["value_basis"] == "clv: 6M, discounted at 10%/yr, margin 0.3; expected_purchases: 6M"
    assert info["ltv_ml_basis"].startswith("ltv_ml: 6M, undiscounted, margin 0.3")
    assert info["horizon"] == "6M" and info["margin"] == "0.3"
    customers = read_table(margin_workspace, "customers")
    # the KPIs are on the basis of the customers' values, and revenue at risk never exceeds projected value
    assert _kpi(margin_workspace, "projected_revenue") == pytest.approx(customers["clv"].sum())
    assert _kpi(margin_workspace, "revenue_at_risk") <= _kpi(margin_workspace, "projected_revenue")
    kpis = read_table(margin_workspace, "kpis")
    definition = kpis.filter(pl.col("name") == "projected_revenue")["definition"][0]
    assert "over 6M" in definition and "margin 0.3 applied" in definition
    # ltv_ml carries the margin: its revenue total (/ 0.3) is in the calibrated range or equals the BTYD total
    note = info["ml_calibration"]
    assert note.startswith(("kept", "rescaled"))
    ml_revenue = customers["ltv_ml"].sum() / 0.3
    btyd = float(note.split("BTYD ")[1].split(",")[0].replace(",", "")) if "BTYD " in note else None
    assert btyd is not None
    if note.startswith("rescaled"):
        assert ml_revenue == pytest.approx(float(note.split("BTYD ")[1].split(", last")[0].replace(",", "")),
                                           rel=1e-3)


def test_headline_says_margin_and_horizon(margin_workspace: Path, cdnow_sample: Path) -> None:
    from clvlens.analytics import strategy_tables
    from clvlens.pipeline.refresh import basis_of

    customers = read_table(margin_workspace, "customers")
    tables = strategy_tables(read_table(margin_workspace, "transactions"), customers,
                             basis=basis_of(ModelSettings(horizon="6M", margin=0.3)))
    labels = [label for label, _ in tables.headline()]
    assert "Projected margin over 6M (CLV, discounted)" in labels and "Margin at risk over 6M" in labels


def test_report_and_summary_cards_say_margin_and_horizon(margin_workspace: Path) -> None:
    """The cards and sentences the report, the dashboard and the CLI's plain summary show carry the run's basis:
    a 6M margin run's revenue at risk is not 'per year' nor 'revenue'."""
    from clvlens import charts
    from clvlens.workspace import Workspace

    with Workspace.open(margin_workspace) as ws:
        cards = {card.name: card for card in charts.headline(ws)}
        risk = next(i for i in charts.insights(ws) if i.key == "risk")
    assert cards["revenue_at_risk"].label == "Margin at risk over 6M"
    assert cards["projected_revenue"].label == "Projected margin over 6M (CLV)"
    assert "6M" in cards["revenue_at_risk"].definition and "margin 0.3" in cards["projected_revenue"].definition
    assert "of margin over the next 6M" in risk.text and "year" not in risk.text


def test_steps_carry_the_settings_over_and_refresh_what_depends_on_them(margin_workspace: Path) -> None:
    before = read_table(margin_workspace, "customers")
    fit_workspace(margin_workspace)  # no settings given: the workspace's 6M and margin 0.3 carry over
    info = _info(margin_workspace)
    assert (info["horizon"], info["margin"]) == ("6M", "0.3")
    refit = read_table(margin_workspace, "customers")
    np.testing.assert_allclose(refit.sort("customer_id")["clv"], before.sort("customer_id")["clv"], rtol=1e-6)

    score_workspace(margin_workspace, margin=0.6)
    after = read_table(margin_workspace, "customers").sort("customer_id")
    np.testing.assert_allclose(after["clv"], 2 * refit.sort("customer_id")["clv"], rtol=1e-9)
    np.testing.assert_allclose(after["ltv_ml"], 2 * refit.sort("customer_id")["ltv_ml"], rtol=1e-6)
    assert _kpi(margin_workspace, "projected_revenue") == pytest.approx(after["clv"].sum())
    info = _info(margin_workspace)
    assert info["margin"] == "0.6" and "margin 0.6" in info["value_basis"] and "margin 0.6" in info["ltv_ml_basis"]
    saved = json.loads((margin_workspace / "models" / "selection.json").read_text())
    assert saved["settings"]["margin"] == 0.6

    # a new horizon for the ML model revalues the BTYD columns and the KPIs on it too
    train_workspace_ltv(margin_workspace, model="lightgbm", horizon="3M")
    shorter = read_table(margin_workspace, "customers").sort("customer_id")
    info = _info(margin_workspace)
    assert info["horizon"] == "3M" and info["value_basis"].startswith("clv: 3M")
    assert info["ltv_ml_basis"].startswith("ltv_ml: 3M")
    assert shorter["clv"].sum() < after["clv"].sum()
    assert _kpi(margin_workspace, "projected_revenue") == pytest.approx(shorter["clv"].sum())
    assert predict_workspace_ltv(margin_workspace).sort("customer_id")["ltv_ml"].equals(shorter["ltv_ml"])
    # retraining without a horizon keeps the workspace's (3M), and the margin carries over to ltv_ml
    train_workspace_ltv(margin_workspace, model="two_part")
    info = _info(margin_workspace)
    assert info["horizon"] == "3M" and info["ltv_ml_basis"].startswith("ltv_ml: 3M, undiscounted, margin 0.6")
    np.testing.assert_allclose(read_table(margin_workspace, "customers").sort("customer_id")["clv"],
                               shorter["clv"], rtol=1e-9)

    with pytest.raises(ClvlensError, match="--models bgnbd differs from the saved models"):
        score_workspace(margin_workspace, models="bgnbd")


def _seasonal_log(path: Path, seed: int = 3) -> Path:
    """Three years of a store whose purchase rate peaks in November and December."""
    rng = np.random.default_rng(seed)
    season = np.array([0.6, 0.6, 0.8, 0.9, 1.0, 1.0, 0.9, 0.9, 1.0, 1.1, 1.7, 2.0])
    rows = []
    for customer in range(1_500):
        start = int(rng.integers(0, 30))  # acquisition month
        rate = rng.gamma(2.0, 0.25)
        alive_months = int(rng.geometric(0.04))
        for month in range(start, min(36, start + alive_months)):
            year, calendar = 2021 + month // 12, month % 12 + 1
            count = rng.poisson(rate * season[calendar - 1]) + (month == start)
            for _ in range(count):
                day = int(rng.integers(1, 29))
                rows.append((f"c{customer}", f"{year}-{calendar:02d}-{day:02d}", round(float(rng.gamma(2, 20)), 2)))
    frame = pl.DataFrame(rows, schema=["customer_id", "timestamp", "amount"], orient="row")
    frame = frame.with_row_index("order_id").with_columns(pl.col("order_id").cast(pl.String))
    frame.write_csv(path)
    return path


def test_seasonality_is_estimated_and_applied_on_three_years(tmp_path: Path) -> None:
    log = _seasonal_log(tmp_path / "seasonal.csv")
    settings = RunSettings(str(log), tmp_path / "ws", "csv", "W", models=ModelSettings(horizon="3M"))
    flat = RunSettings(str(log), tmp_path / "ws_flat", "csv", "W", observation_end="2022-10-31",
                       models=ModelSettings(horizon="3M"), scorecard=False)
    result = run_pipeline(settings)
    info = result.info
    assert info["seasonality"].startswith("applied: x")
    factor = float(info["seasonality"].split("x")[1].split(" ")[0])
    assert factor < 0.9  # the three months after December are the quietest of the year
    index = info["seasonality"].split("whole months: ")[1]
    assert float(index.split("Dec ")[1].split(",")[0]) > 1.4 and float(index.split("Jan ")[1].split(",")[0]) < 0.85
    card = result.scorecard.table
    assert {"bgnbd+seasonal", "mbgnbd+seasonal"} <= set(card["model"])
    # the holdout (the last 9 months, April-December) holds the peak: the seasonal forecast is nearer the actual
    for model in ("bgnbd", "mbgnbd"):
        plain = card.filter(pl.col("model") == model).row(0, named=True)
        seasonal = card.filter(pl.col("model") == f"{model}+seasonal").row(0, named=True)
        assert abs(seasonal["predicted_total"] - seasonal["actual_total"]) < abs(
            plain["predicted_total"] - plain["actual_total"])
    shorter = run_pipeline(flat).info
    assert shorter["seasonality"].startswith("not applied: seasonality could not be estimated")
