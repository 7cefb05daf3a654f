"""The baseline GBR's own tree walk on real data: exactly scikit-learn's prediction, before and after save/load.

The walk lays every tree out as a complete binary tree and walks all trees at once (ml/baseline.py); these tests
hold it to scikit-learn's ``predict`` bit for bit on UCI Online Retail (with its country as region) and CDNOW, for
the default depth, a deeper ensemble, and the tree-by-tree fallback for ensembles too deep to lay out. They walk
trees grown by scikit-learn (``scikit_learn_trees``); the trees grown by clvlens itself are held to scikit-learn's
in tests/ml/test_exact_boosting.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from clvlens.ml import BaselineGBR, LTVDataset
from clvlens.ml import baseline as baseline_module


@pytest.fixture
def scikit_learn_trees(monkeypatch: pytest.MonkeyPatch) -> None:
    """BaselineGBR.fit leaves the trees to scikit-learn (as it does for subsampling or very deep trees)."""
    monkeypatch.setattr(baseline_module, "MAX_GROWN_DEPTH", 0)


def _sklearn_raw(model: BaselineGBR, train: LTVDataset, X: pl.DataFrame) -> np.ndarray:
    """scikit-learn's own prediction (log1p scale) of the same ensemble, refitted with the same settings."""
    from sklearn.ensemble import GradientBoostingRegressor

    reference = GradientBoostingRegressor(
        n_estimators=model.n_estimators, learning_rate=model.learning_rate, max_depth=model.max_depth,
        subsample=model.subsample, random_state=model.random_state,
    ).fit(model._encode(train.X), np.log1p(train.y))
    return reference.predict(model._encode(X))


@pytest.mark.parametrize("max_depth", [3, 5])
@pytest.mark.usefixtures("scikit_learn_trees")
def test_walk_is_scikit_learns_prediction_on_uci(uci_split: tuple[LTVDataset, LTVDataset], max_depth: int) -> None:
    train, test = uci_split
    assert train.X.height > 2_000 and "region" in train.X.columns  # real customers, a categorical feature
    model = BaselineGBR(n_estimators=60, max_depth=max_depth, random_state=2).fit(train.X, train.y)
    for X in (test.X, train.X):
        np.testing.assert_array_equal(model._raw(model._encode(X)), _sklearn_raw(model, train, X))


@pytest.mark.usefixtures("scikit_learn_trees")
def test_walk_is_scikit_learns_prediction_on_cdnow(cdnow_split: tuple[LTVDataset, LTVDataset]) -> None:
    train, test = cdnow_split
    model = BaselineGBR(n_estimators=80, random_state=0).fit(train.X, train.y)
    expected = _sklearn_raw(model, train, test.X)
    np.testing.assert_array_equal(model._raw(model._encode(test.X)), expected)
    # and the same prediction as the tree-by-tree walk of ensembles too deep to lay out
    matrix = model._encode(test.X).astype(np.float32).astype(np.float64)
    per_tree = baseline_module._walk_each(model.trees_, matrix)
    layout = baseline_module._Layout.of(model.trees_)
    assert layout is not None and layout.depth == 3
    np.testing.assert_array_equal(layout.leaf_values(matrix), np.array(per_tree))


@pytest.mark.usefixtures("scikit_learn_trees")
def test_too_deep_to_lay_out_walks_tree_by_tree(uci_split: tuple[LTVDataset, LTVDataset],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    train, test = uci_split
    monkeypatch.setattr(baseline_module, "MAX_LAYOUT_DEPTH", 2)
    model = BaselineGBR(n_estimators=20, random_state=1).fit(train.X, train.y)
    assert baseline_module._Layout.of(model.trees_) is None
    np.testing.assert_array_equal(model._raw(model._encode(test.X)), _sklearn_raw(model, train, test.X))


def test_missing_and_infinite_features_take_the_same_branch_as_before(
        uci_split: tuple[LTVDataset, LTVDataset]) -> None:
    """scikit-learn refuses NaN at predict time; the walk sends NaN right (x <= threshold is false) and +-inf by
    comparison, in the laid-out walk exactly as in the tree-by-tree one."""
    train, test = uci_split
    model = BaselineGBR(n_estimators=40, random_state=1).fit(train.X, train.y)
    matrix = model._encode(test.X).astype(np.float32).astype(np.float64)
    matrix[::7, 2] = np.nan
    matrix[1::11, 4] = np.inf
    matrix[2::13, 0] = -np.inf
    layout = baseline_module._Layout.of(model.trees_)
    assert layout is not None
    per_tree = np.array(baseline_module._walk_each(model.trees_, matrix))
    np.testing.assert_array_equal(layout.leaf_values(matrix), per_tree)


def test_saved_and_loaded_model_predicts_identically(uci_split: tuple[LTVDataset, LTVDataset],
                                                     tmp_path: Path) -> None:
    train, test = uci_split
    model = BaselineGBR(n_estimators=50, random_state=4).fit(train.X, train.y)
    predicted = model.predict(test.features)
    folder = model.save(tmp_path / "gbr")
    assert sorted(p.name for p in folder.iterdir()) == ["metadata.json", "trees.json"]
    trees = json.loads((folder / "trees.json").read_text())
    assert len(trees["trees"]) == 50 and set(trees["trees"][0]) >= {"children_left", "threshold", "value"}
    loaded = BaselineGBR.load(folder)
    np.testing.assert_array_equal(loaded.predict(test.features), predicted)
    np.testing.assert_array_equal(loaded.predict(train.X), model.predict(train.X))
