"""Customer health: activity metrics, the heuristic, the logistic map, the activity classifier and the choice."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from clvlens.analytics.evaluation import metrics as M
from clvlens.analytics.health import HEALTH_SCORES, health_scores, heuristic_score, logistic_fit
from clvlens.errors import ClvlensError
from clvlens.ml.activity import ActivityClassifier, load_activity, train_activity
from clvlens.models import BetaGeo
from clvlens.pipeline.run import build_customer_table, observed_until


def test_auc_is_the_mann_whitney_statistic_with_ties() -> None:
    rng = np.random.default_rng(0)
    score = rng.integers(0, 5, 400).astype(float)  # many ties
    bought = rng.random(400) < 0.2 + 0.1 * score
    pairs = score[bought][:, None] - score[~bought][None, :]
    by_pairs = float(((pairs > 0) + 0.5 * (pairs == 0)).mean())
    assert M.auc(score, bought) == pytest.approx(by_pairs, abs=1e-12)
    assert M.auc(-score, bought) == pytest.approx(1 - by_pairs, abs=1e-12)
    assert np.isnan(M.auc(score, np.zeros(400, dtype=bool)))


def test_brier_and_calibration_error() -> None:
    rng = np.random.default_rng(1)
    p = rng.random(200_000)
    bought = rng.random(p.size) < p  # calibrated by construction
    assert M.calibration_error(p, bought) < 0.01
    assert M.calibration_error(np.clip(p + 0.2, 0, 1), bought) > 0.15
    assert M.brier(p, bought) == pytest.approx(1 / 6, abs=0.005)  # E[p(1-p)] for p ~ U(0, 1)
    assert M.brier(np.array([1.0, 0.0]), np.array([True, True])) == 0.5


def test_heuristic_score_values() -> None:
    # frequency / age - (age - recency) / oldest age
    score = heuristic_score([2, 0, 5], [10, 0, 40], [20, 10, 40])
    np.testing.assert_allclose(score, [2 / 20 - 10 / 40, 0 - 10 / 40, 5 / 40 - 0])
    assert heuristic_score([0], [0], [0])[0] == 0.0


def test_logistic_fit_recovers_its_coefficients() -> None:
    rng = np.random.default_rng(2)
    s = rng.normal(size=50_000)
    y = rng.random(s.size) < 1 / (1 + np.exp(-(-0.5 + 2.0 * s)))
    intercept, slope = logistic_fit(s * 3 + 1, y)  # on a shifted, scaled score
    assert slope == pytest.approx(2.0 / 3, rel=0.05)
    assert intercept == pytest.approx(-0.5 - 2.0 / 3, abs=0.05)


@pytest.fixture(scope="module")
def demo_log() -> pl.DataFrame:
    from clvlens.data import load_source
    from clvlens.data.demo import generate_demo_store

    store = generate_demo_store(1500, seed=3)
    return load_source(store.transactions).transactions


def test_activity_classifier_learns_and_round_trips(demo_log: pl.DataFrame, tmp_path: Path) -> None:
    end = datetime(2024, 6, 30)
    trained = train_activity(demo_log, as_of=end, window_days=91, time_unit="W")
    assert trained.train_cutoff == datetime(2024, 3, 31) and 0 < trained.base_rate < 1
    scores = trained.predict(demo_log, end)
    assert scores.height == observed_until(demo_log, end).get_column("customer_id").n_unique()
    p = scores.get_column("p_active_ml").to_numpy()
    assert np.all((p >= 0) & (p <= 1))
    folder = trained.save(tmp_path / "activity")
    assert sorted(f.name for f in folder.iterdir()) == ["classifier.txt", "metadata.json"]
    again = load_activity(folder)
    np.testing.assert_array_equal(again.predict(demo_log, end).get_column("p_active_ml").to_numpy(), p)
    assert again.spec == trained.spec and again.window_days == 91
    # it ranks who buys in the next window better than chance (the demo store follows a BG/NBD)
    window = (pl.col("timestamp") >= datetime(2024, 7, 1)) & (pl.col("timestamp") < datetime(2024, 9, 30))
    buyers = set(demo_log.filter(window).get_column("customer_id").to_list())
    bought = np.array([c in buyers for c in scores.get_column("customer_id").to_list()])
    assert M.auc(p, bought) > 0.65  # 0.69 measured; chance is 0.5


def test_activity_classifier_errors(demo_log: pl.DataFrame) -> None:
    with pytest.raises(ClvlensError, match="window"):
        train_activity(demo_log, as_of=datetime(2023, 1, 10), window_days=91)
    with pytest.raises(ClvlensError, match="0 or 1"):
        ActivityClassifier().fit(pl.DataFrame({"a": [1.0, 2.0, 3.0]}), [0.0, 2.0, 1.0])
    constant = ActivityClassifier().fit(pl.DataFrame({"a": [1.0, 2.0, 3.0]}), [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(constant.predict_proba(pl.DataFrame({"a": [5.0]})), [1.0])


def test_health_scores_choose_the_best_validated_score(demo_log: pl.DataFrame) -> None:
    end = datetime(2024, 9, 30)
    observed = observed_until(demo_log, end)
    customers = build_customer_table(demo_log, "W", end)
    cols = [customers.get_column(c).to_numpy().astype(float) for c in ("frequency", "recency", "T")]
    model = BetaGeo(time_unit="W").fit(*cols)
    result = health_scores(observed, customers, model, window="13W", time_unit="W", observation_end=end)
    table = result.validation
    assert table.get_column("score").to_list() == list(HEALTH_SCORES)
    assert table.get_column("chosen").sum() == 1 and result.validation_window_days == 91
    best = table.filter(pl.col("chosen")).row(0, named=True)
    assert best["score"] == result.score
    assert round(best["health_auc"], 3) == round(float(table.get_column("health_auc").max()), 3)
    columns = result.customer_columns
    assert columns.columns == ["customer_id", "p_active", "p_active_ml", "health_heuristic", "health"]
    health = columns.get_column("health").to_numpy()
    assert np.all((health >= 0) & (health <= 1)) and columns.height == customers.height
    np.testing.assert_allclose(
        columns.get_column("p_active").to_numpy(), model.conditional_probability_active(13.0, *cols)
    )


def test_health_on_a_short_history_falls_back_to_p_active(demo_log: pl.DataFrame) -> None:
    end = datetime(2023, 1, 25)  # 24 days of history: no internal split
    observed = observed_until(demo_log, end)
    customers = build_customer_table(demo_log, "W", end)
    model = BetaGeo.from_params({"r": 0.5, "alpha": 5.0, "a": 0.8, "b": 2.5})
    result = health_scores(observed, customers, model, window="12M", time_unit="W", observation_end=end)
    assert result.score == "p_active" and result.validation_window_days is None
    assert any("too short" in note for note in result.notes)


def test_health_validates_and_trains_on_a_stable_sample_and_scores_everyone(demo_log: pl.DataFrame) -> None:
    """With a sample smaller than the base, the scores are validated on the sampled customers (the same ones
    whatever the row order), the classifier still scores every customer, and the choice's AUC error is stated."""
    end = datetime(2024, 9, 30)
    observed = observed_until(demo_log, end)
    customers = build_customer_table(demo_log, "W", end)
    cols = [customers.get_column(c).to_numpy().astype(float) for c in ("frequency", "recency", "T")]
    model = BetaGeo(time_unit="W").fit(*cols)
    kwargs = {"window": "13W", "time_unit": "W", "observation_end": end, "sample": 1_000}
    result = health_scores(observed, customers, model, **kwargs)
    again = health_scores(observed.reverse(), customers.reverse(), model, **kwargs)
    assert result.sample_note == f"1,000 of {customers.height:,} customers (stable hash of customer_id)"
    validated = result.validation.get_column("customers").to_list()
    assert max(validated) <= 1_000 and validated == again.validation.get_column("customers").to_list()
    np.testing.assert_allclose(result.validation.get_column("health_auc").to_numpy(),
                               again.validation.get_column("health_auc").to_numpy(), rtol=1e-12)
    assert result.customer_columns.height == customers.height
    assert result.customer_columns.get_column("p_active_ml").null_count() == 0
    assert result.choice_error is not None and result.choice_error.startswith(f"AUC of {result.score} - ")
    assert "sampling error" in result.choice_error
    whole = health_scores(observed, customers, model, window="13W", time_unit="W", observation_end=end)
    assert whole.sample_note == f"all {customers.height:,} customers"


def test_health_evaluates_the_model_once_per_distinct_history_with_the_same_numbers(cdnow_master: Path) -> None:
    """CDNOW (23,570 customers, far fewer distinct weekly histories): the Pareto/NBD figures of the health step,
    evaluated once per distinct (x, t_x, T), equal the per-customer evaluation to the bit, and so do the window
    exponents (the 39-week window is longer than CDNOW's validation split)."""
    from clvlens.analytics.health import _window_exponents
    from clvlens.data import load_source
    from clvlens.models import ParetoNBD
    from clvlens.models.clv import Histories

    end = datetime(1997, 9, 30)
    transactions = load_source(str(cdnow_master), format="cdnow").transactions
    observed = observed_until(transactions, end)
    customers = build_customer_table(transactions, "W", end)
    cols = [customers.get_column(c).to_numpy().astype(float) for c in ("frequency", "recency", "T")]
    model = ParetoNBD(time_unit="W").fit(*cols)
    grouped = Histories(*cols)
    assert grouped.size < 0.5 * customers.height  # the grouping is in use
    result = health_scores(observed, customers, model, window="39W", time_unit="W", observation_end=end)
    per_customer = model.conditional_probability_active(39.0, *cols)
    assert np.array_equal(result.customer_columns.get_column("p_active").to_numpy(), per_customer)

    # 900 customers at a time are evaluated as they are (below the grouping's threshold)
    one_by_one = np.concatenate([
        _window_exponents(model, 13.0, 39.0, Histories(*(c[i:i + 900] for c in cols)), per_customer[i:i + 900])
        for i in range(0, customers.height, 900)
    ])
    exponents = _window_exponents(model, 13.0, 39.0, grouped, per_customer)
    assert np.array_equal(exponents, one_by_one) and np.all(exponents > 1.0)
