"""train_ltv / predict_ltv: defaults, output frame and the saved-folder round trip."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from clvlens.errors import ClvlensError
from clvlens.ml import TrainedLTV, default_cutoff, load_ltv, predict_ltv, train_ltv
from clvlens.ml.features import build_features
from clvlens.pipeline.learning import ltv_label_window


def test_default_cutoff_leaves_a_fully_observed_label_window(demo_transactions: pl.DataFrame) -> None:
    # last transaction 2024-12-31; 6M = 182.625 days -> 2024-07-01 (rounded down), window ends 2024-12-31 15:00
    assert default_cutoff(demo_transactions, "6M") == datetime(2024, 7, 1)
    with pytest.raises(ClvlensError, match="horizon"):
        default_cutoff(demo_transactions, "5Y")


@pytest.mark.parametrize("model", ["lightgbm", "two_part", "baseline_gbr"])
def test_train_predict_round_trip(model: str, demo_transactions: pl.DataFrame, tmp_path: Path) -> None:
    params = {"n_estimators": 30}
    trained = train_ltv(demo_transactions, horizon="6M", model=model, params=params, btyd=False)
    assert isinstance(trained, TrainedLTV) and trained.cutoff == datetime(2024, 7, 1) and trained.model == model
    scores = predict_ltv(trained, demo_transactions)
    assert scores.columns == ["customer_id", "ltv_ml"]
    assert scores.height == demo_transactions.get_column("customer_id").n_unique()
    assert scores.get_column("ltv_ml").min() >= 0
    folder = trained.save(tmp_path / model)
    loaded = load_ltv(folder)
    assert loaded.spec == trained.spec and loaded.cutoff == trained.cutoff and loaded.n_train == trained.n_train
    assert_frame_equal(predict_ltv(folder, demo_transactions), scores)
    earlier = predict_ltv(loaded, demo_transactions, as_of="2024-01-31")
    assert earlier.height < scores.height


def test_predictions_scale_with_observed_value(demo_transactions: pl.DataFrame) -> None:
    trained = train_ltv(demo_transactions, horizon="6M", cutoff="2024-06-30", btyd=False,
                        params={"n_estimators": 60, "min_child_samples": 20})
    scores = predict_ltv(trained, demo_transactions, as_of="2024-06-30")
    assert trained.n_train == scores.height
    assert np.isclose(scores.get_column("ltv_ml").mean(), trained.train_label_mean, rtol=0.05)


def test_bad_requests(demo_transactions: pl.DataFrame) -> None:
    with pytest.raises(ClvlensError, match="model"):
        train_ltv(demo_transactions, horizon="6M", model="deep_magic")
    with pytest.raises(ClvlensError, match="cutoff"):
        train_ltv(demo_transactions, horizon="6M", cutoff="2024-11-30", btyd=False)
    with pytest.raises(ClvlensError, match="not a saved"):
        load_ltv(Path("/nonexistent"))


def test_a_shorter_label_window_is_learned_and_scaled_to_the_horizon(
    demo_transactions: pl.DataFrame, tmp_path: Path
) -> None:
    params = {"n_estimators": 30}
    trained = train_ltv(demo_transactions, horizon="26W", label_window="13W", btyd=False, params=params)
    # the cut-off leaves the 13-week window, not the 26-week horizon, before the last date
    assert trained.cutoff == default_cutoff(demo_transactions, "13W")
    assert trained.spec.horizon == "13W" and trained.horizon == "26W" and trained.horizon_scale == pytest.approx(2.0)
    scores = predict_ltv(trained, demo_transactions)
    last = demo_transactions.get_column("timestamp").max()
    unscaled = trained.estimator.predict(build_features(demo_transactions, last, trained.spec))
    np.testing.assert_allclose(scores.get_column("ltv_ml").to_numpy(), 2.0 * np.asarray(unscaled))
    loaded = load_ltv(trained.save(tmp_path / "scaled"))
    assert loaded.horizon == "26W" and loaded.horizon_scale == pytest.approx(2.0)
    assert_frame_equal(predict_ltv(loaded, demo_transactions), scores)
    with pytest.raises(ClvlensError, match="label_window"):
        train_ltv(demo_transactions, horizon="13W", label_window="26W", btyd=False, params=params)


def test_pipeline_label_window_rule() -> None:
    start = datetime(2010, 12, 1)
    # 78 weeks of data (CDNOW) hold more than 1.25 years: the whole 12-month horizon is learned
    assert ltv_label_window(start, datetime(2012, 5, 30), "12M") is None
    # one year of data (UCI) would leave a week of history: half the span, in weeks, is learned instead
    assert ltv_label_window(start, datetime(2011, 12, 9), "12M") == "26W"
    # 39 weeks (CDNOW's calibration) are shorter than the horizon: no window, training reports it
    assert ltv_label_window(start, datetime(2011, 8, 31), "12M") is None
