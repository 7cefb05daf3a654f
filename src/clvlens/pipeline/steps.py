"""Single steps on an existing workspace: refit the models (`clvlens fit`), rescore customers (`clvlens score`),
train or apply the ML LTV model (`clvlens ml train|predict`) and score every model on a holdout
(`clvlens evaluate`). Each change is written atomically.

Settings carry over: horizon, discount rate, margin, holdout and candidate models come from the workspace (the
settings saved with its models, else its run_info) unless a step is given others. A step given other settings
refreshes every table that depends on them (the customers' value columns, ltv_ml, kpis, segments and the other
strategy tables) and records them in run_info; where it cannot (`score` with other candidate models, which needs
a refit; `ml predict` with a model trained for another horizon), it refuses in one line naming the mismatch.
"""

from __future__ import annotations

import functools
import shutil
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import polars as pl

from clvlens.analytics.evaluation import Scorecard
from clvlens.errors import ClvlensError
from clvlens.ml import TrainedLTV, predict_ltv
from clvlens.pipeline.checks import check_holdout, check_workspace_step
from clvlens.pipeline.health import ACTIVITY_FOLDER, HealthResult, add_health, health_info, save_activity
from clvlens.pipeline.learning import (
    LTV_FOLDER,
    load_workspace_ltv,
    run_scorecard,
    save_ltv,
    train_and_predict_ltv,
)
from clvlens.pipeline.modeling import (
    SELECTION_FILE,
    FittedModels,
    ModelSettings,
    fit_models,
    load_models,
    save_models,
    save_settings,
)
from clvlens.pipeline.refresh import (
    btyd_values,
    estimate,
    ltv_basis,
    ml_values,
    require_same,
    value_info,
    value_strategy,
)
from clvlens.pipeline.run import observed_until
from clvlens.pipeline.run_record import strategy_tables
from clvlens.pipeline.workspace import (
    MODELS_FOLDER,
    read_table,
    synced_models_folder,
    updating_models,
    workspace_lock,
    workspace_path,
    write_run_info,
    write_table,
)

ModelsUpdate = Callable[[Path], None]

T = TypeVar("T")


def _exclusive(step: Callable[..., T]) -> Callable[..., T]:
    """Check the workspace can be rewritten, then run the whole step under its writer lock.

    The lock covers the reads too, so that two steps never compute from the same tables and then overwrite each
    other's changes; a second writer refuses before any work. A folder without a workspace is left to the step,
    which names what is missing.
    """

    @functools.wraps(step)
    def exclusive(folder: str | Path, *args: Any, **kwargs: Any) -> T:
        if not workspace_path(folder).exists():
            return step(folder, *args, **kwargs)
        check_workspace_step(folder)
        with workspace_lock(folder):
            return step(folder, *args, **kwargs)

    return exclusive


def run_settings(folder: str | Path) -> dict[str, str]:
    """The workspace's `run_info` as a dict."""
    return dict(read_table(folder, "run_info").iter_rows())


def workspace_settings(folder: str | Path) -> ModelSettings:
    """The model settings a workspace was last valued with: those saved with its models, else its run_info."""
    models_folder = synced_models_folder(Path(folder) / MODELS_FOLDER)
    if (models_folder / SELECTION_FILE).exists():
        return load_models(Path(folder) / MODELS_FOLDER).settings
    info = run_settings(folder)
    given: dict[str, Any] = {}
    for name in ("horizon", "holdout"):
        if info.get(name) not in (None, "None"):
            given[name] = info[name]
    for name in ("discount_rate", "margin"):
        if info.get(name) not in (None, "None"):
            given[name] = float(info[name])
    if info.get("models"):
        given["models"] = tuple(info["models"].split(","))
    return ModelSettings(**given)


def resolve_settings(folder: str | Path, **given: Any) -> ModelSettings:
    """The workspace's settings with those given (not None) put in their place."""
    base = workspace_settings(folder)
    chosen = {name: value for name, value in given.items() if value is not None}
    if isinstance(chosen.get("models"), str):
        chosen["models"] = tuple(n.strip() for n in chosen["models"].split(",") if n.strip())
    return replace(base, **chosen)


@_exclusive
def fit_workspace(folder: str | Path, settings: ModelSettings | None = None, **given: Any) -> FittedModels:
    """Fit and select the models on a workspace's customers with its settings (or `settings`, or those `given`:
    horizon, discount_rate, margin, holdout, models); write DIR/models/, `model_selection`, and refresh every
    value of the workspace from the new models."""
    folder = Path(folder)
    settings = settings if settings is not None else resolve_settings(folder, **given)
    observed, info, end = observed_transactions(folder)
    check_holdout(settings.holdout, observed, end)
    customers = read_table(folder, "customers")
    fitted = fit_models(observed, customers, time_unit=info["time_unit"], observation_end=end, settings=settings)

    def replace_btyd_models(staging: Path) -> None:
        for previous in staging.glob("*.json"):  # the previous BTYD models; the LTV model (a folder) stays
            previous.unlink()
        save_models(fitted, staging)

    refresh_values(folder, settings, fitted, extra={"model_selection": pl.DataFrame(fitted.selection.rows())},
                   update_models=replace_btyd_models)
    return fitted


@_exclusive
def score_workspace(folder: str | Path, **given: Any) -> pl.DataFrame:
    """Score every customer of a workspace with its saved models and refresh every value built on the scores.

    `given` may change horizon, discount_rate and margin (no refit needed); other candidate models or another
    holdout need `fit` and are refused."""
    folder = Path(folder)
    fitted = load_models(folder / MODELS_FOLDER)
    if fitted.time_unit != run_settings(folder)["time_unit"]:
        raise ClvlensError(f"{folder}: the saved models use time unit {fitted.time_unit}, the customers another")
    models = given.pop("models", None)
    if isinstance(models, str):
        models = tuple(n.strip() for n in models.split(",") if n.strip())
    require_same("--models", ",".join(fitted.settings.models), models and ",".join(models),
                 "choosing among other models needs clvlens fit")
    holdout = given.pop("holdout", None)
    require_same("--holdout", fitted.settings.holdout or "auto", holdout,
                 "choosing the model on another holdout needs clvlens fit")
    settings = replace(fitted.settings, **{k: v for k, v in given.items() if v is not None})
    return refresh_values(folder, settings, fitted, update_models=lambda staging: save_settings(staging, settings))


def refresh_values(
    folder: Path,
    settings: ModelSettings,
    fitted: FittedModels | None,
    *,
    trained: TrainedLTV | None = None,
    predictions: pl.DataFrame | None = None,
    extra: dict[str, pl.DataFrame] | None = None,
    update_models: ModelsUpdate | None = None,
) -> pl.DataFrame:
    """Recompute every value of a workspace on `settings` and write it with run_info in one atomic update.

    BTYD scores come from `fitted` (the saved models when None and some exist); ltv_ml from `trained` (with its
    fresh `predictions`) or the saved ML model: recalibrated, or removed with the reason when it was trained for
    another horizon. `update_models` changes the model files (in a staging copy) so that they and the tables are
    replaced as one unit. Returns the customers table written."""
    observed, info, end = observed_transactions(folder)
    customers = read_table(folder, "customers")
    if fitted is None and (synced_models_folder(folder / MODELS_FOLDER) / SELECTION_FILE).exists():
        fitted = load_models(folder / MODELS_FOLDER)
    season, season_note = estimate(observed, end)
    notes: dict[str, Any] = {}
    seasonal = 1.0
    if fitted is not None:
        fitted.settings = settings
        scores, notes, seasonal = btyd_values(observed, customers, fitted, observation_end=end, season=season,
                                              season_note=season_note)
        customers = customers.drop([c for c in scores.columns if c != "customer_id" and c in customers.columns])
        customers = customers.join(scores, on="customer_id", how="left")
    customers = customers.drop([c for c in ("ltv_ml",) if c in customers.columns])
    for key in ("ltv_ml_basis", "ml_calibration", "ml_label_window", "ml_training_sample"):
        info.pop(key, None)
    saved = synced_models_folder(folder / MODELS_FOLDER) / LTV_FOLDER
    if trained is None and saved.exists():
        trained = load_workspace_ltv(folder / MODELS_FOLDER)
    if trained is not None:
        learned_for = trained.notes.get("run_horizon", str(trained.horizon))
        if learned_for != settings.horizon:
            notes["ml_calibration"] = (f"ltv_ml removed: the ML model was trained for {learned_for}, the workspace's "
                                       f"horizon is now {settings.horizon} (run clvlens ml train)")
        else:
            ltv = ml_values(trained, observed, customers, fitted, observation_end=end, margin=settings.margin,
                            seasonal=seasonal, predictions=predictions)
            customers = customers.join(ltv, on="customer_id", how="left")
            notes["ltv_ml_basis"] = "ltv_ml: " + ltv_basis(trained, settings)
            notes["ml_calibration"] = trained.notes.get("calibration", "")
            if trained.notes.get("training_sample"):
                notes["ml_training_sample"] = trained.notes["training_sample"]
            recalibrated = trained
            previous_update = update_models

            def store_ltv(staging: Path) -> None:  # with its new calibration factor
                if previous_update is not None:
                    previous_update(staging)
                shutil.rmtree(staging / LTV_FOLDER, ignore_errors=True)
                save_ltv(recalibrated, staging)

            update_models = store_ltv
    tables = dict(extra or {})
    if fitted is not None and "health" in customers.columns:
        # health is P(a purchase in its window) under the current model: a refit or a new horizon changes it
        window = info.get("health_window") or settings.horizon
        skipped: dict[str, str] = {}
        customers, health = add_health(observed, customers, fitted.transaction_model, window=window,
                                       time_unit=info["time_unit"], observation_end=end, skipped=skipped)
        info.update(health_info(health, window))
        info.pop("skipped_health", None)
        info.update({f"skipped_{stage}": reason for stage, reason in skipped.items()})
        if health is not None:
            tables["health_validation"] = health.validation
            update_models = _also_saving_activity(update_models, health)
    if "clv" in customers.columns:
        strategy, customers = value_strategy(observed, customers, settings)
        tables.update(strategy_tables(strategy))
    info.update(value_info(settings, fitted))
    info.update(notes)
    with updating_models(folder, models=update_models is not None) as (connection, staging):
        if update_models is not None:
            update_models(staging)
        write_table(connection, "customers", customers)
        for name, table in tables.items():
            write_table(connection, name, table)
        write_run_info(connection, info)
    return customers


def _also_saving_activity(update_models: ModelsUpdate | None, health: HealthResult) -> ModelsUpdate:
    """`update_models` followed by saving the refreshed activity classifier in place of the previous one."""

    def update(staging: Path) -> None:
        if update_models is not None:
            update_models(staging)
        shutil.rmtree(staging / ACTIVITY_FOLDER, ignore_errors=True)
        save_activity(health, staging)

    return update


def observed_transactions(folder: str | Path) -> tuple[pl.DataFrame, dict[str, str], datetime]:
    """A workspace's transactions up to its observation end, its run settings and that end."""
    info = run_settings(folder)
    end = datetime.fromisoformat(info["observation_end"])
    return observed_until(read_table(folder, "transactions"), end), info, end


@_exclusive
def evaluate_workspace(folder: str | Path, holdout: str | None = None) -> Scorecard:
    """Score every model on a holdout of a workspace's data (the workspace's holdout setting unless given; a
    quarter of the span when it chooses automatically); store `scorecard`, `scorecard_gains` and the holdout."""
    transactions, info, end = observed_transactions(folder)
    if holdout is None:
        setting = workspace_settings(folder).holdout
        holdout = setting if setting not in (None, "bic") else None
    check_holdout(holdout, transactions, end)
    card = run_scorecard(transactions, observation_end=end, time_unit=info["time_unit"], holdout=holdout)
    info["scorecard_holdout"] = f"{card.calibration_end.date()} to {card.observation_end.date()}"
    info["scorecard_sample"] = card.sample.describe()
    with updating_models(folder, models=False) as (connection, _):
        write_table(connection, "scorecard", card.table)
        write_table(connection, "scorecard_gains", card.gains)
        write_run_info(connection, info)
    return card


@_exclusive
def train_workspace_ltv(folder: str | Path, *, model: str, horizon: str | None = None) -> pl.DataFrame:
    """Train the ML LTV model on a workspace (for its horizon unless another is given), save it in
    DIR/models/ltv_ml and refresh every value: a new horizon rescores the BTYD values on it too."""
    folder = Path(folder)
    settings = resolve_settings(folder, horizon=horizon)
    transactions, info, end = observed_transactions(folder)
    trained, predictions = train_and_predict_ltv(
        transactions, horizon=settings.horizon, time_unit=info["time_unit"], observation_end=end, model=model,
        season=estimate(transactions, end)[0],
    )
    trained.notes["run_horizon"] = settings.horizon
    has_btyd = (synced_models_folder(folder / MODELS_FOLDER) / SELECTION_FILE).exists()
    return refresh_values(folder, settings, None, trained=trained, predictions=predictions,
                          update_models=(lambda staging: save_settings(staging, settings)) if has_btyd else None)


@_exclusive
def predict_workspace_ltv(folder: str | Path) -> pl.DataFrame:
    """Score a workspace's customers with its saved ML LTV model (its calibration, the workspace's margin) and
    store `ltv_ml` on `customers`; a model trained for another horizon than the workspace's is refused."""
    folder = Path(folder)
    trained = load_workspace_ltv(folder / MODELS_FOLDER)
    settings = workspace_settings(folder)
    require_same("the workspace's horizon", trained.notes.get("run_horizon", str(trained.horizon)), settings.horizon,
                 "retrain with clvlens ml train")
    transactions, _, end = observed_transactions(folder)
    predictions = predict_ltv(trained, transactions, as_of=end).with_columns(pl.col("ltv_ml") * settings.margin)
    customers = read_table(folder, "customers")
    customers = customers.drop([c for c in ("ltv_ml",) if c in customers.columns]).join(
        predictions, on="customer_id", how="left"
    )
    with updating_models(folder, models=False) as (connection, _):
        write_table(connection, "customers", customers)
    return customers
