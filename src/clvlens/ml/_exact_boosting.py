"""Gradient boosting of exact regression trees on squared error, grown a level at a time for every node at once.

The algorithm is Friedman's gradient boosting (Friedman 2001, "Greedy function approximation: a gradient boosting
machine", Algorithm 2, LS_Boost) with the least-squares trees of CART (Breiman et al. 1984): start from the mean
of the target; at each stage fit a tree of at most ``max_depth`` levels to the residuals and add ``learning_rate``
times its leaf means. Every split is the exact best one: all cuts between two distinct feature values are scored
with Friedman's improvement criterion (2001, eq. 35), ``(n_r * sum_l - n_l * sum_r)^2 / (n_l * n_r)``, the form
scikit-learn's ``friedman_mse`` maximises, and a node is split as scikit-learn's ``GradientBoostingRegressor``
(``subsample=1``, the default ``min_samples_*``, ``max_features=None``) splits it:

- features are compared in float32 (the inputs are rounded to it) and two values within 1e-7 of each other are not
  cut between; the threshold is the midpoint of the two values around the cut, and a row goes left when its value
  is at most the threshold;
- among cuts of equal score the first (lowest threshold) wins; a node whose impurity is at most machine epsilon, or
  that has no cut, is a leaf.

So the trees are scikit-learn's up to floating-point rounding, except where two cuts score the same in exact
arithmetic: there scikit-learn picks by its random feature order and by the rounding of sums taken in its sort's
order, and here the lower feature index, then the lower cut, wins. Two such cases occur in real logs. Two features
can split the training rows identically (``revenue_1m`` and ``revenue_3m`` at the same threshold, in a node of
customers who bought nothing after their first month): the training rows get the same predictions, and a new row
differs only where the two features disagree on it. In deep trees, a small node can hold customers of equal
residual, and cuts isolating different ones score the same: the fits then go on differently and are equally good
(tests/ml/test_exact_boosting.py).

Why not scikit-learn itself: its tree builder sorts every feature at every node of every tree (200 trees of depth
3 on 15,000 rows: 2-4 s of one core). Here each feature's distinct values are found once, every row keeps its
rank among them, and a level of a tree is scored from sums per (node, feature, value) bin, counted over all rows
and features in one pass (``numpy.bincount``), then running sums over the non-empty bins: array arithmetic over
all nodes and features at once, no sort after the first. The first level's bins, where every row is in one node,
are the same for every tree and built once. bench/bench_baseline_trees.py measures the two.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: values closer than this are one value (scikit-learn's FEATURE_THRESHOLD, compared in float64)
SAME_VALUE = 1e-7
#: the most bins a level may count (8 bytes each, 128 MiB): see :func:`widest_level_bins`
MAX_LEVEL_BINS = 2**24
_EPSILON = float(np.finfo(np.float64).eps)


@dataclass
class BoostedTrees:
    """The fitted ensemble: ``init`` (the target's mean) and one dict of node arrays per tree (children_left,
    children_right, feature, threshold, value; nodes numbered depth first, a leaf's children are -1)."""

    init: float
    trees: list[dict[str, np.ndarray]]


def widest_level_bins(rows: int, features: int, max_depth: int) -> int:
    """At most how many bins the deepest level counts: one set per open node (2^(max_depth - 1) of them) and one
    for the rows of nodes already finished, each as large as the rows x features it can hold."""
    return (2 ** (max_depth - 1) + 1) * rows * features


def boost_exact_trees(
    features: np.ndarray, target: np.ndarray, *, n_estimators: int, learning_rate: float, max_depth: int,
) -> BoostedTrees:
    """Fit ``n_estimators`` trees to ``target`` (float64, one per row) from ``features`` (rows x features, finite,
    within float32's range); see the module docstring for the algorithm. The caller keeps
    :func:`widest_level_bins` within :data:`MAX_LEVEL_BINS`, which bounds the memory."""
    x = np.asarray(features, dtype=np.float32).astype(np.float64)
    y = np.asarray(target, dtype=np.float64)
    init = float(np.average(y, weights=np.ones_like(y)))  # scikit-learn's mean: a weighted average of weight 1
    prediction = np.full(y.shape[0], init)
    grower = _LevelGrower(x, max_depth)
    trees = []
    for _ in range(n_estimators):
        tree, leaf_of_row = grower.grow(y - prediction)
        prediction += learning_rate * tree["value"][leaf_of_row]
        trees.append(tree)
    return BoostedTrees(init, trees)


class _LevelGrower:
    """Grows trees on fixed rows: each feature's distinct values and every row's rank among them are computed once
    and reused by every tree."""

    def __init__(self, x: np.ndarray, max_depth: int) -> None:
        self.rows, self.n_features = x.shape
        self.max_depth = max_depth
        self.x = x
        ranked = [np.unique(x[:, f], return_inverse=True) for f in range(self.n_features)]
        sizes = [values.size for values, _ in ranked]
        # bins of one node: every feature's distinct values in turn; a row's bin for feature f in the first node
        self.values = np.concatenate([values for values, _ in ranked])
        self.feature_of_bin = np.repeat(np.arange(self.n_features), sizes)
        self.bins_per_node = int(self.values.size)
        first_bin = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        self.row_bins = np.stack([first_bin[f] + np.ravel(ranked[f][1]) for f in range(self.n_features)])
        self.row_bins = self.row_bins.astype(np.int64 if self.bins_per_node * 2**max_depth >= 2**31 else np.int32)
        # every tree's first level holds every row in one node: its bins are the same for all trees
        self.root = _Level(self, np.zeros(self.rows, dtype=np.int64), (0,))

    def grow(self, residual: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """One tree fitted to ``residual``, and the node (index in the returned arrays) each row ends in."""
        # nodes are named by their place in a complete binary tree (children of p: 2p+1, 2p+2) while growing
        place = np.zeros(self.rows, dtype=np.int64)
        splits: dict[int, tuple[int, float]] = {}
        means: dict[int, float] = {}
        growing = [0]
        for depth in range(self.max_depth + 1):
            size = 2 ** (depth + 1) - 1
            counts = np.bincount(place, minlength=size)[growing].astype(np.float64)
            sums = np.bincount(place, weights=residual, minlength=size)[growing]
            squares = np.bincount(place, weights=residual * residual, minlength=size)[growing]
            node_mean = sums / counts
            impurity = squares / counts - node_mean * node_mean
            means.update(zip(growing, node_mean.tolist(), strict=True))
            open_nodes = tuple(node for node, count, spread in zip(growing, counts, impurity, strict=True)
                               if depth < self.max_depth and count >= 2 and spread > _EPSILON)
            if not open_nodes:
                break
            level = self.root if depth == 0 else _Level(self, place, open_nodes)
            found = level.best_cuts(residual)
            if not found:
                break
            splits.update(found)
            place = self._partition(place, found)
            growing = [child for node in found for child in (2 * node + 1, 2 * node + 2)]
        tree, node_of_place = _number_depth_first(splits, means)
        return tree, node_of_place[place]

    def _partition(self, place: np.ndarray, found: dict[int, tuple[int, float]]) -> np.ndarray:
        place = place.copy()
        for node, (feature, threshold) in found.items():
            rows = np.flatnonzero(place == node)
            place[rows] = np.where(self.x[rows, feature] <= threshold, 2 * node + 1, 2 * node + 2)
        return place


class _Level:
    """The cuts of one level of one tree's nodes, and how to score them for any residual.

    Every (open node, feature, distinct value) is a bin; a cut lies between two consecutive non-empty bins of a
    (node, feature), and its left side is the running count and sum up to it. Everything but the sums depends only
    on which rows are in which node (so the first level's is built once, see :class:`_LevelGrower`)."""

    def __init__(self, grower: _LevelGrower, place: np.ndarray, open_nodes: tuple[int, ...]) -> None:
        self.open_nodes, self.n_features = open_nodes, grower.n_features
        slots = len(open_nodes)
        slot_of_node = np.full(2 * max(open_nodes) + 3, slots)  # rows of nodes not split here: one bin set after
        slot_of_node[list(open_nodes)] = np.arange(slots)
        offset = (slot_of_node[place] * grower.bins_per_node).astype(grower.row_bins.dtype)
        self.key = (grower.row_bins + offset).ravel()
        self.total_bins = (slots + 1) * grower.bins_per_node
        counts = np.bincount(self.key, minlength=self.total_bins)[: slots * grower.bins_per_node]
        self.filled = np.flatnonzero(counts)  # in (node, feature, value) order
        node_slot = self.filled // grower.bins_per_node
        bin_in_node = self.filled - node_slot * grower.bins_per_node
        feature = grower.feature_of_bin[bin_in_node]
        values = grower.values[bin_in_node]
        group = node_slot * self.n_features + feature  # one run of bins per (node, feature)
        group_start = np.searchsorted(group, np.arange(slots * self.n_features))
        running_count = np.cumsum(counts[self.filled])
        self.before = group_start - 1
        self.has_before = self.before >= 0
        self.last = np.append(group_start[1:], self.filled.size) - 1
        count_before = np.where(self.has_before, running_count[self.before], 0)
        node_count = running_count[self.last] - count_before
        # the cut after bin k: the next bin is of the same group and of a value more than SAME_VALUE above
        self.cuts = np.flatnonzero((group[1:] == group[:-1]) & (values[1:] > values[:-1] + SAME_VALUE))
        self.cut_group = group[self.cuts]
        self.left_count = (running_count[self.cuts] - count_before[self.cut_group]).astype(np.float64)
        self.right_count = node_count[self.cut_group] - self.left_count
        self.cut_feature = feature[self.cuts]
        # the midpoint of two float32 values is exact in float64, so it lies strictly between them
        self.threshold = values[self.cuts] / 2.0 + values[self.cuts + 1] / 2.0
        self.bounds = np.searchsorted(self.cut_group, np.arange(slots * self.n_features + 1))

    def best_cuts(self, residual: np.ndarray) -> dict[int, tuple[int, float]]:
        """The best (feature, threshold) of every open node that has a cut."""
        sums = np.bincount(self.key, weights=np.tile(residual, self.n_features), minlength=self.total_bins)
        running_sum = np.cumsum(sums[self.filled])
        sum_before = np.where(self.has_before, running_sum[self.before], 0.0)
        node_sum = running_sum[self.last] - sum_before
        left_sum = running_sum[self.cuts] - sum_before[self.cut_group]
        difference = self.right_count * left_sum - self.left_count * (node_sum[self.cut_group] - left_sum)
        score = difference * difference / (self.left_count * self.right_count)
        found: dict[int, tuple[int, float]] = {}
        for index, node in enumerate(self.open_nodes):
            best, chosen = -np.inf, -1
            for f in range(self.n_features):  # equal scores: the lower feature index, then the lower cut
                low, high = self.bounds[index * self.n_features + f], self.bounds[index * self.n_features + f + 1]
                if high > low:
                    top = low + int(np.argmax(score[low:high]))
                    if score[top] > best:
                        best, chosen = score[top], top
            if chosen >= 0:
                found[node] = (int(self.cut_feature[chosen]), float(self.threshold[chosen]))
        return found


def _number_depth_first(
    splits: dict[int, tuple[int, float]], means: dict[int, float],
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The tree's node arrays numbered depth first, left before right (as scikit-learn numbers them), and the node
    number of every place of the complete layout that holds a node."""
    left, right, feature, threshold, value = [], [], [], [], []
    node_of_place = np.full(max(means) + 1, -1, dtype=np.int64)

    def add(place: int) -> int:
        number = len(value)
        node_of_place[place] = number
        left.append(-1)
        right.append(-1)
        value.append(means[place])
        if place in splits:
            feature.append(splits[place][0])
            threshold.append(splits[place][1])
            left[number] = add(2 * place + 1)
            right[number] = add(2 * place + 2)
        else:
            feature.append(-2)
            threshold.append(-2.0)
        return number

    add(0)
    tree = {
        "children_left": np.asarray(left, dtype=np.int64),
        "children_right": np.asarray(right, dtype=np.int64),
        "feature": np.asarray(feature, dtype=np.int64),
        "threshold": np.asarray(threshold, dtype=np.float64),
        "value": np.asarray(value, dtype=np.float64),
    }
    return tree, node_of_place
