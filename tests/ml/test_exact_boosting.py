"""The baseline GBR's own trees (ml/_exact_boosting.py) against scikit-learn's GradientBoostingRegressor.

On real data (UCI Online Retail, CDNOW) at the baseline's depth, every tree sends every training row to a leaf of
the same value as scikit-learn's tree does; deeper trees, where cuts of exactly equal score between different rows
occur in small nodes (each implementation then takes its own), fit as well. On small made-up data every split is
checked against a brute-force search of all cuts, and the edge cases (constant target or feature, values closer
than 1e-7, two rows) against scikit-learn tree by tree.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import polars as pl
import pytest

from clvlens.errors import ClvlensError
from clvlens.ml import BaselineGBR, LTVDataset
from clvlens.ml._exact_boosting import SAME_VALUE, boost_exact_trees
from clvlens.ml.baseline import _walk_each


def _reference(matrix: np.ndarray, target: np.ndarray, n_estimators: int, max_depth: int,
               learning_rate: float = 0.05) -> object:
    from sklearn.ensemble import GradientBoostingRegressor

    return GradientBoostingRegressor(n_estimators=n_estimators, learning_rate=learning_rate, max_depth=max_depth,
                                     random_state=0).fit(matrix, target)


def _leaf_values(trees: list[dict[str, np.ndarray]], matrix: np.ndarray) -> np.ndarray:
    """(trees x rows): the leaf value each tree gives each row."""
    return np.array(_walk_each(trees, matrix.astype(np.float32).astype(np.float64)))


@pytest.mark.parametrize("data", ["uci", "cdnow"])
def test_every_tree_is_scikit_learns_on_real_customers(data: str, request: pytest.FixtureRequest) -> None:
    train, _ = request.getfixturevalue(f"{data}_split")
    model = BaselineGBR().fit(train.X, train.y)  # the baseline's own settings: 200 trees of depth 3
    matrix, target = model._encode(train.X), np.log1p(train.y)
    reference = _reference(matrix, target, model.n_estimators, model.max_depth)
    assert model.init_ == pytest.approx(float(np.ravel(reference.init_.constant_)[0]), rel=1e-15)
    theirs = np.array([tree[0].predict(matrix.astype(np.float32)) for tree in reference.estimators_])
    ours = _leaf_values(model.trees_, matrix)
    # the same rows in every leaf, with the same mean residual: up to rounding, tree after tree
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-11)
    np.testing.assert_allclose(model._raw(matrix), reference.predict(matrix), rtol=0, atol=1e-11)


def test_deeper_trees_fit_as_well_as_scikit_learns(uci_split: tuple[LTVDataset, LTVDataset]) -> None:
    """At depth 5 small nodes hold customers of equal residual, so two cuts isolating different ones score the
    same; the two implementations pick differently there, and the fits are equally good."""
    train, test = uci_split
    model = BaselineGBR(n_estimators=200, max_depth=5).fit(train.X, train.y)
    matrix, target = model._encode(train.X), np.log1p(train.y)
    reference = _reference(matrix, target, 200, 5)
    ours_mse = np.mean((model._raw(matrix) - target) ** 2)
    theirs_mse = np.mean((reference.predict(matrix) - target) ** 2)
    assert ours_mse == pytest.approx(theirs_mse, rel=0.01)
    held_out, actual = model._encode(test.X), np.log1p(test.y)
    ours_mae = np.mean(np.abs(model._raw(held_out) - actual))
    theirs_mae = np.mean(np.abs(reference.predict(held_out) - actual))
    assert ours_mae == pytest.approx(theirs_mae, rel=0.01)


def _made_up(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Features with ties, few values, near-equal values and a constant; a target with repeated values."""
    rng = np.random.default_rng(seed)
    matrix = np.column_stack([
        rng.integers(0, 4, rows),                                  # few values, many ties
        np.round(rng.gamma(1.0, 30.0, rows), 2),                   # money
        0.5 + rng.integers(0, 3, rows) * 6e-8,                     # values within 1e-7 of each other
        np.full(rows, 7.0),                                        # constant
        rng.normal(0.0, 1.0, rows),                                # continuous
    ])
    target = np.log1p(np.where(rng.random(rows) < 0.4, 0.0, rng.gamma(0.7, 80.0, rows)))
    return matrix, target


def _best_score(x: np.ndarray, residual: np.ndarray) -> float:
    """The best Friedman score of any cut of one node, by trying them all."""
    best = -np.inf
    values = np.unique(x.astype(np.float32).astype(np.float64))
    for below, above in pairwise(values):
        if above <= below + SAME_VALUE:
            continue
        left = x.astype(np.float32).astype(np.float64) <= below
        n_left, n_right = left.sum(), (~left).sum()
        difference = n_right * residual[left].sum() - n_left * residual[~left].sum()
        best = max(best, difference * difference / (n_left * n_right))
    return best


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_split_is_the_best_cut(seed: int) -> None:
    matrix, target = _made_up(300, seed)
    fitted = boost_exact_trees(matrix, target, n_estimators=8, learning_rate=0.1, max_depth=4)
    x = matrix.astype(np.float32).astype(np.float64)
    prediction = np.full(target.size, fitted.init)
    checked = 0
    for tree in fitted.trees:
        residual = target - prediction
        stack = [(0, np.ones(target.size, dtype=bool))]
        while stack:
            node, rows = stack.pop()
            if tree["children_left"][node] == -1:
                assert tree["value"][node] == pytest.approx(residual[rows].mean(), abs=1e-12)
                continue
            feature, threshold = tree["feature"][node], tree["threshold"][node]
            goes_left = rows & (x[:, feature] <= threshold)
            n_left, n_right = goes_left.sum(), (rows & ~goes_left).sum()
            assert n_left > 0 and n_right > 0
            difference = n_right * residual[goes_left].sum() - n_left * residual[rows & ~goes_left].sum()
            score = difference * difference / (n_left * n_right)
            best = max(_best_score(x[rows, f], residual[rows]) for f in range(x.shape[1]))
            assert score == pytest.approx(best, rel=1e-9)
            # never on the constant, nor between two of the node's values within 1e-7 of each other
            assert feature != 3 and x[rows & ~goes_left, feature].min() > x[goes_left, feature].max() + SAME_VALUE
            checked += 1
            stack += [(tree["children_left"][node], goes_left), (tree["children_right"][node], rows & ~goes_left)]
        prediction += 0.1 * _leaf_values([tree], matrix)[0]
    assert checked > 40


@pytest.mark.parametrize("case", ["constant target", "constant feature", "near-equal values", "two rows"])
def test_edge_cases_grow_scikit_learns_trees(case: str) -> None:
    matrix, target = _made_up(200, 5)
    if case == "constant target":
        target = np.full(target.size, 1.25)
    elif case == "constant feature":
        matrix = matrix[:, [3]]
    elif case == "near-equal values":
        matrix = matrix[:, [2, 0]]
    else:
        matrix, target = matrix[:2, [1, 3]], np.array([0.0, 2.0])  # one feature separates them: no tie
    fitted = boost_exact_trees(matrix, target, n_estimators=5, learning_rate=0.05, max_depth=3)
    reference = _reference(matrix, target, 5, 3)
    for ours, theirs in zip(fitted.trees, reference.estimators_, strict=True):
        tree = theirs[0].tree_
        np.testing.assert_array_equal(ours["children_left"], tree.children_left)
        np.testing.assert_array_equal(ours["feature"][ours["children_left"] >= 0],
                                      tree.feature[tree.children_left >= 0])
        np.testing.assert_array_equal(ours["threshold"][ours["children_left"] >= 0],
                                      tree.threshold[tree.children_left >= 0])
        np.testing.assert_allclose(ours["value"], tree.value.ravel(), rtol=0, atol=1e-12)


def test_a_feature_that_is_not_finite_is_named(uci_split: tuple[LTVDataset, LTVDataset]) -> None:
    train, _ = uci_split
    spoiled = train.X.with_columns(pl.when(pl.int_range(pl.len()) == 3).then(float("nan"))
                                   .otherwise(pl.col("revenue_3m")).alias("revenue_3m"))
    with pytest.raises(ClvlensError, match="baseline GBR: feature 'revenue_3m' has missing or infinite values"):
        BaselineGBR(n_estimators=5).fit(spoiled, train.y)


def test_subsampling_is_left_to_scikit_learn(uci_split: tuple[LTVDataset, LTVDataset]) -> None:
    """Row subsampling draws from scikit-learn's random state, so scikit-learn grows those trees: bit for bit."""
    from sklearn.ensemble import GradientBoostingRegressor

    train, test = uci_split
    model = BaselineGBR(n_estimators=30, subsample=0.7, random_state=3).fit(train.X, train.y)
    reference = GradientBoostingRegressor(n_estimators=30, learning_rate=0.05, max_depth=3, subsample=0.7,
                                          random_state=3).fit(model._encode(train.X), np.log1p(train.y))
    held_out = model._encode(test.X)
    np.testing.assert_array_equal(model._raw(held_out), reference.predict(held_out))


def test_too_wide_a_level_is_left_to_scikit_learn(uci_split: tuple[LTVDataset, LTVDataset],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Beyond the bins budget (deep trees on many rows) scikit-learn grows the trees: bit for bit its prediction."""
    from clvlens.ml import _exact_boosting

    train, test = uci_split
    monkeypatch.setattr(_exact_boosting, "MAX_LEVEL_BINS", 1_000)
    model = BaselineGBR(n_estimators=20).fit(train.X, train.y)
    reference = _reference(model._encode(train.X), np.log1p(train.y), 20, 3)
    held_out = model._encode(test.X)
    np.testing.assert_array_equal(model._raw(held_out), reference.predict(held_out))
    monkeypatch.setattr(_exact_boosting, "MAX_LEVEL_BINS", 2**24)  # within the budget: grown here, not bit for bit
    assert BaselineGBR(n_estimators=20)._grows_its_own_trees(model._encode(train.X).shape)
