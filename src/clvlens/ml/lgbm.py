"""LightGBM LTV models: one regression on log1p(value), and a two-part (buy again x value if buying) model.

``n_jobs`` is LightGBM's thread count; -1 uses every core for inputs of at least
:data:`~clvlens.ml._common.PARALLEL_ROWS` rows (training and prediction alike) and one thread below.

Both follow scikit-learn's conventions (parameters in ``__init__``, ``fit`` returns ``self``, fitted attributes end
in ``_``) and are deterministic for a given ``random_state`` (LightGBM's ``deterministic`` mode, row-wise
histograms). ``predict`` returns currency. ``save(path)`` writes a folder with the booster(s) in LightGBM's own
text format and ``metadata.json``; ``load(path)`` reads it back and predicts exactly the same.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from clvlens.errors import ClvlensError
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
    thread_count,
    write_metadata,
)
from clvlens.ml._forest import CompiledForest
from clvlens.ml._lightgbm_import import import_lightgbm

#: rows per block when a prediction is spread over the cores
PREDICT_BLOCK = 50_000


def preload_learners() -> None:
    """Import LightGBM on a daemon thread.

    Importing LightGBM pulls in pandas, and scikit-learn with SciPy's statistics unless the command line asked
    for it without them (:mod:`clvlens.ml._lightgbm_import`): up to a second of one core, paid by whichever stage
    first trains a model. A run starts this before it loads the data, whose reading and
    summary leave the second core idle, so that the import is done by the time a model needs it. Importing is
    safe from two threads at once (the second waits for the module the first is loading); a missing package is
    left for the stage that needs it to report. (The baseline GBR grows its own trees, see
    :mod:`clvlens.ml._exact_boosting`, so scikit-learn's gradient boosting is not imported for it.)
    """

    def work() -> None:
        with contextlib.suppress(ImportError):  # a missing LightGBM is reported by the stage that needs it
            import_lightgbm()

    threading.Thread(target=work, name="clvlens-imports", daemon=True).start()


def predictor(booster: Any) -> Callable[[np.ndarray], np.ndarray]:
    """``booster.predict`` on one thread, as float: by :class:`~clvlens.ml._forest.CompiledForest` (the same
    numbers, a block of rows through one tree at a time) where it walks the booster's trees, else LightGBM's."""
    forest = CompiledForest.of(booster)
    if forest is not None:
        return forest.predict
    return lambda matrix: np.asarray(booster.predict(matrix, num_threads=1), dtype=float)


def _lightgbm() -> Any:
    try:
        return import_lightgbm()
    except ImportError:  # pragma: no cover - depends on the environment
        raise ClvlensError("model: LightGBM is not installed; pip install lightgbm") from None


class _BoosterModel(ParamsMixin):
    """Shared settings and helpers of the LightGBM models."""

    kind = ""

    def __init__(
        self,
        n_estimators: int = 200,
        learning_rate: float = 0.03,
        num_leaves: int = 7,
        min_child_samples: int = 50,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        reg_lambda: float = 1.0,
        random_state: int = 0,
        n_jobs: int = 1,
        bias_correction: str = "ratio",
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.bias_correction = bias_correction

    def _params(self, objective: str, rows: int = 0) -> dict[str, Any]:
        if int(self.n_estimators) < 1:
            raise ClvlensError(f"n_estimators: {self.n_estimators!r} must be at least 1")
        return {
            "objective": objective,
            "learning_rate": float(self.learning_rate),
            "num_leaves": int(self.num_leaves),
            "min_data_in_leaf": int(self.min_child_samples),
            "bagging_fraction": float(self.subsample),
            "bagging_freq": 1 if self.subsample < 1 else 0,
            "feature_fraction": float(self.colsample_bytree),
            "lambda_l2": float(self.reg_lambda),
            "seed": int(self.random_state),
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": thread_count(int(self.n_jobs), rows),
            "verbosity": -1,
        }

    def _matrix_fit(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        frame = feature_frame(X)
        self.feature_names_ = list(frame.columns)
        self.categorical_levels_ = learn_levels(frame)
        matrix = encode(frame, self.feature_names_, self.categorical_levels_, np.nan)
        return matrix, check_target(y, matrix.shape[0])

    def _matrix(self, X: Any) -> np.ndarray:
        if not hasattr(self, "feature_names_"):
            raise ClvlensError(f"{type(self).__name__}: model is not fitted; call fit() or load() first")
        return encode(feature_frame(X), self.feature_names_, self.categorical_levels_, np.nan)

    def _train(self, objective: str, matrix: np.ndarray, target: np.ndarray) -> Any:
        return self._train_fitted(objective, matrix, target, fitted=False)[0]

    def _train_fitted(
        self, objective: str, matrix: np.ndarray, target: np.ndarray, *, fitted: bool = True
    ) -> tuple[Any, np.ndarray | None]:
        """The trained booster and, with ``fitted``, its raw prediction of the training rows.

        That prediction is LightGBM's own running score of the training rows (every row, bagged out or not),
        read once training ends: the same numbers as predicting the training matrix again (bit for bit,
        measured on the 100k simulated shop), without walking every tree for every row a second time. The
        booster is then turned into a plain model exactly as ``lightgbm.train`` does by default (its text
        form read back, the training data freed).
        """
        lgb = _lightgbm()
        categorical = [i for i, n in enumerate(self.feature_names_) if n in self.categorical_levels_]
        data = lgb.Dataset(
            matrix, label=target, feature_name=self.feature_names_, categorical_feature=categorical,
            params={"verbosity": -1, "min_data_in_bin": 1},
        )
        booster = lgb.train(self._params(objective, matrix.shape[0]), data, num_boost_round=int(self.n_estimators),
                            keep_training_booster=fitted)
        if not fitted:
            return booster, None
        captured: list[np.ndarray] = []

        def keep(predictions: np.ndarray, _: Any) -> tuple[str, float, bool]:
            captured.append(np.array(predictions, dtype=float))
            return "fitted", 0.0, False

        booster.eval_train(keep)
        booster.model_from_string(booster.model_to_string()).free_dataset()
        return booster, captured[0]

    def _predict(self, booster: Any, matrix: np.ndarray, threads: int | None = None) -> np.ndarray:
        """The booster's raw prediction; a large matrix (n_jobs -1) is cut into blocks predicted on every core.

        Blocks on Python threads (LightGBM leaves Python's lock while it predicts), each one LightGBM thread,
        rather than LightGBM's own threads: on a busy machine a thread that waits for its partner at every step
        makes two threads slower than one, while independent blocks simply finish when they can.
        """
        threads = thread_count(int(self.n_jobs), matrix.shape[0]) if threads is None else threads
        predict = predictor(booster)
        if threads <= 1:
            return predict(matrix)
        blocks = np.array_split(matrix, max(threads, math.ceil(matrix.shape[0] / PREDICT_BLOCK)))
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="lightgbm") as pool:
            parts = list(pool.map(predict, blocks))
        return np.concatenate(parts)

    def _base_metadata(self) -> dict[str, Any]:
        return {
            "params": self.get_params(),
            "feature_names": self.feature_names_,
            "categorical_levels": self.categorical_levels_,
            "extra": getattr(self, "metadata_", {}),
        }

    def _restore(self, data: dict[str, Any]) -> None:
        self.set_params(**data["params"])
        self.feature_names_ = list(data["feature_names"])
        self.categorical_levels_ = {k: list(v) for k, v in data["categorical_levels"].items()}
        self.metadata_ = data.get("extra", {})

    def feature_importances(self) -> dict[str, float]:
        """Total gain of each feature (summed over the model's boosters)."""
        total: dict[str, float] = dict.fromkeys(self.feature_names_, 0.0)
        for booster in self._boosters():
            for name, gain in zip(self.feature_names_, booster.feature_importance("gain"), strict=True):
                total[name] += float(gain)
        return total

    def _boosters(self) -> list[Any]:  # pragma: no cover - overridden
        return []


class LightGBMLTV(_BoosterModel):
    """Gradient-boosted regression of log1p(customer value); predictions are expm1 with a bias correction.

    ``bias_correction``: "ratio" (the default: scales exp(prediction) so the in-sample total of 1 + value
    matches; robust when most labels are 0), "smearing" (Duan's factor mean(exp(residual)), which a few huge
    values blow up on zero-heavy labels) or "none" (a median-like, strongly low prediction).
    Fitted: ``booster_``, ``feature_names_``, ``categorical_levels_``, ``bias_factor_``.
    """

    kind = "lightgbm"

    def fit(self, X: Any, y: Any) -> LightGBMLTV:
        """Fit on a feature table (Polars/pandas; string columns are categorical) and values in currency."""
        matrix, target = self._matrix_fit(X, y)
        log_y = np.log1p(target)
        self.booster_, fitted = self._train_fitted("regression", matrix, log_y)
        self.bias_factor_ = bias_factor(self.bias_correction, fitted, log_y)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Expected value in currency over the label horizon, one per row."""
        matrix = self._matrix(X)
        return from_log(self._predict(self.booster_, matrix), self.bias_factor_)

    def _boosters(self) -> list[Any]:
        return [self.booster_]

    def save(self, path: str | Path) -> Path:
        """Write ``model.txt`` (LightGBM text format) and ``metadata.json`` into the folder ``path``."""
        folder = write_metadata(Path(path), self.kind, {**self._base_metadata(), "bias_factor": self.bias_factor_})
        self.booster_.save_model(str(folder / "model.txt"))
        return folder

    @classmethod
    def load(cls, path: str | Path) -> LightGBMLTV:
        """Read a folder written by :meth:`save`."""
        data = read_metadata(Path(path), cls.kind)
        model = cls()
        model._restore(data)
        model.bias_factor_ = float(data["bias_factor"])
        model.booster_ = _lightgbm().Booster(model_str=read_text(Path(path), "model.txt"))
        return model


class TwoPartLTV(_BoosterModel):
    """P(buy again in the horizon) x E[value | buys], both LightGBM.

    The classifier is trained on value > 0; the regressor on log1p(value) of the buyers only, with the bias
    correction (default "smearing", Duan's factor, well suited to the positive values) computed on them.
    Fitted: ``classifier_`` (None when every customer buys, see ``constant_probability_``), ``regressor_``,
    ``bias_factor_``.
    """

    kind = "two_part"

    def __init__(
        self,
        n_estimators: int = 200,
        learning_rate: float = 0.03,
        num_leaves: int = 7,
        min_child_samples: int = 50,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        reg_lambda: float = 1.0,
        random_state: int = 0,
        n_jobs: int = 1,
        bias_correction: str = "smearing",
    ) -> None:
        super().__init__(n_estimators, learning_rate, num_leaves, min_child_samples, subsample, colsample_bytree,
                         reg_lambda, random_state, n_jobs, bias_correction)

    def fit(self, X: Any, y: Any) -> TwoPartLTV:
        """Fit both parts on a feature table and values in currency."""
        matrix, target = self._matrix_fit(X, y)
        buys = target > 0
        if buys.sum() < 2:
            raise ClvlensError("y: fewer than two customers buy in the label window; the two-part model needs some")
        self.constant_probability_ = float(buys.mean()) if buys.all() else None
        self.classifier_ = None if buys.all() else self._train("binary", matrix, buys.astype(float))
        log_y = np.log1p(target[buys])
        self.regressor_, fitted = self._train_fitted("regression", matrix[buys], log_y)
        self.bias_factor_ = bias_factor(self.bias_correction, fitted, log_y)
        return self

    def predict_proba_buy(self, X: Any) -> np.ndarray:
        """P(the customer buys in the label window)."""
        return self._proba_buy(self._matrix(X))

    def predict_value_if_buy(self, X: Any) -> np.ndarray:
        """E[value | the customer buys] in currency."""
        return from_log(self._predict(self.regressor_, self._matrix(X)), self.bias_factor_)

    def predict(self, X: Any) -> np.ndarray:
        """P(buy) x E[value | buy], in currency."""
        return self.predict_with_probability(X)[0]

    def predict_with_probability(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """``predict(X)`` and ``predict_proba_buy(X)`` at once (each booster predicts once)."""
        matrix = self._matrix(X)
        probability = self._proba_buy(matrix)
        return probability * from_log(self._predict(self.regressor_, matrix), self.bias_factor_), probability

    def _proba_buy(self, matrix: np.ndarray) -> np.ndarray:
        if self.classifier_ is None:
            return np.full(matrix.shape[0], float(self.constant_probability_ or 1.0))
        return np.asarray(self._predict(self.classifier_, matrix), dtype=float)

    def _boosters(self) -> list[Any]:
        return [b for b in (self.classifier_, self.regressor_) if b is not None]

    def save(self, path: str | Path) -> Path:
        """Write ``classifier.txt``/``regressor.txt`` (LightGBM text format) and ``metadata.json``."""
        payload = {
            **self._base_metadata(),
            "bias_factor": self.bias_factor_,
            "constant_probability": self.constant_probability_,
        }
        folder = write_metadata(Path(path), self.kind, payload)
        if self.classifier_ is not None:
            self.classifier_.save_model(str(folder / "classifier.txt"))
        self.regressor_.save_model(str(folder / "regressor.txt"))
        return folder

    @classmethod
    def load(cls, path: str | Path) -> TwoPartLTV:
        """Read a folder written by :meth:`save`."""
        data = read_metadata(Path(path), cls.kind)
        lgb = _lightgbm()
        model = cls()
        model._restore(data)
        model.bias_factor_ = float(data["bias_factor"])
        model.constant_probability_ = data.get("constant_probability")
        model.classifier_ = (
            None if model.constant_probability_ is not None
            else lgb.Booster(model_str=read_text(Path(path), "classifier.txt"))
        )
        model.regressor_ = lgb.Booster(model_str=read_text(Path(path), "regressor.txt"))
        return model
