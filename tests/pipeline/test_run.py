"""The workspace contract and the CLI, run as a user would (subprocess), on real and demo data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

from clvlens.errors import ClvlensError
from clvlens.pipeline import RunSettings, read_table, run_pipeline, workspace_path

CONTRACT = {
    "transactions": {"source_row", "customer_id", "order_id", "timestamp", "amount"},
    "quarantine": {"source_row", "reason", "customer_id", "order_id", "timestamp", "amount"},
    "customers": {
        "customer_id",
        "frequency",
        "recency",
        "T",
        "monetary_value",
        "first_purchase",
        "last_purchase",
        "region",
        "cohort",
    },
    "cleaning_report": {"outcome", "rows", "amount"},
    "run_info": {"key", "value"},
}
MODEL_COLUMNS = {"p_alive", "expected_purchases", "expected_spend", "clv", "clv_lower", "clv_upper"}
STRATEGY_COLUMNS = {"rfm_r", "rfm_f", "rfm_m", "rfm_segment", "value_segment"}
FULL_CONTRACT = {
    **CONTRACT,
    "customers": CONTRACT["customers"] | MODEL_COLUMNS | STRATEGY_COLUMNS,
    "model_selection": {"model", "log_likelihood", "bic", "chosen", "criterion"},
    "kpis": {"name", "value", "definition"},
    "segments": {"segment_type", "segment", "customers", "projected_revenue", "action"},
    "cohorts": {"cohort", "period", "customers", "retention", "revenue_per_customer", "cumulative_ltv"},
    "regions": {"region", "customers", "historical_revenue", "projected_clv"},
}
BASKET_TABLES = {
    "rules": {"antecedents", "consequents", "support", "confidence", "lift", "leverage", "conviction", "zhangs_metric"},
    "next_best_offer": {"customer_id", "rank", "item", "score"},
}


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "120"}
    env.pop("CLVLENS_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "clvlens", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300
    )


def _check_contract(folder: Path, contract: dict[str, set[str]] = FULL_CONTRACT) -> None:
    with duckdb.connect(str(workspace_path(folder)), read_only=True) as connection:
        for table, columns in contract.items():
            present = {row[0] for row in connection.execute(f'DESCRIBE "{table}"').fetchall()}
            assert columns <= present, (table, columns - present)
        kept, quarantined = (
            connection.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in ("transactions", "quarantine")
        )
        input_rows = connection.execute("SELECT value FROM run_info WHERE key = 'input_rows'").fetchone()[0]
        assert int(input_rows) == kept + quarantined
        report_rows = connection.execute("SELECT sum(rows) FROM cleaning_report").fetchone()[0]
        assert report_rows == int(input_rows)


def test_run_on_cdnow_writes_the_workspace(tmp_path: Path, cdnow_sample: Path) -> None:
    result = run_pipeline(RunSettings(str(cdnow_sample), tmp_path / "ws", "cdnow", "W", "1997-09-30"))
    _check_contract(tmp_path / "ws")
    customers = read_table(tmp_path / "ws", "customers")
    assert customers.height == 2_357 == result.customers.height
    assert customers["frequency"].sum() == 2_457
    # every customer is scored, with finite values inside their interval
    for column in MODEL_COLUMNS:
        assert customers[column].null_count() == 0 and customers[column].is_finite().all(), column
    assert ((customers["clv_lower"] <= customers["clv"]) & (customers["clv"] <= customers["clv_upper"])).all()
    assert customers["p_alive"].is_between(0, 1).all()
    # CDNOW has no item ids and 39 weeks are too short for a 12-month ML label: those stages say why
    assert result.skipped["basket"] == "the transactions have no item ids"
    assert "longer than the data" in result.skipped["ml"]
    assert set(result.skipped) == {"basket", "ml"}
    info = dict(read_table(tmp_path / "ws", "run_info").iter_rows())
    assert info["skipped_basket"] == "the transactions have no item ids"
    # 2,357 customers: no linearising; a draw outside the likelihood-ratio region may be replaced and is counted
    assert info["clv_interval"].startswith("90% from 100 parametric-bootstrap draws")
    assert info["identification"] == "all parameters identified"
    # Gamma-Gamma's independence assumption is recorded with the correlation among the repeat buyers
    repeat = customers.filter(pl.col("frequency") >= 1)
    r = np.corrcoef(repeat["frequency"].to_numpy(), repeat["monetary_value"].to_numpy())[0, 1]
    assert abs(r) < 0.3 and info["spend_independence"].startswith(f"holds (Pearson r between repeat purchases and "
                                                                  f"mean spend {r:.2f}, ")
    assert f"over {repeat.height:,} repeat buyers" in info["spend_independence"]
    # the saved models predict exactly what the run stored
    from clvlens.pipeline.modeling import load_models, score_customers

    rescored = score_customers(customers, load_models(tmp_path / "ws" / "models"))
    assert (rescored["clv"] - customers["clv"]).abs().max() == 0.0


def test_failed_run_leaves_previous_workspace_intact(tmp_path: Path, cdnow_sample: Path) -> None:
    out = tmp_path / "ws"
    run_pipeline(RunSettings(str(cdnow_sample), out, "cdnow", "W", "1997-09-30"))
    before = workspace_path(out).read_bytes()
    bad = tmp_path / "bad.csv"
    bad.write_text("order_id,amount\n1,2\n")
    with pytest.raises(ClvlensError):
        run_pipeline(RunSettings(str(bad), out))
    assert workspace_path(out).read_bytes() == before
    # nothing left behind but the workspace (the hidden lock file .clvlens.lock stays, by design)
    assert sorted(p.name for p in out.iterdir() if p.name != ".clvlens.lock") == ["clvlens.duckdb", "models"]


def test_cli_run_on_online_retail(tmp_path: Path, online_retail_csv: Path) -> None:
    completed = cli("run", str(online_retail_csv), "--out", str(tmp_path / "ws"))
    assert completed.returncode == 0, completed.stderr
    assert "389,875" in completed.stdout
    _check_contract(tmp_path / "ws", {**FULL_CONTRACT, **BASKET_TABLES})
    regions = read_table(tmp_path / "ws", "customers")["region"]
    assert regions.null_count() == 0 and "United Kingdom" in regions.to_list()
    # one year of data and a 12-month horizon: the ML model learns half a year, instead of learning from the
    # single week before a 12-month label window (which projected three years' revenue); that half year holds
    # the Q4 peak and one year cannot tell a peak, so it is not doubled: ltv_ml states the window it is over
    info = dict(read_table(tmp_path / "ws", "run_info").iter_rows())
    assert "not scaled to 12M" in info["ml_label_window"]
    assert info["ltv_ml_basis"].startswith("ltv_ml: 26W, undiscounted, revenue (margin 1)")
    assert info["seasonality"].startswith("not applied: seasonality could not be estimated: 12 whole months")
    # calibrated: its total lies within the tolerated range of the BTYD and last-26-week totals (or is rescaled)
    transactions = read_table(tmp_path / "ws", "transactions")
    last_half = transactions.filter(pl.col("timestamp") > pl.datetime(2011, 6, 9, 23, 59, 59))["amount"].sum()
    ltv = read_table(tmp_path / "ws", "customers")["ltv_ml"].sum()
    assert info["ml_calibration"].startswith(("kept", "rescaled"))
    assert 0.5 * last_half < ltv < 1.25 * last_half
    # the model is chosen on the last quarter (13 weeks), and the run says so
    assert info["model_criterion"].startswith("holdout_mae: chosen by holdout MAE")
    assert "2011-09-09 to 2011-12-09" in info["model_criterion"]
    # Pareto/NBD runs to its no-dropout edge on these data: a recorded reason, not a fit
    pareto = read_table(tmp_path / "ws", "model_selection").filter(pl.col("model") == "paretonbd")
    assert "s, beta running to 0 or infinity" in pareto["error"][0]


def test_cli_summary_reproduces_published_cdnow(tmp_path: Path, cdnow_sample: Path, cdnow_summary_csv: Path) -> None:
    out = tmp_path / "summary.csv"
    completed = cli(
        "summary", str(cdnow_sample), "--format", "cdnow", "--time-unit", "W",
        "--observation-end", "1997-09-30", "--out", str(out), "--decimals", "2",
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    ours = pl.read_csv(out, schema_overrides={"customer_id": pl.String})
    published = pl.read_csv(cdnow_summary_csv, schema_overrides={"ID": pl.String})
    assert ours.select("frequency", "recency", "T").equals(published.select("frequency", "recency", "T"))
    assert ours["customer_id"].equals(published["ID"].rename("customer_id"))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "empty file"),
        (bytes(range(256)) * 10, "binary data"),
        (b"order_id;customer_id;timestamp;amount\n1;a;2024-01-01;3\n", None),  # fine: delimiter detected
        (b"order_id,timestamp,amount\n1,2024-01-01,3\n", "missing required column 'customer_id'"),
        (b"order_id,customer_id,timestamp,amount\n1,a,yesterday,3\n", "no transactions left after cleaning"),
        (b"order_id,customer_id,timestamp,amount\n1,a,2024-01-01,3\n2,b,2024-01-02,-4\n", None),
    ],
)
def test_cli_bad_input_is_one_line(tmp_path: Path, content: bytes, expected: str | None) -> None:
    path = tmp_path / "input.csv"
    path.write_bytes(content)
    completed = cli("run", str(path), "--out", str(tmp_path / "ws"))
    if expected is None:
        assert completed.returncode == 0, completed.stderr
        return
    assert completed.returncode == 2
    lines = [line for line in completed.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), completed.stderr
    assert expected in lines[0] and "Traceback" not in completed.stderr


def test_cli_unknown_option_and_missing_file(tmp_path: Path) -> None:
    completed = cli("run", str(tmp_path / "nope.csv"))
    assert completed.returncode == 2 and "nope.csv: no such file" in completed.stderr
    completed = cli("summary", "x.csv", "--out", str(tmp_path / "x.txt"))
    assert completed.returncode == 2 and "must end in .csv or .parquet" in completed.stderr
    completed = cli("run", "x.csv", "--bogus")
    assert completed.returncode != 0 and "Traceback" not in completed.stderr


def test_cli_demo_end_to_end(tmp_path: Path) -> None:
    completed = cli("demo", "--out", str(tmp_path / "demo"), "--customers", "800", "--no-dashboard")
    assert completed.returncode == 0, completed.stderr
    _check_contract(tmp_path / "demo", {**FULL_CONTRACT, **BASKET_TABLES})
    assert "Chosen model" in completed.stdout and "Top customers by projected value" in completed.stdout
    customers = read_table(tmp_path / "demo", "customers")
    assert customers.height > 700
    assert "bought again" in completed.stdout
    report = read_table(tmp_path / "demo", "cleaning_report")
    # the demo's planted dirt is found and accounted for
    assert {"cancellation", "missing_customer", "duplicate"} <= set(report["outcome"])


def test_input_no_model_can_fit_still_writes_what_it_can(tmp_path: Path) -> None:
    # everyone bought once, on the last day: T = 0 for all, so there is no time to fit a model on
    path = tmp_path / "tiny.csv"
    path.write_text("order_id,customer_id,timestamp,amount\n1,a,2024-01-01,3\n2,b,2024-01-01,4\n")
    result = run_pipeline(RunSettings(str(path), tmp_path / "ws"))
    assert {"models", "strategy", "basket", "ml", "scorecard"} <= set(result.skipped)
    _check_contract(tmp_path / "ws", CONTRACT)
    info = dict(read_table(tmp_path / "ws", "run_info").iter_rows())
    assert "no transaction model could be fitted" in info["skipped_models"]
    assert "T = 0" in info["skipped_models"]


def test_cli_fit_and_score_with_holdout_selection(tmp_path: Path, cdnow_sample: Path) -> None:
    out = tmp_path / "ws"
    completed = cli("run", str(cdnow_sample), "--format", "cdnow", "--out", str(out),
                    "--observation-end", "1998-06-30", "--models", "bgnbd,paretonbd")  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    before = read_table(out, "customers")
    completed = cli("fit", str(out), "--holdout", "39W", "--horizon", "6M", "--models", "bgnbd,paretonbd")
    assert completed.returncode == 0, completed.stderr
    selection = read_table(out, "model_selection")
    assert set(selection["criterion"]) == {"holdout_mae"}
    assert selection["holdout_mae"].is_not_null().all()
    # the chosen model has the lowest holdout error
    assert selection.filter(pl.col("chosen"))["holdout_mae"][0] == selection["holdout_mae"].min()
    completed = cli("score", str(out))
    assert completed.returncode == 0, completed.stderr
    after = read_table(out, "customers")
    assert after.height == before.height
    # a 6-month horizon projects less than the run's 12 months
    assert after["clv"].sum() < before["clv"].sum()
    assert after["expected_purchases"].sum() < before["expected_purchases"].sum()


def test_cli_score_without_models_is_one_line(tmp_path: Path, cdnow_sample: Path) -> None:
    completed = cli("score", str(tmp_path / "nothing"))
    assert completed.returncode == 2 and "no fitted models here" in completed.stderr


def test_cli_ml_and_evaluate_on_demo(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    completed = cli("demo", "--out", str(out), "--customers", "1500")
    assert completed.returncode == 0, completed.stderr
    run_ltv = read_table(out, "customers")["ltv_ml"]
    assert run_ltv.null_count() == 0 and (run_ltv >= 0).all()
    assert (out / "models" / "ltv_ml" / "metadata.json").exists()
    completed = cli("ml", "train", str(out), "--model", "two_part", "--horizon", "6M")
    assert completed.returncode == 0, completed.stderr
    trained = read_table(out, "customers")["ltv_ml"]
    completed = cli("ml", "predict", str(out))
    assert completed.returncode == 0, completed.stderr
    # the saved model predicts exactly what the training step stored
    assert read_table(out, "customers")["ltv_ml"].equals(trained)
    # a 6-month two-part model projects less in total than the run's 12-month one
    assert trained.sum() < run_ltv.sum()
    completed = cli("evaluate", str(out), "--holdout", "13W")
    assert completed.returncode == 0, completed.stderr
    card = read_table(out, "scorecard")
    assert {"bgnbd", "paretonbd", "lightgbm", "two_part", "historical_average"} <= set(card["model"])
    assert card.filter(pl.col("error").is_null()).height >= 7
    assert "Scorecard: holdout 2024-10-01 to 2024-12-31" in completed.stdout
