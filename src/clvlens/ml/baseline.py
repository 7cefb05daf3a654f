"""The field's simple baseline: gradient boosting (scikit-learn's GradientBoostingRegressor) on log1p(value) from a
few early signals.

Features: ``cohort_age_months`` (how long ago the customer was acquired), ``region`` (level code, -1 when unseen),
and the revenue and orders of the first 1 and 3 months. The model is scikit-learn's ``GradientBoostingRegressor``
(squared error, exact trees). With every row in every tree (``subsample=1``, the default) and trees whose widest
level fits a memory budget, the trees are grown here by :mod:`clvlens.ml._exact_boosting`: the same algorithm, with
each feature's values ranked once instead of sorted at every node, giving scikit-learn's own trees up to
floating-point rounding and exact ties (tests/ml/test_exact_boosting.py). Otherwise scikit-learn grows them. The
trees are kept as plain arrays (children, split feature, threshold, leaf value) and every prediction walks those
arrays, so ``save`` can write them as JSON (``trees.json``, no pickle) and a loaded model predicts exactly what the
fitted one did. The walk reproduces scikit-learn's: features are rounded to float32 and compared ``x <= threshold``
(a NaN goes right); the sum starts at the initial constant and adds ``learning_rate * leaf value`` tree by tree, in
tree order.

The walk runs every tree at once, one depth level at a time, over blocks of rows: each tree is laid out as a
complete binary tree of the ensemble's depth (node i has children 2i+1 and 2i+2; a leaf above the last level
becomes a chain of "always left" nodes, threshold +inf, carrying its value down), so a level is three array
gathers for all trees and rows and no Python loop runs per tree or per node.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from clvlens.errors import ClvlensError
from clvlens.ml import _exact_boosting as exact_boosting
from clvlens.ml._common import (
    ParamsMixin,
    bias_factor,
    check_target,
    encode,
    feature_frame,
    from_log,
    learn_levels,
    read_metadata,
    read_text,
    write_metadata,
)
from clvlens.ml._exact_boosting import boost_exact_trees, widest_level_bins

BASELINE_FEATURES = ("cohort_age_months", "region", "revenue_1m", "orders_1m", "revenue_3m", "orders_3m")
#: rows walked at once (trees x rows of node indices stay in the processor's cache)
WALK_BLOCK = 256
#: deepest ensemble laid out as complete trees (2^(depth+1) - 1 nodes each); deeper ones walk tree by tree
MAX_LAYOUT_DEPTH = 10
#: deepest trees grown here (a node is named by its place in a complete tree); deeper ones by scikit-learn
MAX_GROWN_DEPTH = 12


class BaselineGBR(ParamsMixin):
    """GradientBoostingRegressor (squared error) on log1p(value); ``predict`` returns expm1 x bias correction.

    ``bias_correction`` as for :class:`~clvlens.ml.LightGBMLTV` (default "ratio": the in-sample total matches).

    Fitted: ``trees_`` (list of dicts of arrays), ``init_`` (initial constant), ``feature_names_``,
    ``categorical_levels_``, ``bias_factor_``.
    """

    kind = "baseline_gbr"

    def __init__(
        self,
        n_estimators: int = 200,
        learning_rate: float = 0.05,
        max_depth: int = 3,
        subsample: float = 1.0,
        random_state: int = 0,
        bias_correction: str = "ratio",
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.subsample = subsample
        self.random_state = random_state
        self.bias_correction = bias_correction

    def fit(self, X: Any, y: Any) -> BaselineGBR:
        """Fit on a feature table holding the baseline columns (others are ignored) and values in currency."""
        frame = feature_frame(X)
        names = [n for n in BASELINE_FEATURES if n in frame.columns or n != "region"]
        self.feature_names_ = names
        self.categorical_levels_ = learn_levels(frame.select([n for n in names if n in frame.columns]))
        matrix = self._encode(frame)
        target = check_target(y, matrix.shape[0])
        log_y = np.log1p(target)
        if self._grows_its_own_trees(matrix.shape):
            _check_features(matrix, names)
            boosted = boost_exact_trees(matrix, log_y, n_estimators=int(self.n_estimators),
                                        learning_rate=float(self.learning_rate), max_depth=int(self.max_depth))
            self.init_, self.trees_ = boosted.init, [_tree_arrays(tree) for tree in boosted.trees]
        else:
            self._fit_scikit_learn(matrix, log_y)
        self.bias_factor_ = bias_factor(self.bias_correction, self._raw(matrix), log_y)
        return self

    def _grows_its_own_trees(self, shape: tuple[int, ...]) -> bool:
        """Every row in every tree (no subsampling, which draws rows from scikit-learn's random state) and trees
        shallow enough for their widest level's bins to fit the budget: the trees are grown here
        (:mod:`clvlens.ml._exact_boosting`)."""
        depth = int(self.max_depth)
        return (float(self.subsample) == 1.0 and 1 <= depth <= MAX_GROWN_DEPTH
                and widest_level_bins(shape[0], shape[1], depth) <= exact_boosting.MAX_LEVEL_BINS)

    def _fit_scikit_learn(self, matrix: np.ndarray, log_y: np.ndarray) -> None:
        try:
            from sklearn.ensemble import GradientBoostingRegressor
        except ImportError:  # pragma: no cover - depends on the environment
            raise ClvlensError("model: scikit-learn is not installed; pip install scikit-learn") from None
        gbr = GradientBoostingRegressor(
            loss="squared_error", n_estimators=int(self.n_estimators), learning_rate=float(self.learning_rate),
            max_depth=int(self.max_depth), subsample=float(self.subsample), random_state=int(self.random_state),
        )
        gbr.fit(matrix, log_y)
        self.init_ = float(np.ravel(gbr.init_.constant_)[0])
        self.trees_ = [_export_tree(est[0].tree_) for est in gbr.estimators_]

    def _encode(self, frame: Any) -> np.ndarray:
        if "region" in self.feature_names_ and "region" not in frame.columns:
            import polars as pl

            frame = frame.with_columns(pl.lit(None, pl.String).alias("region"))
        return encode(frame, self.feature_names_, self.categorical_levels_, -1.0)

    def _raw(self, matrix: np.ndarray) -> np.ndarray:
        """Prediction on the log1p scale by walking the exported trees."""
        x = matrix.astype(np.float32).astype(np.float64)
        cached = getattr(self, "_layout", None)
        if cached is None or cached[0] is not self.trees_:  # laid out once per fitted or loaded set of trees
            cached = self._layout = (self.trees_, _Layout.of(self.trees_))
        layout = cached[1]
        contributions = layout.leaf_values(x) if layout is not None else _walk_each(self.trees_, x)
        out = np.full(x.shape[0], self.init_)
        for values in contributions:  # tree by tree, as scikit-learn sums (the order fixes the rounding)
            out += self.learning_rate * values
        return out

    def predict(self, X: Any) -> np.ndarray:
        """Expected value in currency over the label horizon, one per row."""
        if not hasattr(self, "trees_"):
            raise ClvlensError("BaselineGBR: model is not fitted; call fit() or load() first")
        return from_log(self._raw(self._encode(feature_frame(X))), self.bias_factor_)

    def save(self, path: str | Path) -> Path:
        """Write ``trees.json`` (the exported trees) and ``metadata.json`` into the folder ``path``."""
        payload = {
            "params": self.get_params(),
            "feature_names": self.feature_names_,
            "categorical_levels": self.categorical_levels_,
            "bias_factor": self.bias_factor_,
            "extra": getattr(self, "metadata_", {}),
        }
        folder = write_metadata(Path(path), self.kind, payload)
        trees = {"init": self.init_, "trees": [{k: v.tolist() for k, v in t.items()} for t in self.trees_]}
        (folder / "trees.json").write_text(json.dumps(trees), encoding="utf-8")
        return folder

    @classmethod
    def load(cls, path: str | Path) -> BaselineGBR:
        """Read a folder written by :meth:`save`."""
        data = read_metadata(Path(path), cls.kind)
        model = cls(**data["params"])
        model.feature_names_ = list(data["feature_names"])
        model.categorical_levels_ = {k: list(v) for k, v in data["categorical_levels"].items()}
        model.bias_factor_ = float(data["bias_factor"])
        model.metadata_ = data.get("extra", {})
        trees = json.loads(read_text(Path(path), "trees.json"))
        model.init_ = float(trees["init"])
        model.trees_ = [_tree_arrays(t) for t in trees["trees"]]
        return model


def _check_features(matrix: np.ndarray, names: list[str]) -> None:
    """Every training value finite in float32, as scikit-learn requires of its trees' inputs."""
    with np.errstate(over="ignore"):
        finite = np.isfinite(matrix.astype(np.float32))
    if not finite.all():
        column = int(np.flatnonzero(~finite.all(axis=0))[0])
        raise ClvlensError(f"baseline GBR: feature {names[column]!r} has missing or infinite values, or values "
                           "beyond float32's range, in the training rows")


def _export_tree(tree: Any) -> dict[str, np.ndarray]:
    return _tree_arrays({
        "children_left": tree.children_left,
        "children_right": tree.children_right,
        "feature": tree.feature,
        "threshold": tree.threshold,
        "value": np.asarray(tree.value).reshape(tree.node_count, -1)[:, 0],
    })


def _tree_arrays(tree: dict[str, Any]) -> dict[str, np.ndarray]:
    return {
        "children_left": np.asarray(tree["children_left"], dtype=np.int64),
        "children_right": np.asarray(tree["children_right"], dtype=np.int64),
        "feature": np.maximum(np.asarray(tree["feature"], dtype=np.int64), 0),
        "threshold": np.asarray(tree["threshold"], dtype=np.float64),
        "value": np.asarray(tree["value"], dtype=np.float64),
    }


def _depth(left: np.ndarray, right: np.ndarray) -> int:
    """Depth of a tree (0: a single leaf)."""
    deepest, stack = 0, [(0, 0)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if left[node] != -1:
            stack += [(left[node], depth + 1), (right[node], depth + 1)]
    return deepest


class _Layout:
    """The trees as complete binary trees of one depth, in (trees x nodes) arrays (see the module docstring)."""

    def __init__(self, trees: list[dict[str, np.ndarray]], depth: int) -> None:
        self.depth = depth
        self.width = 2 ** (depth + 1) - 1
        self.feature = np.zeros((len(trees), self.width), dtype=np.intp)
        self.threshold = np.full((len(trees), self.width), np.inf)
        self.value = np.zeros((len(trees), self.width))
        for index, tree in enumerate(trees):
            self._place(index, tree)

    @classmethod
    def of(cls, trees: list[dict[str, np.ndarray]]) -> _Layout | None:
        """The layout of ``trees``, or None when they are too deep to lay out (MAX_LAYOUT_DEPTH)."""
        depth = max((_depth(t["children_left"], t["children_right"]) for t in trees), default=0)
        return cls(trees, depth) if depth <= MAX_LAYOUT_DEPTH else None

    def _place(self, index: int, tree: dict[str, np.ndarray]) -> None:
        left, right = tree["children_left"], tree["children_right"]
        stack = [(0, 0)]  # (node in the tree, position in the complete layout)
        while stack:
            node, position = stack.pop()
            if left[node] == -1:  # a leaf: its value fills every position below it (threshold stays +inf)
                below = [position]
                while below:
                    spot = below.pop()
                    self.value[index, spot] = tree["value"][node]
                    if 2 * spot + 1 < self.width:
                        below += [2 * spot + 1, 2 * spot + 2]
                continue
            self.feature[index, position] = tree["feature"][node]
            self.threshold[index, position] = tree["threshold"][node]
            stack += [(left[node], 2 * position + 1), (right[node], 2 * position + 2)]

    def leaf_values(self, x: np.ndarray) -> np.ndarray:
        """The leaf value each tree gives each row: (trees x rows)."""
        count = self.feature.shape[0]
        offsets = (np.arange(count) * self.width)[:, None]
        feature, threshold, value = self.feature.ravel(), self.threshold.ravel(), self.value.ravel()
        out = np.empty((count, x.shape[0]))
        for start in range(0, x.shape[0], WALK_BLOCK):
            block = x[start:start + WALK_BLOCK]
            rows = block.shape[0]
            by_feature = np.ascontiguousarray(block.T).ravel()  # feature f of row r at f * rows + r
            row_index = np.arange(rows)[None, :]
            position = np.zeros((count, rows), dtype=np.intp)
            for _ in range(self.depth):
                flat = position + offsets
                goes_left = by_feature.take(feature.take(flat) * rows + row_index) <= threshold.take(flat)
                position = 2 * position + 2 - goes_left
            out[:, start:start + rows] = value.take(position + offsets)
        return out


def _walk_each(trees: list[dict[str, np.ndarray]], x: np.ndarray) -> list[np.ndarray]:
    """The leaf value each tree gives each row, one tree at a time (for ensembles too deep to lay out)."""
    rows = np.arange(x.shape[0])
    out = []
    for tree in trees:
        left, right = tree["children_left"], tree["children_right"]
        feature, threshold = tree["feature"], tree["threshold"]
        node = np.zeros(x.shape[0], dtype=np.int64)
        active = left[node] != -1
        while active.any():
            idx = rows[active]
            n = node[idx]
            node[idx] = np.where(x[idx, feature[n]] <= threshold[n], left[n], right[n])
            active = left[node] != -1
        out.append(tree["value"][node])
    return out
