"""What a run records: its run_info (settings, counts, notes and the reason of every skipped stage) and the
tables and model files of its workspace, from a finished run's result."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from clvlens import __version__
from clvlens.data import CleanedData
from clvlens.models import interval_method
from clvlens.pipeline.health import save_activity
from clvlens.pipeline.learning import save_ltv
from clvlens.pipeline.modeling import FittedModels, identification_note, save_models
from clvlens.pipeline.refresh import value_info
from clvlens.pipeline.workspace import write_run_info, write_table

if TYPE_CHECKING:
    from clvlens.pipeline.run import RunResult, RunSettings


def write_stage_results(connection: Any, models_folder: Path, result: RunResult) -> None:
    """The tables and models of the run's stages but the scorecard (the run writes them before it waits for its
    scorecard): customers, cleaning report, model selection and files, health, strategy and basket tables."""
    customers, fitted, ltv = result.customers, result.fitted, result.ltv
    health, strategy, basket = result.health, result.strategy, result.basket
    # the transactions and the quarantine are written by LinesWrite
    write_table(connection, "customers", customers)
    write_table(connection, "cleaning_report", result.cleaned.report.to_frame())
    if fitted is not None:
        write_table(connection, "model_selection", pl.DataFrame(fitted.selection.rows()))
        save_models(fitted, models_folder)
    if ltv is not None:
        save_ltv(ltv, models_folder)
    if health is not None:
        write_table(connection, "health_validation", health.validation)
        save_activity(health, models_folder)
    if strategy is not None:
        for name, table in strategy_tables(strategy).items():
            write_table(connection, name, table)
    if basket is not None:
        write_table(connection, "rules", basket.rules)
        write_table(connection, "bundles", basket.bundles)
        write_table(connection, "next_best_offer", basket.next_best_offer)


def write_closing_results(connection: Any, result: RunResult) -> None:
    """The scorecard's tables and the run_info, the last written."""
    if result.scorecard is not None:
        write_table(connection, "scorecard", result.scorecard.table)
        write_table(connection, "scorecard_gains", result.scorecard.gains)
    write_run_info(connection, result.info)


def strategy_tables(strategy: Any) -> dict[str, pl.DataFrame]:
    """The workspace names of the strategy tables (the contract: kpis, segments, cohorts, regions)."""
    return {
        "kpis": strategy.kpis,
        "segments": strategy.segments,
        "cohorts": strategy.cohorts,
        "regions": strategy.regions,
        "lorenz": strategy.lorenz,
        "cohort_cliffs": strategy.cliffs,
    }


def run_info(
    settings: RunSettings,
    period: Any,
    cleaned: CleanedData,
    customers: pl.DataFrame,
    fitted: FittedModels | None,
    skipped: dict[str, str],
) -> dict[str, Any]:
    """The run's run_info: its settings and counts, how its models and values were obtained, and why each skipped
    stage was skipped."""
    source = settings.source
    info: dict[str, Any] = {
        "clvlens_version": __version__,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": str(source) if isinstance(source, (str, Path)) else type(source).__name__,
        "format": settings.format,
        "time_unit": period.time_unit,
        "observation_end": period.observation_end.date().isoformat(),
        "input_rows": cleaned.report.input_rows,
        "kept_rows": cleaned.report.kept_rows,
        "quarantined_rows": cleaned.report.quarantined_rows,
        "customers": customers.height,
        **value_info(settings.models, fitted),
    }
    if fitted is not None:
        info["identification"] = identification_note(fitted)
        independence = getattr(fitted.spend_model, "independence_", None)
        if independence is not None:
            info["spend_independence"] = spend_independence_note(independence)
        draws = settings.models.interval_draws
        method = interval_method("auto", customers.height, draws)
        info["clv_interval"] = fitted.interval_note or (
            f"{settings.models.interval_level:.0%} from {draws} parametric-bootstrap draws"
            + (" (linearised)" if method == "linear" else "")
        )
    if cleaned.report.reading:
        info["reading"] = cleaned.report.reading
    if settings.date_format is not None:
        info["date_format"] = settings.date_format
    if settings.dayfirst is not None:
        info["dayfirst"] = settings.dayfirst
    if settings.currency:
        info["currency"] = settings.currency.strip().upper()
    for stage, reason in skipped.items():
        info[f"skipped_{stage}"] = reason
    return info


def spend_independence_note(check: dict[str, Any]) -> str:
    """Gamma-Gamma's independence of spend and purchase frequency, as checked when it was fitted, in words."""
    r = check.get("pearson_r")
    if r is None:
        return (f"not testable: too few or constant values among {check.get('n_customers', 0):,.0f} repeat buyers; "
                "nothing contradicts it")
    verdict = "holds" if check.get("holds") else "doubtful: expected spend may be biased"
    return (f"{verdict} (Pearson r between repeat purchases and mean spend {r:.2f}, Spearman "
            f"{check.get('spearman_r') or 0:.2f}, over {check.get('n_customers', 0):,.0f} repeat buyers; "
            f"flagged from |r| >= {check.get('threshold')})")
