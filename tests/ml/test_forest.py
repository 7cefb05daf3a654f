"""The numpy walk of LightGBM's trees predicts what LightGBM predicts, to the bit, or steps aside."""

from __future__ import annotations

import numpy as np
import pytest

from clvlens.ml import ActivityClassifier, LightGBMLTV, LTVDataset, TwoPartLTV, time_split
from clvlens.ml._forest import CompiledForest
from clvlens.ml.lgbm import predictor

lgb = pytest.importorskip("lightgbm")


@pytest.fixture(scope="module")
def split(demo_transactions):  # type: ignore[no-untyped-def]
    return time_split(demo_transactions, "2023-12-30", "2024-06-30", "6M")


def _awkward(matrix: np.ndarray, categorical: int | None) -> np.ndarray:
    """The matrix with NaN, exact and tiny zeros, and (in the categorical column) NaN, negative and unseen codes."""
    out = matrix.copy()
    out[::5, :] = np.nan
    out[1::13, :] = 0.0
    out[2::17, :] = 1e-40
    out[3::19, :] = -0.0
    if categorical is not None:
        out[::7, categorical] = np.nan
        out[1::11, categorical] = -1.0
        out[2::9, categorical] = 97.0
    return out


@pytest.mark.parametrize("cls", [LightGBMLTV, TwoPartLTV, ActivityClassifier])
def test_the_walk_equals_lightgbm_on_the_models_of_a_run(cls: type, split: tuple[LTVDataset, LTVDataset]) -> None:
    train, test = split
    y = train.y.to_numpy() if hasattr(train.y, "to_numpy") else np.asarray(train.y)
    labels = (y > 0).astype(float) if cls is ActivityClassifier else y
    model = cls(random_state=1, subsample=0.8).fit(train.X, labels)
    matrix = model._matrix(test.X)
    categorical = model.feature_names_.index("region") if "region" in model.feature_names_ else None
    boosters = [b for b in model._boosters() if b is not None]
    assert boosters
    for booster in boosters:
        forest = CompiledForest.of(booster)
        assert forest is not None and CompiledForest.of(booster) is forest  # compiled once per booster
        for rows in (matrix, _awkward(matrix, categorical)):
            expected = booster.predict(rows, num_threads=1)
            np.testing.assert_array_equal(forest.predict(rows), expected)
            np.testing.assert_array_equal(forest.raw(rows), booster.predict(rows, num_threads=1, raw_score=True))
            np.testing.assert_array_equal(predictor(booster)(rows), expected)


@pytest.mark.parametrize("params", [{"zero_as_missing": True}, {"use_missing": False}, {}])
def test_missing_value_rules_match(params: dict[str, bool]) -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3_000, 4))
    x[rng.random(x.shape) < 0.2] = 0.0
    x[rng.random(x.shape) < 0.1] = np.nan
    y = np.nan_to_num(x[:, 0]) * 2 + (x[:, 1] == 0) + np.isnan(x[:, 2]) + rng.normal(scale=0.1, size=3_000)
    booster = lgb.train({"objective": "regression", "num_leaves": 7, "verbosity": -1, "seed": 1, **params},
                        lgb.Dataset(x, label=y), num_boost_round=30)
    forest = CompiledForest.of(booster)
    assert forest is not None
    kinds = {n.missing for t in forest.trees for n in t.nodes}
    assert kinds == {"Zero"} if params.get("zero_as_missing") else kinds <= {"None", "NaN"}
    np.testing.assert_array_equal(forest.raw(x), booster.predict(x, num_threads=1))


def test_large_trees_and_other_objectives_are_left_to_lightgbm() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2_000, 3))
    y = x[:, 0] + rng.normal(size=2_000)
    deep = lgb.train({"objective": "regression", "num_leaves": 31, "min_data_in_leaf": 5, "verbosity": -1},
                     lgb.Dataset(x, label=y), num_boost_round=5)
    assert CompiledForest.of(deep) is None
    np.testing.assert_array_equal(predictor(deep)(x), deep.predict(x, num_threads=1))
    counts = lgb.train({"objective": "poisson", "num_leaves": 7, "verbosity": -1},
                       lgb.Dataset(x, label=np.abs(y)), num_boost_round=5)
    assert CompiledForest.of(counts) is None
