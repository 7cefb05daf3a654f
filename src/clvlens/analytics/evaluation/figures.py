"""One scorecard row's figures and their sampling errors.

The scorecard scores a sample of customers; each figure comes with a standard error from the random-group method
(Wolter 2007, *Introduction to Variance Estimation*, 2nd ed., ch. 2): the sample is split into G random groups of
about equal size (by the customer-id hash, so the same groups every run), the figure is computed on each group
alone, and

    se = sqrt( sum_g (f_g - mean f)^2 / (G (G - 1)) )

(mean f over the groups) is taken as the standard error of the figure on the whole sample. Deviations are taken
from the groups' mean, not the whole-sample figure, so that a small-sample bias the groups share (a top-decile
share on a few hundred customers) does not count as spread. It costs one more pass over the customers, whatever
the figure, and needs no formula per metric. Totals are scaled to the whole sample (group total x customers /
group customers). The error covers which customers were scored; the models are held as fitted.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from clvlens.analytics.evaluation import metrics

#: random groups for the standard errors (fewer for small samples: at least MIN_GROUP_SIZE customers a group)
GROUPS = 20
MIN_GROUP_SIZE = 100
TOTALS = ("predicted_total", "actual_total")


def group_count(customers: int) -> int:
    """The number of random groups for a sample of this size (2 to GROUPS)."""
    return int(min(GROUPS, max(2, customers // MIN_GROUP_SIZE)))


def row_figures(
    value: np.ndarray,
    purchases: np.ndarray | None,
    active: np.ndarray | None,
    alive: np.ndarray | None,
    actual_value: np.ndarray,
    actual_purchases: np.ndarray,
) -> dict[str, float]:
    """Every metric of a contender: value, purchase and health figures."""
    out = metrics.value_metrics(value, actual_value)
    out.update(metrics.purchase_metrics(purchases, actual_purchases))
    out.update(health_figures(value, purchases, active, alive, actual_purchases > 0))
    return out


def health_figures(value: np.ndarray | None, purchases: np.ndarray | None, active: np.ndarray | None,
                   alive: np.ndarray | None, bought: np.ndarray) -> dict[str, float]:
    """Health metrics of a contender: of its P(a purchase in the holdout) when it has one, else the AUC of its
    ranking by predicted purchases (or value) with no Brier score; and the AUC of its P(alive) when it has one."""
    if active is not None:
        out = metrics.activity_metrics(active, bought)
    else:
        ranking = purchases if purchases is not None else value
        out = metrics.activity_metrics(ranking, bought, probability=False)
        out["health_mean"] = math.nan
    out["p_alive_auc"] = metrics.auc(alive, bought) if alive is not None else math.nan
    return out


def standard_errors(compute: Any, arrays: dict[str, np.ndarray | None], groups: np.ndarray) -> dict[str, float]:
    """Random-group standard error of every figure ``compute(**arrays)`` returns (NaN where fewer than two groups
    give the figure). ``groups`` holds each customer's group 0..G-1."""
    count = int(groups.max()) + 1 if groups.size else 0
    if count < 2:
        return {}
    order = np.argsort(groups, kind="stable")
    bounds = np.searchsorted(groups[order], np.arange(count + 1))
    per_group: list[dict[str, float]] = []
    for g in range(count):
        rows = order[bounds[g]:bounds[g + 1]]
        if rows.size < 2:
            continue
        figures = compute(**{k: (None if v is None else v[rows]) for k, v in arrays.items()})
        for name in TOTALS:
            if name in figures:
                figures[name] *= groups.size / rows.size
        per_group.append(figures)
    out: dict[str, float] = {}
    for name in per_group[0] if per_group else ():
        values = np.array([f[name] for f in per_group], dtype=float)
        values = values[np.isfinite(values)]
        g = values.size
        out[name] = float(np.sqrt(np.sum((values - values.mean()) ** 2) / (g * (g - 1)))) if g >= 2 else math.nan
    return out


def with_errors(figures: dict[str, float], errors: dict[str, float], names: tuple[str, ...]) -> dict[str, float]:
    """``figures`` plus a ``<name>_se`` for each name (NaN where the figure or its error is missing)."""
    out = dict(figures)
    for name in names:
        value = figures.get(name, math.nan)
        error = errors.get(name, math.nan)
        out[f"{name}_se"] = error if value is not None and math.isfinite(value) else math.nan
    return out
