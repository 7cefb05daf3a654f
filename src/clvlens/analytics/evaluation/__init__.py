"""Model evaluation: the scorecard that scores BTYD, machine-learned and naive CLV models on one holdout.

:func:`scorecard` returns a :class:`Scorecard` (table, deciles, gains, predictions); :func:`plot_gains` and
:func:`plot_calibration` draw it. The metric functions (:mod:`.metrics`) are usable on their own.
"""

from clvlens.analytics.evaluation.metrics import (
    captured_share,
    decile_table,
    gain_curve,
    gini,
    normalized_gini,
    spearman,
)
from clvlens.analytics.evaluation.plots import plot_calibration, plot_gains
from clvlens.analytics.evaluation.scorecard import DEFAULT_MODELS, Scorecard, scorecard

__all__ = [
    "DEFAULT_MODELS",
    "Scorecard",
    "captured_share",
    "decile_table",
    "gain_curve",
    "gini",
    "normalized_gini",
    "plot_calibration",
    "plot_gains",
    "scorecard",
    "spearman",
]
