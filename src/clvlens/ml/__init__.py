"""Machine-learned customer lifetime value: leakage-free features at a cut-off, LightGBM and baseline models.

- :func:`ltv_dataset` / :func:`time_split`: features from transactions up to a cut-off and the value label of
  the horizon after it; strict time-based train/test splits.
- :class:`LightGBMLTV`, :class:`TwoPartLTV`, :class:`BaselineGBR`: scikit-learn-style estimators predicting value
  in currency, saved as LightGBM text / JSON plus ``metadata.json`` (never pickle).
- :func:`train_ltv` / :func:`predict_ltv`: the high-level calls used by the CLI and the pipeline.
- :class:`ActivityClassifier` / :func:`train_activity`: P(at least one purchase in the next window), a LightGBM
  classifier trained on a time split (the health step's learned score).

LightGBM and scikit-learn are imported only when a model is fitted or loaded.
"""

from clvlens.ml.activity import ActivityClassifier, TrainedActivity, load_activity, train_activity
from clvlens.ml.api import MODELS, TrainedLTV, default_cutoff, load_ltv, make_estimator, predict_ltv, train_ltv
from clvlens.ml.baseline import BASELINE_FEATURES, BaselineGBR
from clvlens.ml.features import (
    FeatureCache,
    FeatureSpec,
    LTVDataset,
    build_features,
    learn_spec,
    ltv_dataset,
    time_split,
)
from clvlens.ml.lgbm import LightGBMLTV, TwoPartLTV

__all__ = [
    "BASELINE_FEATURES",
    "MODELS",
    "ActivityClassifier",
    "BaselineGBR",
    "FeatureCache",
    "FeatureSpec",
    "LTVDataset",
    "LightGBMLTV",
    "TrainedActivity",
    "TrainedLTV",
    "TwoPartLTV",
    "build_features",
    "default_cutoff",
    "learn_spec",
    "load_activity",
    "load_ltv",
    "ltv_dataset",
    "make_estimator",
    "predict_ltv",
    "time_split",
    "train_activity",
    "train_ltv",
]
