"""The models step of a run: fit the BTYD candidates, choose one, fit spend, score every customer, save JSON.

Selection, by what predicts: the candidates are fitted on all the data (their BIC) and on the data up to the
observation end minus a holdout (their mean absolute error of predicted holdout purchases per customer); the one
predicting the holdout best wins and its fit on all the data is used. The holdout is `holdout` when given (for
example "26W"); by default ("auto") it is a quarter of the observed span in whole weeks, capped at the horizon.
BIC chooses instead, with the reason recorded, where the data are too short for a time split (a default holdout
under four weeks), where the calibration period leaves fewer than 20 customers with repeat purchases or no model
can be fitted on it, or with `holdout="bic"`. Spend is Gamma-Gamma on customers with repeat purchases of
positive value; where that model cannot be fitted, every customer's expected spend is the mean transaction value
and the run records why.

Sampled choice: the candidates are fitted and compared on a stable sample of customers (`selection_sample`,
100,000 by default; every customer when there are fewer), chosen by a hash of customer_id
(:mod:`clvlens.analytics.sampling`), and the chosen model is then fitted on every customer. run_info records the
sample (`model_selection_sample`) and the sampling error of the deciding metric between the top two
(`model_selection_error`: the paired difference of their per-customer holdout errors, or BIC per customer, with
its 95% margin); the choice is noted as within sampling error when the difference is smaller than that margin.
The candidates' log-likelihood and BIC in the selection table are those of their fits on the sample.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from clvlens.analytics.sampling import PairedDifference, paired_difference, sample_mask
from clvlens.errors import ClvlensError
from clvlens.models import GammaGamma, customer_lifetime_value, customer_lifetime_value_interval, parse_horizon
from clvlens.models._base import BaseModel
from clvlens.models.clv import Histories, alive_and_expected
from clvlens.models.persistence import load_model
from clvlens.models.selection import TRANSACTION_MODELS, Candidate, ModelSelection, fit_candidates, select_model
from clvlens.pipeline.workspace import models_stamp, synced_models_folder
from clvlens.summary import rfm_summary

SCORE_COLUMNS = ("p_alive", "expected_purchases", "expected_spend", "clv", "clv_lower", "clv_upper")
SELECTION_FILE = "selection.json"
SPEND_FILE = "gammagamma.json"


AUTO_HOLDOUT = "auto"
BIC_ONLY = "bic"
MIN_HOLDOUT_DAYS = 28
MIN_CALIBRATION_REPEATERS = 20
#: customers the candidates are compared on by default: the standard error of a holdout MAE difference shrinks
#: as 1/sqrt(n), and at 100,000 customers it is a few thousandths of a purchase on the stores measured
SELECTION_SAMPLE = 100_000
MIN_SELECTION_SAMPLE = 1_000


@dataclass(frozen=True)
class ModelSettings:
    """How the models step fits and scores; recorded with the saved models.

    ``holdout``: None or "auto" (the default time split, see the module docstring), a length such as "26W", or
    "bic" to choose by BIC alone.
    """

    horizon: str = "12M"
    discount_rate: float = 0.10
    margin: float = 1.0
    holdout: str | None = None
    models: tuple[str, ...] = tuple(TRANSACTION_MODELS)
    interval_level: float = 0.9
    interval_draws: int = 100
    penalizer_coef: float = 0.0
    #: customers the model choice is made on (a stable hash sample, see `clvlens.analytics.sampling`); None: all
    selection_sample: int | None = SELECTION_SAMPLE

    def __post_init__(self) -> None:
        parse_horizon(self.horizon, "D")
        if self.holdout is not None and self.holdout.strip().lower() in (AUTO_HOLDOUT, "none", ""):
            object.__setattr__(self, "holdout", None)
        if self.holdout is not None and self.holdout.strip().lower() == BIC_ONLY:
            object.__setattr__(self, "holdout", BIC_ONLY)
        elif self.holdout is not None:
            parse_horizon(self.holdout, "D")
        if not 0 < self.interval_level < 1:
            raise ClvlensError(f"interval level must be between 0 and 1, got {self.interval_level}")
        if not -1 < self.discount_rate < 10:
            raise ClvlensError(f"discount rate must be an annual rate such as 0.1, got {self.discount_rate}")
        if not 0 < self.margin <= 1:  # also refuses NaN
            raise ClvlensError(f"margin must be a share of revenue above 0 and at most 1 (e.g. 0.3), got {self.margin}")
        if self.selection_sample is not None and not (isinstance(self.selection_sample, int)
                                                      and self.selection_sample >= MIN_SELECTION_SAMPLE):
            raise ClvlensError(f"selection sample: {self.selection_sample!r} must be a whole number of customers "
                               f"of at least {MIN_SELECTION_SAMPLE:,} (or none for all customers)")
        unknown = [name for name in self.models if name not in TRANSACTION_MODELS]
        if unknown or not self.models:
            raise ClvlensError(
                f"models: {', '.join(map(repr, unknown)) or 'none given'} "
                f"(choose one or more of {', '.join(TRANSACTION_MODELS)}, comma-separated)"
            )


@dataclass
class FittedModels:
    """The chosen transaction model (fitted on all data), the spend model or its fallback, and the selection.

    ``criterion_note`` says how the model was chosen: the holdout used, or why BIC chose instead.
    """

    transaction_model: BaseModel
    spend_model: GammaGamma | None
    fallback_spend: float | None
    spend_note: str
    selection: ModelSelection
    settings: ModelSettings
    time_unit: str
    criterion_note: str = ""
    #: how the CLV interval was obtained, or why there is none (set by `score_customers`; run_info clv_interval)
    interval_note: str | None = None
    #: the customers the choice was made on (run_info model_selection_sample)
    sample_note: str | None = None
    #: the sampling error of the deciding metric between the top two (run_info model_selection_error)
    choice_error: str | None = None


def default_holdout_days(span_days: float, horizon_days: float) -> int:
    """A quarter of the observed span in whole weeks, capped at the horizon (in days; 0 when under a week)."""
    weeks = int(span_days // 28)
    return int(min(weeks * 7, horizon_days))


def fit_models(
    transactions: pl.DataFrame,
    customers: pl.DataFrame,
    *,
    time_unit: str,
    observation_end: datetime,
    settings: ModelSettings,
) -> FittedModels:
    """Fit and select the transaction model and fit the spend model (see the module docstring).

    The candidates are fitted and compared on a stable sample of ``settings.selection_sample`` customers (all of
    them when there are fewer); the chosen model is then fitted on every customer.
    """
    mask = sample_mask(customers.get_column("customer_id"), settings.selection_sample)
    sampled = customers if mask is None else customers.filter(pl.Series(mask))
    observed = transactions if mask is None else transactions.filter(
        pl.col("customer_id").is_in(sampled.get_column("customer_id").implode()))
    x, tx, T = _columns(sampled)
    full = fit_candidates(x, tx, T, time_unit=time_unit, names=settings.models, penalizer_coef=settings.penalizer_coef)
    by_bic = select_model(full)
    holdout_days, reason = _holdout_days(transactions, observation_end, settings)
    selection, note = by_bic, reason
    if holdout_days:
        try:
            selection, note = _select_on_holdout(
                observed, full, by_bic, time_unit=time_unit, observation_end=observation_end,
                days=holdout_days, settings=settings,
            )
        except ClvlensError as exc:
            if settings.holdout is not None:  # a holdout the user asked for that cannot be used is an error
                raise
            note = f"chosen by BIC: the time split could not be used ({exc})"
    choice_error = _choice_error(selection)
    if choice_error is not None and choice_error.within_error:
        note += "; the top two are within sampling error of each other (see model_selection_error)"
    if mask is None:
        sample_note = f"all {customers.height:,} customers"
    else:
        sample_note = (f"{sampled.height:,} of {customers.height:,} customers (stable hash of customer_id; "
                       f"selection_sample = {settings.selection_sample:,})")
        selection, refit_note = _refit_chosen(selection, customers, time_unit, settings)
        note += ("; candidates compared on a sample of the customers (see model_selection_sample; their "
                 f"log-likelihood and BIC on it), {refit_note}")
    spend_model, fallback, spend_note = _fit_spend(customers, time_unit)
    fitted = FittedModels(selection.model, spend_model, fallback, spend_note, selection, settings, time_unit, note)
    fitted.sample_note = sample_note
    if choice_error is not None:
        fitted.choice_error = (f"{selection.criterion} {choice_error.describe()} between "
                               f"{' and '.join(c.name for c in _top_two(selection))}")
    return fitted


def _top_two(selection: ModelSelection) -> list[Candidate]:
    usable = [c for c in selection.candidates if c.model is not None and c.refused is None]
    if selection.criterion == "holdout_mae":
        usable = [c for c in usable if c.holdout_errors is not None]
    return usable[:2]


def _choice_error(selection: ModelSelection) -> PairedDifference | None:
    """The paired difference of the deciding metric between the chosen model and the runner-up: per customer
    absolute holdout errors for holdout MAE, per customer log-likelihood contributions times -2 (as BIC, whose
    penalties are equal for equal parameter counts) for BIC; None with a single candidate."""
    top = _top_two(selection)
    if len(top) < 2:
        return None
    if selection.criterion == "holdout_mae":
        return paired_difference(top[1].holdout_errors, top[0].holdout_errors)  # type: ignore[arg-type]
    data = [getattr(c.model, "_fit_data", None) for c in top]
    a, b = data
    if a is None or b is None or a["w"].size != b["w"].size or not all(
            np.array_equal(u, v) for u, v in zip(a["cols"], b["cols"], strict=True)):
        return None
    # both fits group the same customers into the same rows: per row, -2 x the log-likelihood difference
    # (BIC per customer; equal parameter counts make the penalties cancel), weighted by the row's customers
    d = -2.0 * (top[1].model._loglik(top[1].model._pvec(), b)  # type: ignore[union-attr]
                - top[0].model._loglik(top[0].model._pvec(), a))  # type: ignore[union-attr]
    w = a["w"]
    n = float(w.sum())
    mean = float(w @ d / n)
    se = float(np.sqrt(w @ (d - mean) ** 2 / max(n - 1.0, 1.0) / n))
    return PairedDifference(mean, se, round(n))


def _refit_chosen(
    selection: ModelSelection, customers: pl.DataFrame, time_unit: str, settings: ModelSettings
) -> tuple[ModelSelection, str]:
    """The chosen candidate fitted on every customer (the next one in order when that fit fails)."""
    x, tx, T = _columns(customers)
    failures = []
    for candidate in [c for c in selection.candidates if c.model is not None and c.refused is None]:
        model = TRANSACTION_MODELS[candidate.name](time_unit=time_unit, penalizer_coef=settings.penalizer_coef)
        try:
            model.fit(x, tx, T)
        except ClvlensError as exc:
            failures.append(f"{candidate.name} could not be fitted on all customers ({exc})")
            continue
        candidate.model = model  # the model used: its row states its own fit's figures, on every customer
        candidate.log_likelihood, candidate.bic = model.fit_result_.log_likelihood, model.fit_result_.bic
        chosen = ModelSelection(candidate.name, selection.criterion, selection.candidates, selection.holdout_actual)
        text = f"{candidate.name} fitted on all customers"
        return chosen, "; ".join([*failures, text])
    raise ClvlensError("no model could be fitted on all customers (" + "; ".join(failures) + ")")


def _holdout_days(transactions: pl.DataFrame, observation_end: datetime, settings: ModelSettings) -> tuple[int, str]:
    """The holdout length in days (0 for BIC) and, for BIC, the reason."""
    if settings.holdout == BIC_ONLY:
        return 0, "chosen by BIC, as asked (holdout=bic)"
    if settings.holdout is not None:
        return round(parse_horizon(settings.holdout, "D")), ""
    first = transactions.get_column("timestamp").min()
    span_days = (observation_end - first).days if first is not None else 0  # type: ignore[operator]
    days = default_holdout_days(span_days, parse_horizon(settings.horizon, "D"))
    if days < MIN_HOLDOUT_DAYS:
        return 0, (
            f"chosen by BIC: {span_days} days observed are too short for a time split "
            f"(the holdout would be {days} days, at least {MIN_HOLDOUT_DAYS} needed)"
        )
    return days, ""


def _select_on_holdout(
    transactions: pl.DataFrame,
    full: list[Candidate],
    by_bic: ModelSelection,
    *,
    time_unit: str,
    observation_end: datetime,
    days: int,
    settings: ModelSettings,
) -> tuple[ModelSelection, str]:
    """Rank the full-data fits by the holdout error of the same models fitted on the calibration period."""
    calibration_end = observation_end - timedelta(days=days)
    first = transactions["timestamp"].min()
    if first is None or calibration_end < first:  # type: ignore[operator]
        raise ClvlensError(f"holdout {days} days leaves no customers before {calibration_end.date()}")
    calibration = rfm_summary(
        transactions, time_unit=time_unit, observation_end=observation_end, calibration_end=calibration_end
    )
    if calibration.height == 0:
        raise ClvlensError(f"holdout {days} days leaves no customers before {calibration_end.date()}")
    cx, ctx, cT = _columns(calibration)
    repeaters = int(np.sum(cx > 0))
    if repeaters < MIN_CALIBRATION_REPEATERS:
        raise ClvlensError(
            f"holdout {days} days leaves {repeaters} customers with repeat purchases before {calibration_end.date()}"
            f", at least {MIN_CALIBRATION_REPEATERS} needed"
        )
    on_calibration = fit_candidates(cx, ctx, cT, time_unit=time_unit, names=settings.models,
                                    penalizer_coef=settings.penalizer_coef)
    holdout = (cx, ctx, cT, calibration["frequency_holdout"].to_numpy(), float(calibration["duration_holdout"][0]))
    ranked = select_model(on_calibration, holdout=holdout)
    errors = {c.name: c for c in ranked.candidates if c.holdout_mae is not None}
    for candidate in full:
        scored = errors.get(candidate.name)
        if scored is not None:
            candidate.holdout_mae, candidate.holdout_predicted = scored.holdout_mae, scored.holdout_predicted
            candidate.holdout_errors = scored.holdout_errors
    usable = [c for c in full if c.model is not None and c.holdout_mae is not None]
    if not usable:
        raise ClvlensError("no model could be fitted on both the calibration period and all the data")
    usable.sort(key=lambda c: c.holdout_mae)  # type: ignore[arg-type, return-value]
    rest = [c for c in full if c not in usable]
    rest.sort(key=lambda c: (c.model is None, c.bic if np.isfinite(c.bic) else np.inf))
    selection = ModelSelection(usable[0].name, "holdout_mae", usable + rest, ranked.holdout_actual)
    length = settings.holdout or f"{days // 7}W (default: a quarter of the span, at most the horizon)"
    note = (
        f"chosen by holdout MAE of purchases per customer, holdout {length}: "
        f"{calibration_end.date()} to {observation_end.date()}; BIC would choose {by_bic.chosen}"
    )
    unscored = [c for c in on_calibration if c.model is None and any(f.name == c.name and f.model for f in full)]
    for candidate in unscored:
        note += f"; {candidate.name} not scored: it could not be fitted on the calibration period ({candidate.error})"
    return selection, note


def score_customers(customers: pl.DataFrame, fitted: FittedModels, *, interval: bool = True) -> pl.DataFrame:
    """customer_id plus P(alive), expected purchases over the horizon, expected spend and CLV with its interval
    (``interval=False``: without clv_lower and clv_upper, which :func:`clv_interval_columns` gives).

    The transaction model's figures are evaluated once per distinct (frequency, recency, T) history and given to
    every customer with that history (the same numbers: see :class:`clvlens.models.clv.Histories`)."""
    inputs = _ScoringInputs(customers, fitted)
    x, model = inputs.x, fitted.transaction_model
    horizon = parse_horizon(fitted.settings.horizon, fitted.time_unit)
    expected_spend = (
        fitted.spend_model.conditional_expected_average_profit(x, inputs.monetary)
        if fitted.spend_model is not None
        else np.full(x.shape, fitted.fallback_spend, dtype=float)
    )
    clv = customer_lifetime_value(model, inputs.spend, *inputs.cols, **inputs.common)
    p_alive, expected = alive_and_expected(model, horizon, inputs.common["histories"])
    scores = pl.DataFrame(
        {
            "customer_id": customers["customer_id"],
            "p_alive": p_alive,
            "expected_purchases": expected,
            "expected_spend": expected_spend,
            "clv": clv,
        }
    )
    return scores.with_columns(_interval_columns(inputs, fitted, clv)) if interval else scores


def clv_interval_columns(
    customers: pl.DataFrame, fitted: FittedModels, clv: np.ndarray, factor: float = 1.0
) -> pl.DataFrame:
    """customer_id, clv_lower and clv_upper: the interval of :func:`score_customers`, apart (a run draws it beside
    its strategy and basket steps: see pipeline.run). ``clv``: the customers' CLV, already
    multiplied by ``factor`` (a seasonal factor), by which the bounds are multiplied too, before they are kept
    around ``clv``: the same numbers as scaling the bounds of :func:`score_customers` afterwards, as min and max
    commute with a positive factor."""
    inputs = _ScoringInputs(customers, fitted)
    return customers.select("customer_id").with_columns(_interval_columns(inputs, fitted, clv, factor))


class _ScoringInputs:
    """The customers' columns and the CLV settings every score is computed from."""

    def __init__(self, customers: pl.DataFrame, fitted: FittedModels) -> None:
        self.cols = _columns(customers)
        self.x = self.cols[0]
        settings = fitted.settings
        self.monetary = customers["monetary_value"].fill_null(0.0).to_numpy().astype(float)
        self.spend: Any = fitted.spend_model if fitted.spend_model is not None else fitted.fallback_spend
        histories = Histories(*fitted.transaction_model._cols3(*self.cols))  # type: ignore[attr-defined]
        self.common = {
            "monetary_value": self.monetary,
            "horizon": settings.horizon,
            "discount_rate": settings.discount_rate,
            "margin": settings.margin,
            "histories": histories,
        }


def _interval_columns(
    inputs: _ScoringInputs, fitted: FittedModels, clv: np.ndarray, factor: float = 1.0
) -> list[pl.Series]:
    lower, upper = _clv_interval(fitted.transaction_model, inputs.spend, *inputs.cols, inputs.common, fitted)
    if factor != 1.0:
        lower, upper = lower * factor, upper * factor
    return [
        pl.Series("clv_lower", np.maximum(np.minimum(lower, clv), 0.0), dtype=pl.Float64).fill_nan(None),
        pl.Series("clv_upper", np.maximum(upper, clv), dtype=pl.Float64).fill_nan(None),
    ]


#: seconds the CLV interval's bootstrap may take in a run before it uses the draws done so far
INTERVAL_SECONDS = 30.0


def _clv_interval(
    model: BaseModel, spend: Any, x: np.ndarray, tx: np.ndarray, T: np.ndarray, common: dict[str, Any],
    fitted: FittedModels,
) -> tuple[np.ndarray, np.ndarray]:
    """The CLV interval and, in `fitted.interval_note`, how it was drawn; NaN bounds (null in the table) and
    the reason when no interval can be given. Never the point estimate in disguise."""
    settings = fitted.settings
    report: dict[str, Any] = {}
    try:
        lower, upper = customer_lifetime_value_interval(
            model, spend, x, tx, T, **common, level=settings.interval_level, n_draws=settings.interval_draws,
            time_budget=INTERVAL_SECONDS, report=report,
        )
    except ClvlensError as exc:
        fitted.interval_note = f"not available: {exc}"
        return np.full(x.shape, np.nan), np.full(x.shape, np.nan)
    used, asked = report.get("draws_used", 0), report.get("draws_requested", settings.interval_draws)
    note = f"{settings.interval_level:.0%} from {used} parametric-bootstrap draws"
    if report.get("method") == "linear":
        note += " (linearised)"
    dropped = []
    if report.get("draws_outside_region"):
        dropped.append(f"{report['draws_outside_region']} outside the plausible parameter region")
    if report.get("draws_failed"):
        dropped.append(f"{report['draws_failed']} not computable")
    if report.get("stopped"):
        dropped.append(str(report["stopped"]))
    if used < asked or dropped:
        note += f" of {asked} asked for ({'; '.join(dropped) or 'fewer draws'})"
    if report.get("proposals_refused"):
        note += (f"; drawn inside the plausible parameter region ({report['proposals_refused']:,} of "
                 f"{report['proposals']:,} proposals refused as outside it)")
    fitted.interval_note = note
    return lower, upper


def identification_note(fitted: FittedModels) -> str:
    """One line for run_info: the chosen model's weakly identified parameters and why, or that all are."""
    result = getattr(fitted.transaction_model, "fit_result_", None)
    if result is None:
        return "unknown: the model was not fitted here"
    weak = getattr(result, "weakly_identified", {}) or {}
    if not weak:
        return "all parameters identified"
    return "weakly identified: " + "; ".join(f"{k} ({v})" for k, v in weak.items())


def save_models(fitted: FittedModels, folder: Path) -> list[Path]:
    """Write the transaction model, the spend model and the selection record as JSON files in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    name = fitted.selection.chosen
    path = folder / f"{name}.json"
    fitted.transaction_model.to_json(str(path))  # type: ignore[attr-defined]
    written.append(path)
    if fitted.spend_model is not None:
        fitted.spend_model.to_json(str(folder / SPEND_FILE))  # type: ignore[attr-defined]
        written.append(folder / SPEND_FILE)
    record = {
        "chosen": name,
        "criterion": fitted.selection.criterion,
        "criterion_note": fitted.criterion_note,
        "holdout_actual": fitted.selection.holdout_actual,
        "candidates": fitted.selection.rows(),
        "spend_note": fitted.spend_note,
        "fallback_spend": fitted.fallback_spend,
        "sample_note": fitted.sample_note,
        "choice_error": fitted.choice_error,
        "time_unit": fitted.time_unit,
        "settings": {**asdict(fitted.settings), "models": list(fitted.settings.models)},
    }
    (folder / SELECTION_FILE).write_text(json.dumps(_finite(record), indent=2))
    written.append(folder / SELECTION_FILE)
    return written


def load_models(folder: Path) -> FittedModels:
    """Read back what `save_models` wrote; the loaded models predict exactly what the saved ones did.

    A workspace's DIR/models/ is first checked against the database and restored from it when it belongs to
    another run (see `pipeline.workspace`); a folder swapped by a writer while it was read is read again.
    """
    for _ in range(3):
        source = synced_models_folder(folder)
        stamp = models_stamp(source)
        fitted = _load_models_from(source)
        if models_stamp(source) == stamp:
            return fitted
    raise ClvlensError(f"{folder}: the models kept changing while they were read; try again")


def _load_models_from(folder: Path) -> FittedModels:
    record_path = folder / SELECTION_FILE
    if not record_path.exists():
        raise ClvlensError(f"{folder}: no fitted models here (expected {SELECTION_FILE}; run clvlens fit first)")
    record = json.loads(record_path.read_text())
    model = load_model(folder / f"{record['chosen']}.json")
    spend_path = folder / SPEND_FILE
    spend = load_model(spend_path) if spend_path.exists() else None
    settings = ModelSettings(**{**record["settings"], "models": tuple(record["settings"]["models"])})
    selection = ModelSelection(record["chosen"], record["criterion"], [], record["holdout_actual"])
    fitted = FittedModels(
        model, spend, record["fallback_spend"], record["spend_note"], selection, settings,  # type: ignore[arg-type]
        record["time_unit"], record.get("criterion_note", ""),
    )
    fitted.sample_note, fitted.choice_error = record.get("sample_note"), record.get("choice_error")
    return fitted


def save_settings(folder: Path, settings: ModelSettings) -> None:
    """Rewrite the settings recorded with saved models (after a rescore under new horizon, discount or margin)."""
    record_path = folder / SELECTION_FILE
    record = json.loads(record_path.read_text())
    record["settings"] = {**asdict(settings), "models": list(settings.models)}
    record_path.write_text(json.dumps(_finite(record), indent=2))


def _fit_spend(customers: pl.DataFrame, time_unit: str) -> tuple[GammaGamma | None, float | None, str]:
    repeaters = customers.filter((pl.col("frequency") > 0) & (pl.col("monetary_value") > 0))
    fallback = float(
        (customers["total_value"] / (customers["frequency"] + 1)).mean()  # type: ignore[operator, arg-type]
    )
    if repeaters.height < 10:
        return None, fallback, f"Gamma-Gamma not fitted: only {repeaters.height} customers with repeat purchases"
    try:
        model = GammaGamma(time_unit=time_unit).fit(
            repeaters["frequency"].to_numpy().astype(float), repeaters["monetary_value"].to_numpy()
        )
        model.population_mean_spend()
    except ClvlensError as exc:
        return None, fallback, f"Gamma-Gamma not usable ({exc}); expected spend = mean transaction value"
    return model, None, f"Gamma-Gamma fitted on {repeaters.height:,} customers with repeat purchases"


def _columns(frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        frame["frequency"].to_numpy().astype(float),
        frame["recency"].to_numpy().astype(float),
        frame["T"].to_numpy().astype(float),
    )


def _finite(value: Any) -> Any:
    """JSON-safe copy: NaN and infinities become null (JSON has no NaN), numpy scalars plain numbers."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
