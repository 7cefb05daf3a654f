"""One end-to-end run: source -> clean transactions -> customers -> models -> ML LTV -> strategy -> basket ->
scorecard -> workspace.

Each stage after the customer summary needs something the data may not have (enough repeat buyers to fit a model,
item ids for basket rules). A stage that cannot run is skipped with its reason recorded in `run_info` and shown by
the CLI; the stages before it are still written, so a run never ends with nothing and never hides a failure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from clvlens.data import CleanedData, CleaningRules, load_source
from clvlens.errors import ClvlensError
from clvlens.ml import FeatureCache
from clvlens.ml.features import seen_by
from clvlens.ml.lgbm import preload_learners
from clvlens.models import parse_horizon
from clvlens.pipeline.background import BackgroundTask, spread
from clvlens.pipeline.checks import (
    check_holdout,
    check_output_folder,
    check_run_settings,
    input_bytes,
    run_space_needed,
)
from clvlens.pipeline.health import add_health, health_info, start_health_classifiers
from clvlens.pipeline.learning import (
    DEFAULT_SAMPLE,
    ML_TRAIN_SAMPLE,
    run_scorecard,
    train_and_predict_ltv,
)
from clvlens.pipeline.lines_write import LinesWrite
from clvlens.pipeline.modeling import FittedModels, ModelSettings, fit_models
from clvlens.pipeline.refresh import (
    btyd_interval,
    btyd_values,
    estimate,
    ltv_basis,
    ml_values,
    value_strategy,
    with_interval,
)
from clvlens.pipeline.run_record import run_info, write_closing_results, write_stage_results
from clvlens.pipeline.workspace import (
    fault_point,
    remove_unused_folder,
    workspace_lock,
    workspace_path,
    writing_workspace,
)
from clvlens.resources import single_threaded_blas
from clvlens.summary import customer_attributes, rfm_summary
from clvlens.summary.rfm import resolve_period

ProgressCallback = Callable[[str], None]
# stages a user may leave out; "report" is written by the caller after the run (faces sit above the pipeline)
SKIPPABLE = ("ml", "basket", "scorecard", "report")
SKIPPED_BY_USER = "left out by --skip"
#: inputs of this size on disk and more are loaded before the model libraries are imported: the load is then the
#: run's peak of memory, and the imports hold about 100 MB (bench/bench_scale_parts.py). The 1M-customer logs of
#: bench/bench_scale.py are 111-141 MB; the 100k ones (11-14 MB) import on the core their load leaves idle
PRELOAD_AFTER_LOAD_FROM = 64 * 2**20
STEPS = (
    "load and clean",
    "summarise customers",
    "fit models",
    "machine-learned LTV",
    "strategy tables",
    "market basket",
    "write workspace",
    "scorecard",
)


@dataclass
class RunSettings:
    """What a run reads and how it summarises and models; every value is recorded in `run_info`."""

    source: Any
    out: Path
    format: str = "auto"
    time_unit: str = "W"
    observation_end: str | None = None
    mapping: Mapping[str, str] = field(default_factory=dict)
    rules: CleaningRules | None = None
    models: ModelSettings = field(default_factory=ModelSettings)
    basket_min_support: float = 0.01
    basket_min_confidence: float = 0.2
    ml_model: str = "lightgbm"
    scorecard: bool = True
    date_format: str | None = None
    dayfirst: bool | None = None
    health_window: str | None = None  # the window of `health` (P(a purchase in it)); None = the horizon
    # stages to leave out (see SKIPPABLE); each is recorded in run_info as skipped_<stage>
    skip: frozenset[str] = frozenset()
    # ISO code of the money in the source (recorded in run_info; faces guess it from the source when absent)
    currency: str | None = None
    # customers the scorecard scores (a reproducible sample; None: all) and the ML LTV model trains on at most
    scorecard_sample: int | None = DEFAULT_SAMPLE
    ml_train_sample: int | None = ML_TRAIN_SAMPLE


@dataclass
class RunResult:
    """The outcome of a run: the workspace, the cleaned data, the customer table and what each stage produced."""

    workspace: Path
    cleaned: CleanedData
    customers: pl.DataFrame
    info: dict[str, Any]
    fitted: FittedModels | None = None
    strategy: Any = None
    basket: Any = None
    ltv: Any = None
    scorecard: Any = None
    skipped: dict[str, str] = field(default_factory=dict)
    health: Any = None


def run_pipeline(settings: RunSettings, progress: ProgressCallback | None = None) -> RunResult:
    """Run every stage and write the workspace atomically; `progress` is told the name of each step as it starts.

    Settings and the output folder are checked before any work, and the folder's writer lock is held throughout
    (see `pipeline.checks` and `pipeline.workspace`).
    """
    check_run_settings(settings)
    unknown = sorted(set(settings.skip) - set(SKIPPABLE))
    if unknown:
        raise ClvlensError(f"--skip: unknown stage {', '.join(unknown)} (choose among {', '.join(SKIPPABLE)})")
    if settings.health_window is not None:
        parse_horizon(settings.health_window, "D")  # a bad window is a one-line error before any work
    created = not Path(settings.out).exists()
    try:
        check_output_folder(settings.out, run_space_needed(settings.source))
        with workspace_lock(settings.out):
            return _run_stages(settings, progress)
    except BaseException:
        if created:
            remove_unused_folder(settings.out)
        raise


def _run_stages(settings: RunSettings, progress: ProgressCallback | None) -> RunResult:
    def report(step: str) -> None:
        fault_point(step)
        if progress is not None:
            progress(step)

    # one BLAS thread throughout: the run's products are small, and idle BLAS workers spin against the run's
    # two threads (see resources.single_threaded_blas)
    with single_threaded_blas():
        report(STEPS[0])
        # the model libraries load on the second core (see ml.lgbm.preload_learners): while a small input is read,
        # after a large one, whose load is the run's peak of memory that their 100 MB would add to
        import_first = input_bytes(settings.source) < PRELOAD_AFTER_LOAD_FROM
        if import_first:
            preload_learners()
        cleaned = load_source(
            settings.source, format=settings.format, mapping=settings.mapping, rules=settings.rules,
            date_format=settings.date_format, dayfirst=settings.dayfirst,
        )
        if not import_first:
            preload_learners()
        report(STEPS[1])
        cleaned.require_transactions()
        with writing_workspace(settings.out) as (connection, models_folder):
            # (pipeline.lines_write) queued after the CLV interval (needed at the basket step, whose peak of memory
            # it would add to at a million customers) and ahead of the scorecard's contenders: the longest of the
            # tasks left at the end of a smaller run, it is best started first, so that the cores share the rest
            lines = LinesWrite(connection, cleaned, needed_at=STEPS.index("market basket") + 0.5)
            try:
                result = _compute(settings, cleaned, report, _Writes(lines, connection, models_folder))
            except BaseException:
                lines.abandon()
                raise
            write_closing_results(connection, result)
    return result


@dataclass
class _Writes:
    """What the stages write to the run's new workspace as they go: the cleaned lines (beside them, from the
    strategy step on) and every stage's tables and models, before the run waits for its scorecard, whose tables
    and the run_info are written last (while the scorecard's last contenders run, the run's own thread writes)."""

    lines: LinesWrite
    connection: Any
    models_folder: Path

    def stage_tables(self, result: RunResult) -> None:
        self.lines.wait()
        write_stage_results(self.connection, self.models_folder, result)


def _compute(settings: RunSettings, cleaned: CleanedData, report: Callable[[str], None], writes: _Writes) -> RunResult:
    """Every stage from the summary to the scorecard, writing the workspace's tables as they are final (``writes``;
    the caller writes the scorecard's and the run_info)."""
    period = resolve_period(cleaned.transactions, settings.time_unit, settings.observation_end, None, "D")
    observed = observed_until(cleaned.transactions, period.observation_end)
    check_holdout(settings.models.holdout, observed, period.observation_end)
    # the work that needs only the observed transactions runs beside the stages (see pipeline.background), each
    # task taken where the run needs it: the seasonal index (after the fits), the health classifiers (the
    # strategy step, queued once the customers are summarised, beside the fits), the scorecard (its own step,
    # queued once the fits are done)
    seasonality = BackgroundTask(lambda _: estimate(observed, period.observation_end), "seasonality",
                                 needed_at=STEPS.index("fit models")).start()
    scoring = None
    if settings.scorecard and "scorecard" not in settings.skip:
        needed_at = STEPS.index("scorecard")
        scoring = BackgroundTask(lambda stopping: run_scorecard(
            observed, observation_end=period.observation_end, time_unit=period.time_unit,
            holdout=settings.models.holdout, sample_size=settings.scorecard_sample, n_jobs=1, stop=stopping,
            spread=lambda calls: spread(calls, needed_at=needed_at),
        ), "scorecard", needed_at=needed_at)
    beside = [seasonality] + ([scoring] if scoring is not None else [])
    try:
        return _compute_beside(settings, cleaned, report, period, observed, seasonality, scoring, beside, writes)
    except BaseException as exc:
        for task in beside:  # a failed run leaves nothing working beside it; Ctrl-C does not wait
            task.stop(wait=not isinstance(exc, KeyboardInterrupt))
        raise


def _compute_beside(
    settings: RunSettings, cleaned: CleanedData, report: Callable[[str], None], period: Any,
    observed: pl.DataFrame, seasonality: BackgroundTask, scoring: BackgroundTask | None,
    beside: list[BackgroundTask], writes: _Writes,
) -> RunResult:
    """The stages from the summary on, beside the seasonal index (started) and the scorecard (``scoring``, started
    here once the model fits are done); work started here to run beside them is added to ``beside``."""
    customers = _customer_table(observed, period)
    skipped: dict[str, str] = dict.fromkeys(sorted(settings.skip), SKIPPED_BY_USER)
    health_window = settings.health_window or settings.models.horizon
    classifiers = start_health_classifiers(observed, customers, window=health_window, time_unit=period.time_unit,
                                           observation_end=period.observation_end, needed_at=STEPS.index(
                                               "strategy tables"))
    beside += [classifiers] if classifiers is not None else []

    report(STEPS[2])
    fitted, scored, interval = None, None, None
    seasonal, value_notes = 1.0, {}
    try:
        fitted = fit_models(
            observed, customers, time_unit=period.time_unit, observation_end=period.observation_end,
            settings=settings.models,
        )
        season, season_note = seasonality.result()
        scores, value_notes, seasonal = btyd_values(
            observed, customers, fitted, observation_end=period.observation_end, season=season,
            season_note=season_note, interval=False,
        )
        customers = scored = customers.join(scores, on="customer_id", how="left")
    except ClvlensError as exc:
        skipped["models"] = str(exc)
        fitted = None  # fitted but not scorable: later stages must not expect the model columns
    if scoring is not None:
        # queued once the fits are done: its own model fits and trees beside them held Python's lock against the
        # run's, which cost a 100k demo store 1.1 s of its 10.6 (docs/benchmarks.md, issue 14 on 2026-12-01)
        scoring.start()
    season, season_note = seasonality.result()
    value_notes = value_notes or {"seasonality": f"not applied: {season_note}"}

    report(STEPS[3])
    ltv = None
    # the ML and activity models score the same customers at the same date: their features are built once
    features = FeatureCache(observed).add_summary(customers, period.observation_end, period.time_unit)
    try:
        if "ml" not in settings.skip:
            ltv, predictions = train_and_predict_ltv(
                observed, horizon=settings.models.horizon, time_unit=period.time_unit,
                observation_end=period.observation_end, model=settings.ml_model, season=season,
                sample_size=settings.ml_train_sample, features=features,
            )
            ltv.notes["run_horizon"] = settings.models.horizon
            predictions = ml_values(ltv, observed, customers, fitted, observation_end=period.observation_end,
                                    margin=settings.models.margin, seasonal=seasonal, predictions=predictions)
            customers = customers.join(predictions, on="customer_id", how="left")
    except ClvlensError as exc:
        skipped["ml"] = str(exc)

    report(STEPS[4])
    # from here on the run's memory is below its peak: the write of the cleaned lines is queued beside the run
    # (pipeline.lines_write)
    writes.lines.start()
    if fitted is not None and scored is not None:
        # the CLV interval's parameter draws take seconds at a million customers and no stage reads the bounds:
        # drawn beside the run too, within their own time budget (pipeline.modeling.INTERVAL_SECONDS); beside the
        # ML stage they would add to its peak of memory
        interval = BackgroundTask(lambda _: btyd_interval(scored, fitted, seasonal), "clv-interval",
                                  needed_at=STEPS.index("market basket")).start()
        beside.append(interval)
    strategy = None
    health = None
    if fitted is not None:
        customers, health = add_health(
            observed, customers, fitted.transaction_model, window=health_window, time_unit=period.time_unit,
            observation_end=period.observation_end, skipped=skipped, features=features, classifiers=classifiers,
        )
        strategy, customers = value_strategy(observed, customers, settings.models)
    else:
        skipped["strategy"] = "needs the model columns p_alive and clv"
    del features  # its feature tables are not needed after this step

    report(STEPS[5])
    basket = None if "basket" in settings.skip else _basket(observed, customers, settings, skipped)

    if interval is not None:
        customers = with_interval(customers, interval.result())

    report("write workspace")
    writes.stage_tables(RunResult(workspace_path(settings.out), cleaned, customers, {}, fitted=fitted,
                                  strategy=strategy, basket=basket, ltv=ltv, health=health))
    report("scorecard")
    card = None
    if scoring is not None:
        try:
            card = scoring.result()
        except ClvlensError as exc:
            skipped["scorecard"] = str(exc)

    info = run_info(settings, period, cleaned, customers, fitted, skipped)
    if fitted is not None:
        info.update(health_info(health, health_window))
    info.update(value_notes)
    if ltv is not None:
        info["ltv_ml_basis"] = "ltv_ml: " + ltv_basis(ltv, settings.models)
        info["ml_calibration"] = ltv.notes.get("calibration", "")
        if ltv.spec.horizon != ltv.notes["run_horizon"]:
            info["ml_label_window"] = ltv.notes.get("label_window", str(ltv.spec.horizon))
    if card is not None:
        info["scorecard_holdout"] = f"{card.calibration_end.date()} to {card.observation_end.date()}"
        info["scorecard_sample"] = card.sample.describe()
    if ltv is not None and ltv.notes.get("training_sample"):
        info["ml_training_sample"] = ltv.notes["training_sample"]
    return RunResult(
        workspace_path(settings.out), cleaned, customers, info,
        fitted=fitted, strategy=strategy, basket=basket, ltv=ltv, scorecard=card, skipped=skipped, health=health,
    )


def build_customer_table(
    transactions: pl.DataFrame, time_unit: str, observation_end: str | datetime | None
) -> pl.DataFrame:
    """The RFM summary joined with each customer's orders, region, first category and cohort."""
    _require_transactions(transactions)
    period = resolve_period(transactions, time_unit, observation_end, None, "D")
    return _customer_table(observed_until(transactions, period.observation_end), period)


def observed_until(transactions: pl.DataFrame, observation_end: datetime) -> pl.DataFrame:
    """The transactions on or before the observation end date (the end date is inclusive; the table itself, not a
    copy, in the usual case where the end is the last date)."""
    return seen_by(transactions, observation_end)


def _customer_table(observed: pl.DataFrame, period: Any) -> pl.DataFrame:
    summary = rfm_summary(observed, time_unit=period.time_unit, observation_end=period.observation_end)
    attributes = customer_attributes(observed).drop("first_timestamp")
    return summary.join(attributes, on="customer_id", how="left").sort("customer_id")


def _require_transactions(transactions: pl.DataFrame) -> None:
    if transactions.is_empty():
        raise ClvlensError("no transactions left after cleaning: see the quarantine for why every row was rejected")


def _basket(transactions: pl.DataFrame, customers: pl.DataFrame, settings: RunSettings, skipped: dict[str, str]) -> Any:
    if transactions.get_column("item_id").null_count() == transactions.height:
        skipped["basket"] = "the transactions have no item ids"
        return None
    from clvlens.analytics.basket import basket_tables

    value = customers.select("customer_id", "clv") if "clv" in customers.columns else None
    try:
        return basket_tables(
            transactions,
            value,
            min_support=settings.basket_min_support,
            min_confidence=settings.basket_min_confidence,
        )
    except ClvlensError as exc:
        skipped["basket"] = str(exc)
        return None
