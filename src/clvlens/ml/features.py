"""Per-customer features at a cut-off date and the value label of the window after it.

Everything a feature uses is read from transactions on or before the cut-off date (the whole cut-off day, as in
:func:`clvlens.summary.rfm_summary`); the label is the customer's spend in the window that starts the day after
the cut-off and lasts ``horizon``. Customers are those with at least one purchase on or before the cut-off.

Feature groups (durations in ``time_unit``):

- RFM: ``frequency``, ``recency``, ``T``, ``monetary_value``, ``total_value``, ``first_value`` (first-order value);
- early behaviour: ``revenue_1m``/``orders_1m`` and ``revenue_3m``/``orders_3m``, spend and orders within 30.44
  and 91.31 days of the first purchase, counting only what happened before the cut-off;
- timing: ``gap_mean`` and ``gap_std`` between purchase days (missing with fewer than two/three purchase days),
  ``cohort_month`` (calendar month 1-12 of the first purchase) and ``cohort_age_months``;
- category mix (when a ``category`` column exists): ``cat_share__<name>`` for the top categories by spend at the
  training cut-off, ``cat_share_other`` and ``n_categories``;
- ``region`` of the first purchase (categorical, a string column);
- BTYD: ``btyd_p_alive`` and ``btyd_expected_purchases`` over the horizon from a BG/NBD fitted on the summary at
  the cut-off (missing when that fit fails).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from clvlens.data.readers import frame_to_polars
from clvlens.errors import ClvlensError
from clvlens.models import BetaGeo, parse_horizon
from clvlens.summary import rfm_summary
from clvlens.summary.rfm import UNIT_DAYS

DAYS_1M = 365.25 / 12
DAYS_3M = 3 * 365.25 / 12
TOP_CATEGORIES = 5
DAY = timedelta(days=1)
SIGNIFICANT_DIGITS = 12
_RFM_COLUMNS = ("customer_id", "frequency", "recency", "T", "monetary_value", "total_value", "first_value")


@dataclass(frozen=True)
class FeatureSpec:
    """How features are built; learned at the training cut-off and reused unchanged for every prediction."""

    time_unit: str = "W"
    horizon: str | float = "12M"
    btyd: bool = True
    categories: tuple[str, ...] = field(default_factory=tuple)

    @property
    def horizon_units(self) -> float:
        """The horizon in ``time_unit``."""
        return parse_horizon(self.horizon, self.time_unit)

    @property
    def horizon_days(self) -> float:
        """The horizon in days."""
        return self.horizon_units * UNIT_DAYS[self.time_unit]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        out = asdict(self)
        out["categories"] = list(self.categories)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSpec:
        """Inverse of :meth:`to_dict`."""
        return cls(data["time_unit"], data["horizon"], bool(data["btyd"]), tuple(data.get("categories", ())))


@dataclass(frozen=True)
class LTVDataset:
    """Features at ``cutoff`` and labels from ``(cutoff, label_end)``, aligned row by row on ``customer_id``.

    ``features``: customer_id and one column per feature. ``labels``: customer_id, ``value`` (spend in the label
    window) and ``purchases`` (purchase days in it). ``label_complete`` is False when the data end before the
    label window does (the labels then undercount).
    """

    features: pl.DataFrame
    labels: pl.DataFrame
    spec: FeatureSpec
    cutoff: datetime
    label_end: datetime
    label_complete: bool

    @property
    def feature_names(self) -> list[str]:
        """Feature columns (everything but customer_id)."""
        return [c for c in self.features.columns if c != "customer_id"]

    @property
    def X(self) -> pl.DataFrame:
        """The feature matrix as a Polars frame (no customer_id)."""
        return self.features.drop("customer_id")

    @property
    def y(self) -> np.ndarray:
        """The value label as a float array."""
        return self.labels.get_column("value").to_numpy().astype(float)


def as_datetime(value: Any, name: str) -> datetime:
    """A naive datetime at midnight of the given date (str, date, datetime or pandas Timestamp)."""
    if isinstance(value, datetime):
        stamp = value.replace(tzinfo=None)
    elif isinstance(value, date):
        stamp = datetime(value.year, value.month, value.day)
    elif hasattr(value, "to_pydatetime"):
        stamp = value.to_pydatetime().replace(tzinfo=None)
    else:
        try:
            stamp = datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise ClvlensError(f"{name}: cannot read '{value}' as a date (use YYYY-MM-DD)") from None
    return datetime(stamp.year, stamp.month, stamp.day)


def canonical_transactions(transactions: Any) -> pl.DataFrame:
    """The columns the features need, as Polars, with a checked schema (a :class:`FeatureCache`'s own table)."""
    if isinstance(transactions, FeatureCache):
        return transactions.transactions
    frame = frame_to_polars(transactions)
    for column in ("customer_id", "timestamp", "amount"):
        if column not in frame.columns:
            raise ClvlensError(f"transactions: missing column '{column}'")
    if not frame.schema["timestamp"].is_temporal():
        raise ClvlensError(f"transactions: column 'timestamp' must be a datetime, got {frame.schema['timestamp']}")
    keep = [c for c in ("customer_id", "order_id", "timestamp", "amount", "category", "region") if c in frame.columns]
    frame = frame.select(keep).with_columns(
        pl.col("customer_id").cast(pl.String),
        pl.col("timestamp").cast(pl.Datetime("us")),
        pl.col("amount").cast(pl.Float64),
    )
    if "order_id" not in frame.columns:
        frame = frame.with_columns(pl.col("timestamp").dt.truncate("1d").cast(pl.String).alias("order_id"))
    return frame.with_columns(pl.col("order_id").cast(pl.String))


def last_date(frame: pl.DataFrame) -> datetime:
    """Midnight of the last transaction's day."""
    value = frame.get_column("timestamp").max()
    if value is None:
        raise ClvlensError("transactions: the table is empty")
    return as_datetime(value, "timestamp")


def learn_spec(
    transactions: Any, cutoff: Any, horizon: str | float = "12M", *, time_unit: str = "W", btyd: bool = True
) -> FeatureSpec:
    """The feature spec for a training cut-off: the top categories by spend on or before the cut-off."""
    frame = canonical_transactions(transactions)
    end = as_datetime(cutoff, "cutoff")
    categories: tuple[str, ...] = ()
    if "category" in frame.columns:
        spend = (
            frame.filter((pl.col("timestamp") < end + DAY) & pl.col("category").is_not_null())
            .group_by("category")
            .agg(pl.col("amount").sum())
            .sort(["amount", "category"], descending=[True, False])
        )
        categories = tuple(str(c) for c in spend.get_column("category").head(TOP_CATEGORIES))
    spec = FeatureSpec(time_unit.upper(), horizon, btyd, categories)
    _ = spec.horizon_units  # validate the horizon and the unit early
    return spec


class FeatureCache:
    """A transaction table and the feature parts already built from it, for several models that score the same
    customers at the same date (a run's ML LTV and activity models): pass it wherever ``build_features``,
    ``predict_ltv`` or ``TrainedActivity.predict`` take transactions, and the parts that do not depend on the
    model's spec (RFM, early behaviour, timing, region; the category mix per category list; the BG/NBD fit) are
    built once. At most ``max_parts`` parts are kept (the oldest goes first), so memory stays bounded.
    """

    def __init__(self, transactions: Any, max_parts: int = 8) -> None:
        self.transactions = canonical_transactions(transactions)
        self.max_parts = max_parts
        self._parts: dict[tuple[Any, ...], Any] = {}

    def add_summary(self, summary: pl.DataFrame, end: Any, time_unit: str) -> FeatureCache:
        """Reuse ``summary``, the caller's :func:`~clvlens.summary.rfm_summary` of these transactions at ``end``
        in ``time_unit`` (default merge and periods), instead of computing it again; returns self."""
        key = ("rfm", as_datetime(end, "end"), time_unit.upper())
        self._parts[key] = summary.select(*_RFM_COLUMNS)
        return self

    def part(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        """``compute()`` the first time ``key`` is asked for, the kept result after."""
        if key not in self._parts:
            if len(self._parts) >= self.max_parts:
                del self._parts[next(iter(self._parts))]
            self._parts[key] = compute()
        return self._parts[key]


def build_features(transactions: Any, cutoff: Any, spec: FeatureSpec) -> pl.DataFrame:
    """Features of every customer with a purchase on or before ``cutoff``, from those transactions only.
    ``transactions`` may be a :class:`FeatureCache` (parts built by an earlier call are then reused)."""
    cache = transactions if isinstance(transactions, FeatureCache) else FeatureCache(transactions)
    end = as_datetime(cutoff, "cutoff")
    unit = spec.time_unit
    rfm = cache.part(("rfm", end, unit), lambda: _summary(cache.transactions, end, unit))
    base = cache.part(("base", end, unit), lambda: _base_features(cache.transactions, rfm, end, unit))
    features = base.drop("region")
    if spec.categories:
        mix = cache.part(("mix", end, spec.categories),
                         lambda: _category_mix(seen_by(cache.transactions, end), spec.categories))
        features = features.join(mix, on="customer_id", how="left")
    features = features.join(base.select("customer_id", "region"), on="customer_id", how="left")
    if spec.btyd:
        model = cache.part(("btyd", end, unit), lambda: _btyd_model(rfm, unit))
        features = features.join(_btyd(rfm, model, spec), on="customer_id", how="left")
    # Polars adds a group's amounts in an order that can change from run to run (the last bits of a sum); the
    # boosted trees would turn those bits into different predictions, so every feature is cut to 12 digits
    return features.with_columns(pl.col(pl.Float64).round_sig_figs(SIGNIFICANT_DIGITS)).sort("customer_id")


def seen_by(frame: pl.DataFrame, end: datetime) -> pl.DataFrame:
    """The transactions on or before the day ``end`` (the frame itself when nothing is later: no copy)."""
    bound = end + DAY
    stamps = frame.get_column("timestamp")
    last = stamps.max()
    if last is not None and last < bound and stamps.null_count() == 0:  # type: ignore[operator]
        return frame
    return frame.filter(pl.col("timestamp") < bound)


def _summary(frame: pl.DataFrame, end: datetime, time_unit: str) -> pl.DataFrame:
    seen = seen_by(frame, end)
    if seen.is_empty():
        raise ClvlensError(f"cutoff: no transactions on or before {end.date()}")
    summary = rfm_summary(seen.select("customer_id", "timestamp", "amount"), time_unit=time_unit, observation_end=end)
    return summary.select(*_RFM_COLUMNS)


def _base_features(frame: pl.DataFrame, rfm: pl.DataFrame, end: datetime, time_unit: str) -> pl.DataFrame:
    """The spec-independent features (RFM, early behaviour, timing, region) at ``end``."""
    unit_days = UNIT_DAYS[time_unit]
    features = rfm.select(
        "customer_id", "frequency", "recency", "T", "monetary_value", "total_value", "first_value",
        (pl.col("T") * unit_days / DAYS_1M).alias("cohort_age_months"),
    )
    return features.join(_early_and_timing(seen_by(frame, end), unit_days), on="customer_id", how="left")


def label_window(transactions: Any, cutoff: Any, spec: FeatureSpec) -> tuple[pl.DataFrame, datetime, bool]:
    """Per customer spend and purchase days in ``[cutoff + 1 day, cutoff + 1 day + horizon)``."""
    frame = canonical_transactions(transactions)
    start = as_datetime(cutoff, "cutoff") + DAY
    stop = start + timedelta(days=spec.horizon_days)
    window = frame.filter((pl.col("timestamp") >= start) & (pl.col("timestamp") < stop))
    labels = window.group_by("customer_id").agg(
        pl.col("amount").sum().alias("value"),
        pl.col("timestamp").dt.truncate("1d").n_unique().cast(pl.Int64).alias("purchases"),
    )
    complete = last_date(frame) + DAY >= stop
    return labels, stop, complete


def ltv_dataset(
    transactions: Any,
    cutoff: Any,
    horizon: str | float = "12M",
    *,
    time_unit: str = "W",
    btyd: bool = True,
    spec: FeatureSpec | None = None,
) -> LTVDataset:
    """Features from transactions up to ``cutoff`` and the value label of the ``horizon`` after it.

    ``horizon`` is like "6M", "12M", "39W" or "365D" (365.25 days a year, 7 a week, 365.25/12 a month) or a
    number in ``time_unit``. Pass the ``spec`` of a trained model to build the same feature columns it knows.
    """
    spec = spec or learn_spec(transactions, cutoff, horizon, time_unit=time_unit, btyd=btyd)
    features = build_features(transactions, cutoff, spec)
    labels, stop, complete = label_window(transactions, cutoff, spec)
    ids = features.select("customer_id")
    labels = ids.join(labels, on="customer_id", how="left").with_columns(
        pl.col("value").fill_null(0.0), pl.col("purchases").fill_null(0)
    )
    return LTVDataset(features, labels, spec, as_datetime(cutoff, "cutoff"), stop, complete)


def time_split(
    transactions: Any,
    train_cutoff: Any,
    test_cutoff: Any,
    horizon: str | float = "12M",
    *,
    time_unit: str = "W",
    btyd: bool = True,
    strict: bool = True,
) -> tuple[LTVDataset, LTVDataset]:
    """A training set at ``train_cutoff`` and a test set at the later ``test_cutoff``, with one feature spec.

    With ``strict`` (the default) the training label window must end on or before the test cut-off, so nothing the
    model learns from overlaps what it is tested on.
    """
    train_at = as_datetime(train_cutoff, "train_cutoff")
    test_at = as_datetime(test_cutoff, "test_cutoff")
    if test_at <= train_at:
        raise ClvlensError(f"test_cutoff: {test_at.date()} must be after train_cutoff {train_at.date()}")
    spec = learn_spec(transactions, train_at, horizon, time_unit=time_unit, btyd=btyd)
    train_end = train_at + DAY + timedelta(days=spec.horizon_days)
    if strict and train_end > test_at + DAY:
        raise ClvlensError(
            f"train_cutoff: the training label window ends {train_end.date()}, after test_cutoff {test_at.date()}; "
            "move train_cutoff earlier or shorten the horizon"
        )
    return ltv_dataset(transactions, train_at, spec=spec), ltv_dataset(transactions, test_at, spec=spec)


def _early_and_timing(seen: pl.DataFrame, unit_days: float) -> pl.DataFrame:
    """Early behaviour, timing and region features, vectorised: one group-by for each customer's first purchase
    and an integer code, both set beside the lines, then grouped aggregates on the codes (no window over strings).

    Every query is lazy: an eager group-by over the lines costs about twice the CPU (measured on 10M lines).
    An order counts in a window when any of its lines falls in it, i.e. when it is among the distinct order ids
    of the window's lines. gap_mean/gap_std come from the customer's distinct purchase days, sorted by
    (customer code, day): the gaps between consecutive days are summed per customer with numpy (two passes, so
    that a customer whose gaps are all equal has a standard deviation of exactly 0).
    """
    firsts = (
        seen.lazy().group_by("customer_id").agg(pl.col("timestamp").min().alias("_first"))
        .with_row_index("_code").collect()
    )
    age_days = (pl.col("timestamp") - pl.col("_first")).dt.total_microseconds() / 86_400e6
    # only the two numeric columns come from the join and sit beside the lines: joining the lines themselves
    # would copy their text columns (0.45 GB more at 10M lines)
    coded = (
        seen.lazy().select("customer_id")
        .join(firsts.lazy(), on="customer_id", how="left", maintain_order="left")
        .select("_code", "_first").collect()
    )
    lines = seen.hstack(coded).lazy().with_columns(age_days.alias("_age"))
    in_first_month = pl.col("_age") < DAYS_1M
    early = lines.filter(pl.col("_age") < DAYS_3M).group_by("_code").agg(
        pl.col("amount").filter(in_first_month).sum().alias("revenue_1m"),
        pl.col("amount").sum().alias("revenue_3m"),
        pl.col("order_id").filter(in_first_month).n_unique().cast(pl.Float64).alias("orders_1m"),
        pl.col("order_id").n_unique().cast(pl.Float64).alias("orders_3m"),
    )
    region = (
        lines.filter(pl.col("timestamp") == pl.col("_first")).group_by("_code")
        .agg(pl.col("region").cast(pl.String).min().alias("region"))
        if "region" in seen.columns
        else firsts.lazy().select("_code", pl.lit(None, pl.String).alias("region"))
    )
    day = (pl.col("timestamp").dt.truncate("1d") - pl.col("_first").dt.truncate("1d")).dt.total_days()
    keys = lines.select((pl.col("_code").cast(pl.Int64) * (1 << 32) + day).alias("key")).unique()
    early, region, keys = pl.collect_all([early, region, keys])
    # numpy sorts the distinct keys in about half the time of a sort inside the query
    gap_mean, gap_std = _gap_moments(np.sort(keys.get_column("key").to_numpy()), firsts.height, unit_days)
    out = firsts.select(
        "_code", "customer_id", pl.col("_first").dt.month().cast(pl.Float64).alias("cohort_month"),
        pl.Series("gap_mean", gap_mean).fill_nan(None), pl.Series("gap_std", gap_std).fill_nan(None),
    )
    out = out.join(early, on="_code", how="left").join(region, on="_code", how="left").drop("_code")
    return out.select("customer_id", "revenue_1m", "orders_1m", "revenue_3m", "orders_3m", "cohort_month",
                      "gap_mean", "gap_std", "region")


def _gap_moments(keys: np.ndarray, customers: int, unit_days: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation (ddof 1) of the gaps between a customer's consecutive purchase days, from the
    sorted distinct keys code * 2**32 + day; NaN with fewer than one (mean) or two (deviation) gaps."""
    code = keys >> 32
    day = (keys & 0xFFFFFFFF).astype(np.float64)
    same = code[1:] == code[:-1]
    gaps = np.diff(day)[same] / unit_days
    owner = code[1:][same]
    count = np.bincount(owner, minlength=customers)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(owner, weights=gaps, minlength=customers) / count
        spread = np.bincount(owner, weights=(gaps - mean[owner]) ** 2, minlength=customers)
        std = np.sqrt(spread / (count - 1))
    return np.where(count >= 1, mean, np.nan), np.where(count >= 2, std, np.nan)


def _category_mix(seen: pl.DataFrame, categories: tuple[str, ...]) -> pl.DataFrame:
    total = pl.col("amount").sum()
    shares = [
        ((pl.col("amount") * (pl.col("category") == name).fill_null(False)).sum() / total).alias(category_feature(name))
        for name in categories
    ]
    mix = seen.group_by("customer_id").agg(
        *shares,
        pl.col("category").drop_nulls().n_unique().cast(pl.Float64).alias("n_categories"),
    )
    names = [category_feature(c) for c in categories]
    return mix.with_columns(
        pl.col(names).fill_nan(0.0),
        (1.0 - pl.sum_horizontal(names)).clip(0.0, 1.0).fill_nan(0.0).alias("cat_share_other"),
    )


def category_feature(name: str) -> str:
    """Column name of a category share: ``cat_share__`` and the name in lower-case letters, digits and _."""
    slug = re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_") or "blank"
    return f"cat_share__{slug}"


def _btyd_model(rfm: pl.DataFrame, time_unit: str) -> Any:
    """BG/NBD fitted on the summary (None when no fit converges: the BTYD features are then missing)."""
    x, tx, T = (rfm.get_column(c).to_numpy().astype(float) for c in ("frequency", "recency", "T"))
    for penalizer in (0.0, 0.01, 0.1):  # a small penalty when the plain fit does not converge on a short history
        try:
            return BetaGeo(time_unit=time_unit, penalizer_coef=penalizer).fit(x, tx, T)
        except Exception:  # the BTYD features are optional: any numerical failure leaves them missing
            continue
    return None


def _btyd(rfm: pl.DataFrame, model: Any, spec: FeatureSpec) -> pl.DataFrame:
    x, tx, T = (rfm.get_column(c).to_numpy().astype(float) for c in ("frequency", "recency", "T"))
    alive = expected = np.full(x.size, np.nan)
    if model is not None:
        try:
            alive = model.conditional_probability_alive(x, tx, T)
            expected = model.conditional_expected_number_of_purchases_up_to_time(spec.horizon_units, x, tx, T)
        except Exception:  # as for the fit: missing, never an error
            alive = expected = np.full(x.size, np.nan)
    return rfm.select("customer_id").with_columns(
        pl.Series("btyd_p_alive", np.asarray(alive, dtype=float)),
        pl.Series("btyd_expected_purchases", np.asarray(expected, dtype=float)),
    )
