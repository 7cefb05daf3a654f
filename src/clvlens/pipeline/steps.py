"""Single steps on an existing workspace: refit the models (`clvlens fit`), rescore customers (`clvlens score`),
train or apply the ML LTV model (`clvlens ml train|predict`) and score every model on a holdout
(`clvlens evaluate`). Each change is written atomically."""

from __future__ import annotations

import functools
import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import polars as pl

from clvlens.analytics.evaluation import Scorecard
from clvlens.errors import ClvlensError
from clvlens.ml import predict_ltv
from clvlens.pipeline.checks import check_holdout, check_workspace_step
from clvlens.pipeline.learning import (
    LTV_FOLDER,
    load_workspace_ltv,
    run_scorecard,
    save_ltv,
    train_and_predict_ltv,
)
from clvlens.pipeline.modeling import (
    SCORE_COLUMNS,
    FittedModels,
    ModelSettings,
    fit_models,
    load_models,
    save_models,
    score_customers,
)
from clvlens.pipeline.run import observed_until
from clvlens.pipeline.workspace import (
    MODELS_FOLDER,
    read_table,
    updating_models,
    updating_workspace,
    workspace_lock,
    workspace_path,
    write_table,
)

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


@_exclusive
def fit_workspace(folder: str | Path, settings: ModelSettings) -> FittedModels:
    """Fit and select the models on a workspace's customers; write DIR/models/ and the `model_selection` table."""
    folder = Path(folder)
    observed, info, end = observed_transactions(folder)
    check_holdout(settings.holdout, observed, end)
    customers = read_table(folder, "customers")
    fitted = fit_models(observed, customers, time_unit=info["time_unit"], observation_end=end, settings=settings)
    with updating_models(folder) as (connection, staging):
        for previous in staging.glob("*.json"):  # the previous BTYD models; the LTV model (a folder) stays
            previous.unlink()
        save_models(fitted, staging)
        write_table(connection, "model_selection", pl.DataFrame(fitted.selection.rows()))
    return fitted


@_exclusive
def score_workspace(folder: str | Path) -> pl.DataFrame:
    """Score every customer of a workspace with its saved models and store the columns on `customers`."""
    folder = Path(folder)
    fitted = load_models(folder / MODELS_FOLDER)
    customers = read_table(folder, "customers")
    if fitted.time_unit != run_settings(folder)["time_unit"]:
        raise ClvlensError(f"{folder}: the saved models use time unit {fitted.time_unit}, the customers another")
    scores = score_customers(customers, fitted)
    customers = customers.drop([c for c in SCORE_COLUMNS if c in customers.columns]).join(
        scores, on="customer_id", how="left"
    )
    with updating_workspace(folder) as connection:
        write_table(connection, "customers", customers)
    return customers


def observed_transactions(folder: str | Path) -> tuple[pl.DataFrame, dict[str, str], datetime]:
    """A workspace's transactions up to its observation end, its run settings and that end."""
    info = run_settings(folder)
    end = datetime.fromisoformat(info["observation_end"])
    return observed_until(read_table(folder, "transactions"), end), info, end


@_exclusive
def evaluate_workspace(folder: str | Path, holdout: str | None) -> Scorecard:
    """Score every model on a holdout of a workspace's data; store the `scorecard` and `scorecard_gains` tables."""
    transactions, info, end = observed_transactions(folder)
    check_holdout(holdout, transactions, end)
    card = run_scorecard(transactions, observation_end=end, time_unit=info["time_unit"], holdout=holdout)
    with updating_workspace(folder) as connection:
        write_table(connection, "scorecard", card.table)
        write_table(connection, "scorecard_gains", card.gains)
    return card


@_exclusive
def train_workspace_ltv(folder: str | Path, *, model: str, horizon: str) -> pl.DataFrame:
    """Train the ML LTV model on a workspace, save it in DIR/models/ltv_ml and store `ltv_ml` on `customers`."""
    folder = Path(folder)
    transactions, info, end = observed_transactions(folder)
    trained, predictions = train_and_predict_ltv(
        transactions, horizon=horizon, time_unit=info["time_unit"], observation_end=end, model=model
    )
    customers = _with_ltv(folder, predictions)
    with updating_models(folder) as (connection, staging):  # the model and its predictions change as one unit
        shutil.rmtree(staging / LTV_FOLDER, ignore_errors=True)
        save_ltv(trained, staging)
        write_table(connection, "customers", customers)
    return customers


@_exclusive
def predict_workspace_ltv(folder: str | Path) -> pl.DataFrame:
    """Score a workspace's customers with its saved ML LTV model and store `ltv_ml` on `customers`."""
    folder = Path(folder)
    trained = load_workspace_ltv(folder / MODELS_FOLDER)
    transactions, _, end = observed_transactions(folder)
    return _store_ltv(folder, predict_ltv(trained, transactions, as_of=end))


def _with_ltv(folder: Path, predictions: pl.DataFrame) -> pl.DataFrame:
    customers = read_table(folder, "customers")
    return customers.drop([c for c in ("ltv_ml",) if c in customers.columns]).join(
        predictions, on="customer_id", how="left"
    )


def _store_ltv(folder: Path, predictions: pl.DataFrame) -> pl.DataFrame:
    customers = _with_ltv(folder, predictions)
    with updating_workspace(folder) as connection:
        write_table(connection, "customers", customers)
    return customers
