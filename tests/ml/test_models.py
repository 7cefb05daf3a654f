"""LTV estimators: conventions, determinism, persistence without pickle, and the baseline's tree export."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from clvlens.errors import ClvlensError
from clvlens.ml import BASELINE_FEATURES, BaselineGBR, LightGBMLTV, LTVDataset, TwoPartLTV, time_split


@pytest.fixture(scope="module")
def split(demo_transactions: pl.DataFrame) -> tuple[LTVDataset, LTVDataset]:
    return time_split(demo_transactions, "2023-12-30", "2024-06-30", "6M")


def _make(cls: type, small_params: dict[str, int]) -> object:
    if cls is BaselineGBR:
        return BaselineGBR(n_estimators=30, random_state=3)
    return cls(random_state=3, **small_params)


@pytest.mark.parametrize("cls", [LightGBMLTV, TwoPartLTV, BaselineGBR])
def test_fit_predict_save_load(cls: type, split: tuple[LTVDataset, LTVDataset], small_params: dict[str, int],
                               tmp_path: Path) -> None:
    train, test = split
    model = _make(cls, small_params)
    assert model.fit(train.X, train.y) is model
    predicted = model.predict(test.features)  # a customer_id column is ignored
    assert predicted.shape == (test.features.height,)
    assert np.all(np.isfinite(predicted)) and np.all(predicted >= 0)
    again = _make(cls, small_params).fit(train.X, train.y).predict(test.X)
    np.testing.assert_array_equal(again, predicted)  # deterministic for a seed
    folder = model.save(tmp_path / "model")
    files = sorted(p.name for p in folder.iterdir())
    assert "metadata.json" in files and not any(f.endswith((".pkl", ".pickle", ".joblib")) for f in files)
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["kind"] == cls.kind and meta["feature_names"] == model.feature_names_
    assert {"lightgbm", "scikit-learn", "clvlens"} <= set(meta["versions"])
    loaded = cls.load(folder)
    np.testing.assert_array_equal(loaded.predict(test.X), predicted)
    assert loaded.get_params() == model.get_params()


def test_lightgbm_files_are_lightgbm_text(split: tuple[LTVDataset, LTVDataset], small_params: dict[str, int],
                                          tmp_path: Path) -> None:
    train, _ = split
    folder = TwoPartLTV(**small_params).fit(train.X, train.y).save(tmp_path / "two")
    assert (folder / "classifier.txt").read_text().startswith("tree")
    assert (folder / "regressor.txt").read_text().startswith("tree")
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["categorical_levels"]["region"] == sorted(meta["categorical_levels"]["region"])


def test_ratio_correction_matches_the_training_total(split: tuple[LTVDataset, LTVDataset],
                                                     small_params: dict[str, int]) -> None:
    train, _ = split
    model = LightGBMLTV(bias_correction="ratio", **small_params).fit(train.X, train.y)
    assert model.predict(train.X).sum() == pytest.approx(train.y.sum(), rel=1e-6)
    plain = LightGBMLTV(bias_correction="none", **small_params).fit(train.X, train.y)
    assert plain.bias_factor_ == 1.0 and plain.predict(train.X).sum() < train.y.sum()
    with pytest.raises(ClvlensError, match="bias_correction"):
        LightGBMLTV(bias_correction="magic", **small_params).fit(train.X, train.y)


@pytest.mark.parametrize("correction", ["ratio", "smearing"])
def test_bias_factor_from_training_scores_equals_predicting_the_training_rows(
        split: tuple[LTVDataset, LTVDataset], small_params: dict[str, int], correction: str) -> None:
    """The bias factor is read off LightGBM's running training score instead of predicting the training rows
    again: the same numbers, bagged-out rows included (bagging is on), and the same booster as a plain train."""
    from clvlens.ml._common import bias_factor

    train, _ = split
    model = LightGBMLTV(bias_correction=correction, subsample=0.7, **small_params).fit(train.X, train.y)
    matrix = model._matrix(train.X)
    log_y = np.log1p(train.y.to_numpy() if hasattr(train.y, "to_numpy") else np.asarray(train.y))
    repredicted = model.booster_.predict(matrix, num_threads=1)
    assert model.bias_factor_ == bias_factor(correction, repredicted, log_y)
    plain = LightGBMLTV(bias_correction=correction, subsample=0.7, **small_params)
    plain._matrix_fit(train.X, train.y)
    assert plain._train("regression", matrix, log_y).model_to_string() == model.booster_.model_to_string()
    two = TwoPartLTV(bias_correction=correction, subsample=0.7, **small_params).fit(train.X, train.y)
    buys = log_y > 0
    again = two.regressor_.predict(matrix[buys], num_threads=1)
    assert two.bias_factor_ == bias_factor(correction, again, log_y[buys])


def test_two_part_is_probability_times_value(split: tuple[LTVDataset, LTVDataset],
                                             small_params: dict[str, int]) -> None:
    train, test = split
    model = TwoPartLTV(**small_params).fit(train.X, train.y)
    p = model.predict_proba_buy(test.X)
    assert np.all((p >= 0) & (p <= 1))
    np.testing.assert_allclose(model.predict(test.X), p * model.predict_value_if_buy(test.X))
    value, probability = model.predict_with_probability(test.X)  # one prediction per booster, the same figures
    np.testing.assert_array_equal(value, model.predict(test.X))
    np.testing.assert_array_equal(probability, p)


def test_baseline_is_scikit_learns_model(split: tuple[LTVDataset, LTVDataset]) -> None:
    """The same fit as scikit-learn's on the training customers; on new customers too, except where two features
    split the training customers identically (an exact tie: each implementation picks one, see
    tests/ml/test_exact_boosting.py) and a new customer falls between them."""
    from sklearn.ensemble import GradientBoostingRegressor

    train, test = split
    model = BaselineGBR(n_estimators=25, random_state=1, bias_correction="none").fit(train.X, train.y)
    assert model.feature_names_ == list(BASELINE_FEATURES)
    reference = GradientBoostingRegressor(n_estimators=25, learning_rate=0.05, max_depth=3, random_state=1)
    reference.fit(model._encode(train.X), np.log1p(train.y))

    def expected(X: pl.DataFrame) -> np.ndarray:
        return np.maximum(np.expm1(reference.predict(model._encode(X))), 0.0)

    np.testing.assert_allclose(model.predict(train.X), expected(train.X), rtol=1e-12, atol=1e-9)
    same = np.isclose(model.predict(test.X), expected(test.X), rtol=1e-12, atol=1e-9)
    assert same.mean() > 0.98


def test_unseen_region_and_errors(split: tuple[LTVDataset, LTVDataset], small_params: dict[str, int]) -> None:
    train, test = split
    model = LightGBMLTV(**small_params).fit(train.X, train.y)
    odd = test.X.with_columns(pl.lit("Atlantis").alias("region"))
    assert np.all(np.isfinite(model.predict(odd)))
    with pytest.raises(ClvlensError, match="not fitted"):
        LightGBMLTV().predict(test.X)
    with pytest.raises(ClvlensError, match="y:"):
        LightGBMLTV(**small_params).fit(train.X, -train.y - 1)
    with pytest.raises(ClvlensError, match="missing feature column 'gap_mean'"):
        model.predict(test.X.drop("gap_mean"))
    with pytest.raises(ClvlensError, match="nonsense"):
        LightGBMLTV().set_params(nonsense=1)
    with pytest.raises(ClvlensError, match="metadata"):
        LightGBMLTV.load(Path("/nonexistent/folder"))


def _in_a_fresh_interpreter(script: str) -> list[str]:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return done.stdout.split()


def test_the_command_line_loads_lightgbm_without_its_sklearn_interface_and_trains_the_same(
        demo_transactions: pl.DataFrame, tmp_path) -> None:
    """Asked for by the command line's process (clvlens.ml._lightgbm_import), LightGBM loads without scikit-learn
    or SciPy's statistics, a model trains to the same predictions as with the whole LightGBM, and scikit-learn
    still imports afterwards; a Python session that imports clvlens keeps LightGBM whole."""
    demo = tmp_path / "demo.parquet"
    demo_transactions.write_parquet(demo)
    script = (
        "import sys\n"
        "import polars as pl\n"
        "from clvlens.ml._lightgbm_import import import_lightgbm, without_sklearn_interface\n"
        "{ask}\n"
        "lightgbm = import_lightgbm()\n"
        "print('sklearn' in sys.modules, 'scipy.stats' in sys.modules, lightgbm.compat.SKLEARN_INSTALLED)\n"
        "from clvlens.ml import train_ltv, predict_ltv\n"
        f"frame = pl.read_parquet({str(demo)!r})\n"
        "model = train_ltv(frame, horizon='26W', params={{'n_estimators': 30}})\n"
        "print(predict_ltv(model, frame).get_column('ltv_ml').sum())\n"
        "import sklearn\n"
        "print(bool(sklearn.__version__))\n"
    )
    without = _in_a_fresh_interpreter(script.format(ask="without_sklearn_interface()"))
    whole = _in_a_fresh_interpreter(script.format(ask=""))
    assert without[:3] == ["False", "False", "False"]
    assert whole[:3] == ["True", "True", "True"]
    assert without[3] == whole[3]  # the same predictions, to the printed digit
    assert without[4] == whole[4] == "True"
