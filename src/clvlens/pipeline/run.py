"""One end-to-end run: source -> clean transactions -> customer summary -> workspace."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from clvlens import __version__
from clvlens.data import CleanedData, CleaningRules, load_source
from clvlens.errors import ClvlensError
from clvlens.pipeline.workspace import workspace_path, write_run_info, write_table, writing_workspace
from clvlens.summary import customer_attributes, rfm_summary
from clvlens.summary.rfm import resolve_period

ProgressCallback = Callable[[str], None]


@dataclass
class RunSettings:
    """What a run reads and how it summarises; every value is recorded in the workspace's `run_info` table."""

    source: Any
    out: Path
    format: str = "auto"
    time_unit: str = "W"
    observation_end: str | None = None
    mapping: Mapping[str, str] = field(default_factory=dict)
    rules: CleaningRules | None = None


@dataclass
class RunResult:
    """The outcome of a run: where the workspace is, the cleaned data and the customer table."""

    workspace: Path
    cleaned: CleanedData
    customers: pl.DataFrame
    info: dict[str, Any]


STEPS = ("load and clean", "summarise customers", "write workspace")


def run_pipeline(settings: RunSettings, progress: ProgressCallback | None = None) -> RunResult:
    """Run every stage and write the workspace atomically; `progress` is told the name of each step as it starts."""
    report = progress or (lambda _step: None)
    report(STEPS[0])
    cleaned = load_source(settings.source, format=settings.format, mapping=settings.mapping, rules=settings.rules)
    report(STEPS[1])
    customers = build_customer_table(cleaned.transactions, settings.time_unit, settings.observation_end)
    period = resolve_period(cleaned.transactions, settings.time_unit, settings.observation_end, None, "D")
    info = {
        "clvlens_version": __version__,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": str(settings.source) if isinstance(settings.source, (str, Path)) else type(settings.source).__name__,
        "format": settings.format,
        "time_unit": period.time_unit,
        "observation_end": period.observation_end.date().isoformat(),
        "input_rows": cleaned.report.input_rows,
        "kept_rows": cleaned.report.kept_rows,
        "quarantined_rows": cleaned.report.quarantined_rows,
        "customers": customers.height,
    }
    report(STEPS[2])
    with writing_workspace(settings.out) as connection:
        write_table(connection, "transactions", cleaned.transactions)
        write_table(connection, "quarantine", cleaned.quarantine)
        write_table(connection, "customers", customers)
        write_table(connection, "cleaning_report", cleaned.report.to_frame())
        write_run_info(connection, info)
    return RunResult(workspace_path(settings.out), cleaned, customers, info)


def build_customer_table(transactions: pl.DataFrame, time_unit: str, observation_end: str | None) -> pl.DataFrame:
    """The RFM summary joined with each customer's orders, region, first category and cohort."""
    if transactions.is_empty():
        raise ClvlensError("no transactions left after cleaning: see the quarantine for why every row was rejected")
    period = resolve_period(transactions, time_unit, observation_end, None, "D")
    observed = transactions.filter(pl.col("timestamp") < period.observation_end + timedelta(days=1))
    summary = rfm_summary(observed, time_unit=period.time_unit, observation_end=period.observation_end)
    attributes = customer_attributes(observed).drop("first_timestamp")
    return summary.join(attributes, on="customer_id", how="left").sort("customer_id")
