"""The model scorecard: metrics against their definitions, robustness, and the real-data anchors."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import polars as pl
import pytest

from clvlens.analytics.evaluation import (
    Scorecard,
    captured_share,
    decile_table,
    gain_curve,
    gini,
    normalized_gini,
    plot_calibration,
    plot_gains,
    scorecard,
    spearman,
)
from clvlens.analytics.evaluation import metrics as M
from clvlens.analytics.evaluation.scorecard import HEURISTIC
from clvlens.errors import ClvlensError

DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"

PRED = np.array([5.0, 1.0, 4.0, 0.0, 3.0])
ACTUAL = np.array([10.0, 0.0, 2.0, 3.0, 5.0])


def test_errors_match_their_definitions() -> None:
    diff = PRED - ACTUAL  # -5, 1, 2, -3, -2
    assert M.mae(PRED, ACTUAL) == pytest.approx(13 / 5)
    assert M.rmse(PRED, ACTUAL) == pytest.approx(np.sqrt(43 / 5))
    assert M.bias(PRED, ACTUAL) == pytest.approx(diff.mean()) == pytest.approx(-7 / 5)


def test_gain_curve_and_captured_share_by_hand() -> None:
    # ranked by prediction: 5 (10), 4 (2), 3 (5), 1 (0), 0 (3); total 20
    x, y = gain_curve(PRED, ACTUAL)
    np.testing.assert_allclose(x, [0, 0.2, 0.4, 0.6, 0.8, 1.0])
    np.testing.assert_allclose(y, [0, 10 / 20, 12 / 20, 17 / 20, 17 / 20, 1.0])
    assert captured_share(PRED, ACTUAL, 0.2) == pytest.approx(0.5)
    assert captured_share(PRED, ACTUAL, 0.1) == pytest.approx(0.25)  # halfway along the first customer


def test_gini_equals_the_kaggle_formula_and_perfect_is_one() -> None:
    def kaggle(actual: np.ndarray, pred: np.ndarray) -> float:
        order = np.argsort(-pred)
        cum = np.cumsum(actual[order]) / actual.sum()
        n = actual.size
        return cum.sum() / n - (n + 1) / (2 * n)

    assert gini(PRED, ACTUAL) == pytest.approx(2 * kaggle(ACTUAL, PRED))
    assert normalized_gini(PRED, ACTUAL) == pytest.approx(kaggle(ACTUAL, PRED) / kaggle(ACTUAL, ACTUAL))
    assert normalized_gini(ACTUAL, ACTUAL) == pytest.approx(1.0)
    assert normalized_gini(ACTUAL * 3 + 1, ACTUAL) == pytest.approx(1.0)  # only the ranking matters
    assert normalized_gini(-ACTUAL, ACTUAL) < 0
    assert np.isnan(normalized_gini(PRED, np.zeros(5)))


def test_ties_are_scored_as_a_random_order() -> None:
    flat = np.ones(4)
    actual = np.array([4.0, 0.0, 0.0, 0.0])
    assert captured_share(flat, actual, 0.25) == pytest.approx(0.25)
    assert gini(flat, actual) == pytest.approx(0.0)
    assert np.isnan(spearman(flat, actual))


def test_spearman_and_deciles() -> None:
    from scipy import stats

    assert spearman(PRED, ACTUAL) == pytest.approx(stats.spearmanr(PRED, ACTUAL).statistic)
    pred = np.arange(20, dtype=float)
    actual = pred * 2
    table = decile_table(pred, actual)
    np.testing.assert_array_equal(table["decile"], np.arange(1, 11))
    np.testing.assert_array_equal(table["customers"], np.full(10, 2))
    np.testing.assert_allclose(table["mean_predicted"], np.arange(10) * 2 + 0.5)
    np.testing.assert_allclose(table["mean_actual"], (np.arange(10) * 2 + 0.5) * 2)
    np.testing.assert_allclose(table["mae"], np.arange(10) * 2 + 0.5)
    np.testing.assert_array_equal(M.deciles(np.zeros(7)), np.full(7, 6))  # all tied: one decile (rank 4 of 7)


def test_shared_ranks_give_scipys_figures_exactly_and_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Spearman, deciles and AUC reuse kept ranks and gain curves: the same numbers as scipy's own functions, to
    the bit, on ties and NaN alike; the kept arrays are read-only and their total stays within the budget."""
    from scipy import stats

    rng = np.random.default_rng(5)
    for _ in range(30):
        n = int(rng.integers(3, 2_000))
        predicted = np.round(rng.gamma(1.0, 30.0, n), int(rng.integers(0, 2)))  # many ties
        actual = np.where(rng.random(n) < 0.4, np.round(rng.gamma(1.0, 50.0, n)), 0.0)
        bought = actual > 0
        for _again in range(2):  # computed, then read back from what was kept
            assert spearman(predicted, actual) == stats.spearmanr(predicted, actual).statistic
            ranks = stats.rankdata(predicted)
            np.testing.assert_array_equal(M.deciles(predicted), np.clip(np.ceil(ranks * 10.0 / n), 1, 10))
            positives = int(bought.sum())
            if 0 < positives < n:
                expected = (ranks[bought].sum() - positives * (positives + 1) / 2.0) / (positives * (n - positives))
                assert M.auc(predicted, bought) == expected
    with_nan = np.array([1.0, np.nan, 3.0, 2.0])
    assert np.isnan(spearman(with_nan, np.arange(4.0)))
    x, _ = M.gain_curve(PRED, ACTUAL)
    with pytest.raises(ValueError):
        x[0] = 1.0  # a kept curve cannot be changed by a caller
    monkeypatch.setattr(M, "MEMO_BYTES", 64 * 1024)
    for seed in range(40):
        M.average_ranks(np.random.default_rng(seed).random(1_000))  # 8 kB each
    assert sum(M._memo_sizes.values()) <= 64 * 1024


def _synthetic(n: int = 400, seed: int = 0) -> pl.DataFrame:
    """Customers buying at their own weekly rate from 2022-01-01 to 2023-12-31."""
    rng = np.random.default_rng(seed)
    rows = []
    start = datetime(2022, 1, 1)
    for i in range(n):
        rate = rng.gamma(0.8, 0.1)
        spend = rng.gamma(4, 10)
        first = rng.integers(0, 500)
        days = first + np.cumsum(rng.exponential(7 / max(rate, 1e-3), 30)).astype(int)
        for day in [first, *days[days < 730]]:
            rows.append((f"c{i}", start + np.timedelta64(int(day), "D").item(), float(spend * rng.uniform(0.5, 1.5))))
    frame = pl.DataFrame(rows, schema=["customer_id", "timestamp", "amount"], orient="row")
    return frame.with_columns(pl.int_range(pl.len()).cast(pl.String).alias("order_id"))


def test_scorecard_structure_and_consistency() -> None:
    tx = _synthetic()
    card = scorecard(tx, "2023-06-30", "2023-12-31", models=("bgnbd", "historical_average", "last_period"))
    assert isinstance(card, Scorecard)
    assert card.table.get_column("model").to_list() == ["bgnbd", "historical_average", "last_period", HEURISTIC]
    assert card.table.get_column("error").null_count() == 4
    preds = card.predictions
    assert preds.columns == ["customer_id", "model", "predicted_value", "predicted_purchases", "actual_value",
                             "actual_purchases"]
    first = preds.filter(pl.col("model") == "bgnbd").select("customer_id", "actual_value", "actual_purchases")
    for name in ("historical_average", "last_period"):  # the same customers and actuals for every model
        part = preds.filter(pl.col("model") == name).select("customer_id", "actual_value", "actual_purchases")
        assert part.equals(first)
    for row in card.table.filter(pl.col("model") != HEURISTIC).iter_rows(named=True):
        part = preds.filter(pl.col("model") == row["model"])
        p, a = part.get_column("predicted_value").to_numpy(), part.get_column("actual_value").to_numpy()
        assert row["mae_value"] == pytest.approx(np.abs(p - a).mean())
        assert row["top20_share"] == pytest.approx(captured_share(p, a, 0.2))
        assert row["gini_norm"] == pytest.approx(normalized_gini(p, a))
    assert set(card.deciles.get_column("model")) == {"bgnbd", "historical_average", "last_period"}
    assert "perfect" in set(card.gains.get_column("model"))
    assert card.holdout_length == pytest.approx(184 / 7)
    assert isinstance(plot_gains(card), go.Figure) and isinstance(plot_calibration(card), go.Figure)
    assert "| bgnbd |" in card.to_markdown()


def test_a_failing_model_is_a_row_with_its_error() -> None:
    tx = _synthetic(150)
    # the ML models need a calibration period twice the holdout; this one is shorter
    card = scorecard(tx, "2022-09-30", "2023-12-31", models=("lightgbm", "historical_average"))
    rows = {r["model"]: r for r in card.table.iter_rows(named=True)}
    assert "training cut-off" in rows["lightgbm"]["error"] and rows["lightgbm"]["mae_value"] is None  # missing, not NaN
    assert rows["historical_average"]["error"] is None
    assert set(card.predictions.get_column("model")) == {"historical_average"}
    with pytest.raises(ClvlensError, match="models"):
        scorecard(tx, "2023-06-30", "2023-12-31", models=("crystal_ball",))


def test_no_holdout_transaction_reaches_any_model() -> None:
    tx = _synthetic(300, seed=5)
    models = ("bgnbd", "two_part", "historical_average", "last_period")
    base = scorecard(tx, "2023-06-30", "2023-12-31", models=models)
    changed = tx.with_columns(
        pl.when(pl.col("timestamp") > datetime(2023, 7, 1)).then(pl.col("amount") * 7).otherwise(pl.col("amount"))
    )
    other = scorecard(changed, "2023-06-30", "2023-12-31", models=models)
    # leakage of 7x holdout amounts would move predictions by far more than the 1e-6 allowed here; the tolerance
    # only absorbs optimiser round-off from rows arriving in another order
    np.testing.assert_allclose(other.predictions.get_column("predicted_value").to_numpy(),
                               base.predictions.get_column("predicted_value").to_numpy(), rtol=1e-6)
    assert other.table.get_column("actual_total")[0] > base.table.get_column("actual_total")[0]


@pytest.mark.slow
def test_cdnow_bgnbd_holdout_purchases_match_the_published_total() -> None:
    path = DATASETS / "cdnow" / "CDNOW_sample.txt.gz"
    if not path.exists():
        pytest.skip(f"real data set cdnow/CDNOW_sample.txt.gz not found under {DATASETS}")
    from clvlens.data import load_cdnow

    card = scorecard(load_cdnow(path).transactions, "1997-09-30", "1998-06-30",
                     models=("bgnbd", "lightgbm", "historical_average"))
    bg = card.predictions.filter(pl.col("model") == "bgnbd")
    assert bg.height == 2357 and card.holdout_length == pytest.approx(39.0)
    assert bg.get_column("predicted_purchases").sum() == pytest.approx(1653.9, rel=0.01)  # FHL (2005)
    assert bg.get_column("actual_purchases").sum() == 1882
    # every CDNOW customer arrives in the first 12 weeks, so no history exists 39 weeks before 1997-09-30
    assert "training cut-off" in card.table.filter(pl.col("model") == "lightgbm").get_column("error")[0]


@pytest.mark.slow
def test_ml_beats_the_historical_average_on_the_demo_store() -> None:
    from clvlens.data.demo import generate_demo_store

    tx = generate_demo_store(n_customers=5000, seed=7).clean
    card = scorecard(tx, "2024-06-30", "2024-12-31", models=("two_part", "historical_average"))
    rows = {r["model"]: r for r in card.table.iter_rows(named=True)}
    ml, naive = rows["two_part"], rows["historical_average"]
    assert ml["spearman"] > naive["spearman"]
    # and it is far better calibrated: the naive rate extrapolation overstates the holdout total
    assert abs(ml["bias_value"]) < abs(naive["bias_value"]) / 3
    assert ml["decile_calibration_mae"] < naive["decile_calibration_mae"] / 2


def test_scorecard_health_metrics() -> None:
    """Every BTYD row carries the AUC, Brier score and calibration error of its p_active and the AUC of its
    P(alive) against who bought in the holdout; the heuristic has a row of its own (AUC only)."""
    tx = _synthetic()
    card = scorecard(tx, "2023-06-30", "2023-12-31", models=("bgnbd", "historical_average"))
    rows = {r["model"]: r for r in card.table.iter_rows(named=True)}
    summary = card.predictions.filter(pl.col("model") == "bgnbd")
    bought = summary.get_column("actual_purchases").to_numpy() > 0
    bg = rows["bgnbd"]
    assert 0.5 < bg["health_auc"] <= 1.0 and 0.0 < bg["health_brier"] < 0.25
    assert 0.0 <= bg["health_calibration_error"] < 0.2 and 0.0 < bg["p_alive_auc"] <= 1.0
    # the model's p_active is a probability of the event: its mean is near the share of buyers
    assert bg["health_mean"] == pytest.approx(bought.mean(), abs=0.1)
    assert rows["historical_average"]["health_brier"] is None and rows["historical_average"]["health_auc"] > 0.5
    heuristic = rows[HEURISTIC]
    assert heuristic["health_auc"] > 0.5 and heuristic["mae_value"] is None and heuristic["error"] is None


def test_rank_average_is_scipys_rankdata(cdnow_master: Path) -> None:
    """Ties share their mean rank and a NaN makes every rank NaN, as scipy.stats.rankdata's default; on CDNOW's
    spend (many ties) and on random samples with and without ties."""
    from scipy import stats

    from clvlens.data import load_cdnow

    rng = np.random.default_rng(3)
    samples = [np.array([]), np.array([5.0]), np.array([2.0, 2.0, 2.0]), np.array([1.0, np.nan, 0.0])]
    samples += [rng.integers(0, 5, size=int(n)).astype(float) for n in rng.integers(1, 300, size=50)]
    samples += [rng.normal(size=int(n)) for n in rng.integers(1, 300, size=50)]
    samples.append(load_cdnow(cdnow_master).transactions.get_column("amount").to_numpy())
    for values in samples:
        np.testing.assert_array_equal(M.rank_average(values), stats.rankdata(values))
