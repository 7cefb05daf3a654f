"""Single steps on an existing workspace: refit the models (`clvlens fit`) or rescore customers (`clvlens score`)."""

from __future__ import annotations

import os
import shutil
from datetime import datetime
from pathlib import Path

import polars as pl

from clvlens.errors import ClvlensError
from clvlens.pipeline.modeling import (
    SCORE_COLUMNS,
    FittedModels,
    ModelSettings,
    fit_models,
    load_models,
    save_models,
    score_customers,
)
from clvlens.pipeline.workspace import MODELS_FOLDER, read_table, updating_workspace, write_table


def run_settings(folder: str | Path) -> dict[str, str]:
    """The workspace's `run_info` as a dict."""
    return dict(read_table(folder, "run_info").iter_rows())


def fit_workspace(folder: str | Path, settings: ModelSettings) -> FittedModels:
    """Fit and select the models on a workspace's customers; write DIR/models/ and the `model_selection` table."""
    folder = Path(folder)
    info = run_settings(folder)
    transactions = read_table(folder, "transactions")
    customers = read_table(folder, "customers")
    end = datetime.fromisoformat(info["observation_end"])
    observed = transactions.filter(pl.col("timestamp") < pl.lit(end) + pl.duration(days=1))
    fitted = fit_models(observed, customers, time_unit=info["time_unit"], observation_end=end, settings=settings)
    staging = folder / (MODELS_FOLDER + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    save_models(fitted, staging)
    with updating_workspace(folder) as connection:
        write_table(connection, "model_selection", pl.DataFrame(fitted.selection.rows()))
    shutil.rmtree(folder / MODELS_FOLDER, ignore_errors=True)
    os.replace(staging, folder / MODELS_FOLDER)
    return fitted


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
