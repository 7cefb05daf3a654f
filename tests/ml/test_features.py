"""Features at a cut-off: definitions, strict time splits and no leakage from after the cut-off."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from clvlens.errors import ClvlensError
from clvlens.ml import FeatureSpec, build_features, learn_spec, ltv_dataset, time_split
from clvlens.ml.features import label_window

CUTOFF = datetime(2023, 12, 31)


def _tiny() -> pl.DataFrame:
    rows = [
        ("a", "1", datetime(2023, 1, 1, 10), 10.0, "x", "north"),
        ("a", "2", datetime(2023, 1, 20, 9), 20.0, "y", "south"),
        ("a", "2", datetime(2023, 1, 20, 9), 5.0, "x", "south"),
        ("a", "3", datetime(2023, 3, 15), 30.0, "x", "south"),
        ("a", "4", datetime(2023, 3, 20), 1000.0, "x", "south"),  # after the cut-off used below
        ("b", "5", datetime(2023, 2, 1), 50.0, "y", "east"),
        ("b", "6", datetime(2023, 4, 1), 7.0, "y", "east"),  # label window
        ("c", "7", datetime(2023, 4, 2), 99.0, "x", "west"),  # first purchase after the cut-off
    ]
    return pl.DataFrame(rows, schema=["customer_id", "order_id", "timestamp", "amount", "category", "region"],
                        orient="row")


def test_features_and_labels_match_their_definitions() -> None:
    data = ltv_dataset(_tiny(), "2023-03-15", "30D", time_unit="D", btyd=False)
    f = data.features.to_dicts()
    a, b = f[0], f[1]
    assert [r["customer_id"] for r in f] == ["a", "b"]  # c first buys after the cut-off
    assert a["frequency"] == 2 and a["recency"] == 73 and a["T"] == 73
    assert a["total_value"] == 65.0 and a["first_value"] == 10.0 and a["monetary_value"] == pytest.approx(27.5)
    assert a["revenue_1m"] == 35.0 and a["orders_1m"] == 2 and a["revenue_3m"] == 65.0 and a["orders_3m"] == 3
    assert a["gap_mean"] == pytest.approx((19 + 54) / 2) and a["gap_std"] == pytest.approx(np.std([19, 54], ddof=1))
    assert a["region"] == "north" and a["cohort_month"] == 1
    assert a["cat_share__x"] == pytest.approx(45 / 65) and a["cat_share__y"] == pytest.approx(20 / 65)
    assert b["gap_mean"] is None and b["cat_share__y"] == 1.0 and b["n_categories"] == 1
    labels = dict(zip(data.labels["customer_id"], data.labels["value"], strict=True))
    assert labels == {"a": 1000.0, "b": 7.0}
    assert data.label_end == datetime(2023, 4, 15) and data.label_complete is False


def test_horizon_strings_use_average_calendar_lengths() -> None:
    assert FeatureSpec("W", "12M").horizon_days == pytest.approx(365.25)
    assert FeatureSpec("W", "6M").horizon_units == pytest.approx(365.25 / 2 / 7)
    assert FeatureSpec("W", "39W").horizon_days == 273
    assert FeatureSpec("D", "365D").horizon_units == 365
    with pytest.raises(ClvlensError, match="horizon"):
        _ = FeatureSpec("W", "12 parsecs").horizon_units


def _perturb_after(frame: pl.DataFrame, cutoff: datetime, seed: int) -> pl.DataFrame:
    """Change every transaction after the cut-off day and add new ones (also for existing customers)."""
    rng = np.random.default_rng(seed)
    after = pl.col("timestamp") >= cutoff + timedelta(days=1)
    before, later = frame.filter(~after), frame.filter(after)
    later = later.with_columns(
        pl.Series("amount", rng.uniform(1, 5000, later.height)),
        (pl.col("timestamp") + pl.duration(days=rng.integers(0, 30))).alias("timestamp"),
        pl.lit("zz_new_category").alias("category"),
    )
    extra = before.sample(200, seed=seed, with_replacement=True).with_columns(
        (pl.lit(cutoff) + pl.duration(days=rng.integers(1, 200))).alias("timestamp"),
        pl.lit(123_456.0).alias("amount"),
    )
    parts = [part.cast({"timestamp": frame.schema["timestamp"]}) for part in (before, later, extra)]
    return pl.concat(parts).sample(fraction=1.0, shuffle=True, seed=seed)


def test_features_ignore_everything_after_the_cutoff(demo_transactions: pl.DataFrame) -> None:
    spec = learn_spec(demo_transactions, CUTOFF, "6M")
    original = build_features(demo_transactions, CUTOFF, spec)
    for seed in (1, 2):
        perturbed = _perturb_after(demo_transactions, CUTOFF, seed)
        assert learn_spec(perturbed, CUTOFF, "6M") == spec
        assert_frame_equal(build_features(perturbed, CUTOFF, spec), original)
    assert original.get_column("btyd_p_alive").is_not_nan().all()


def test_labels_change_only_with_the_label_window(demo_transactions: pl.DataFrame) -> None:
    base = ltv_dataset(demo_transactions, CUTOFF, "3M", btyd=False)
    later = demo_transactions.with_columns(
        pl.when(pl.col("timestamp") >= base.label_end).then(pl.col("amount") * 10).otherwise(pl.col("amount"))
    )
    assert_frame_equal(ltv_dataset(later, CUTOFF, "3M", btyd=False).labels, base.labels)
    assert base.labels.get_column("value").sum() > 0


def test_time_split_is_strict(demo_transactions: pl.DataFrame) -> None:
    train, test = time_split(demo_transactions, "2023-06-30", "2023-12-31", "6M", btyd=False)
    assert train.label_end <= test.cutoff + timedelta(days=1)
    assert train.spec == test.spec and train.feature_names == test.feature_names
    assert test.features.height > train.features.height
    with pytest.raises(ClvlensError, match="train_cutoff"):
        time_split(demo_transactions, "2023-09-30", "2023-12-31", "6M")
    with pytest.raises(ClvlensError, match="test_cutoff"):
        time_split(demo_transactions, "2023-12-31", "2023-06-30", "6M")
    loose, _ = time_split(demo_transactions, "2023-09-30", "2023-12-31", "6M", strict=False, btyd=False)
    assert loose.label_end > datetime(2024, 1, 1)


def test_bad_inputs_raise_one_line_errors(demo_transactions: pl.DataFrame) -> None:
    with pytest.raises(ClvlensError, match="cutoff"):
        ltv_dataset(demo_transactions, "2020-01-01", "6M")
    with pytest.raises(ClvlensError, match="amount"):
        ltv_dataset(demo_transactions.drop("amount"), CUTOFF, "6M")
    with pytest.raises(ClvlensError, match="cutoff"):
        ltv_dataset(demo_transactions, "not a date", "6M")


def test_works_without_optional_columns(demo_transactions: pl.DataFrame) -> None:
    bare = demo_transactions.select("customer_id", "timestamp", "amount")
    data = ltv_dataset(bare, CUTOFF, "6M", btyd=False)
    assert not any(c.startswith("cat_share") for c in data.feature_names)
    assert data.features.get_column("region").null_count() == data.features.height
    assert data.features.get_column("orders_1m").min() >= 1


def _reference_early_and_timing(seen: pl.DataFrame, unit_days: float) -> pl.DataFrame:
    """The early, timing and region features straight from their definitions (windows over each customer)."""
    first = pl.col("timestamp").min().over("customer_id")
    lines = seen.with_columns(((pl.col("timestamp") - first).dt.total_seconds() / 86_400.0).alias("_age"),
                              first.alias("_first"))
    early = lines.group_by("customer_id").agg(
        pl.col("amount").filter(pl.col("_age") < 365.25 / 12).sum().alias("revenue_1m"),
        pl.col("order_id").filter(pl.col("_age") < 365.25 / 12).n_unique().cast(pl.Float64).alias("orders_1m"),
        pl.col("amount").filter(pl.col("_age") < 3 * 365.25 / 12).sum().alias("revenue_3m"),
        pl.col("order_id").filter(pl.col("_age") < 3 * 365.25 / 12).n_unique().cast(pl.Float64).alias("orders_3m"),
        pl.col("_first").first().dt.month().cast(pl.Float64).alias("cohort_month"),
        pl.col("region").filter(pl.col("_age") == 0).cast(pl.String).min().alias("region"),
    )
    gaps = (
        seen.select("customer_id", pl.col("timestamp").dt.truncate("1d").alias("day")).unique()
        .sort("customer_id", "day")
        .with_columns((pl.col("day").diff().over("customer_id").dt.total_seconds() / 86_400.0 / unit_days).alias("g"))
        .group_by("customer_id")
        .agg(pl.col("g").drop_nulls().mean().alias("gap_mean"), pl.col("g").drop_nulls().std().alias("gap_std"))
    )
    return early.join(gaps, on="customer_id", how="left")


def test_vectorised_features_equal_their_definitions(demo_transactions: pl.DataFrame) -> None:
    from clvlens.ml.features import _early_and_timing, canonical_transactions

    seen = canonical_transactions(demo_transactions).filter(pl.col("timestamp") < CUTOFF + timedelta(days=1))
    fast = _early_and_timing(seen, 7.0).sort("customer_id")
    slow = _reference_early_and_timing(seen, 7.0).sort("customer_id").select(fast.columns)
    assert fast["customer_id"].equals(slow["customer_id"]) and fast["region"].equals(slow["region"])
    for name in ("revenue_1m", "orders_1m", "revenue_3m", "orders_3m", "cohort_month", "gap_mean", "gap_std"):
        assert fast[name].is_null().equals(slow[name].is_null()), name
        np.testing.assert_allclose(fast[name].to_numpy(), slow[name].to_numpy(), rtol=1e-9, atol=1e-12,
                                   equal_nan=True, err_msg=name)


def test_feature_cache_builds_exactly_what_a_fresh_build_does_on_real_data(online_retail) -> None:
    """Two specs at one date from one cache (the run's ML LTV and activity models): each equals its own fresh
    build, though the second reuses the first's RFM, timing and BG/NBD parts; a third date builds its own."""
    from clvlens.ml import FeatureCache

    frame = online_retail.transactions
    end = frame.get_column("timestamp").max().replace(hour=0, minute=0, second=0, microsecond=0)
    earlier = end - timedelta(days=90)
    value_spec = learn_spec(frame, end - timedelta(days=365), "12M")
    activity_spec = learn_spec(frame, end - timedelta(days=120), 120 / 7)
    cache = FeatureCache(frame)
    for cutoff, spec in ((end, value_spec), (end, activity_spec), (earlier, value_spec)):
        assert_frame_equal(build_features(cache, cutoff, spec), build_features(frame, cutoff, spec))
    assert {key[0] for key in cache._parts} == {"rfm", "base", "btyd"} | ({"mix"} if value_spec.categories else set())
    assert sum(key[0] == "base" for key in cache._parts) == 2  # one per date, not one per spec
    from clvlens.summary import rfm_summary

    given = FeatureCache(frame).add_summary(rfm_summary(frame, time_unit="W", observation_end=end), end, "w")
    assert_frame_equal(build_features(given, end, value_spec), build_features(frame, end, value_spec))
    assert len(given._parts) == 3 + bool(value_spec.categories)  # the given summary, not a second one
    with_btyd = build_features(cache, end, activity_spec)
    assert with_btyd.get_column("btyd_expected_purchases").drop_nulls().len() > 0
    assert not with_btyd.get_column("btyd_expected_purchases").equals(
        build_features(cache, end, value_spec).get_column("btyd_expected_purchases"))  # the horizon is the spec's


def test_feature_cache_keeps_a_bounded_number_of_parts(demo_transactions) -> None:
    from clvlens.ml import FeatureCache

    cache = FeatureCache(demo_transactions, max_parts=2)
    spec = learn_spec(demo_transactions, datetime(2024, 1, 1), "6M")
    assert spec.categories  # the category mix is one of the cached parts
    for day in range(5):
        cutoff = datetime(2024, 6, 1) + timedelta(days=day)
        assert_frame_equal(build_features(cache, cutoff, spec), build_features(demo_transactions, cutoff, spec))
        assert len(cache._parts) <= 2


def test_features_are_the_same_to_the_bit_in_every_build(online_retail) -> None:
    """Polars may add a customer's amounts in a different order each time; the features must not show it, or
    LightGBM's predictions would change from run to run on the same log."""
    frame = online_retail.transactions
    end = frame.get_column("timestamp").max()
    spec = learn_spec(frame, end, "6M")
    first = build_features(frame, end, spec)
    for _ in range(3):
        assert_frame_equal(build_features(frame, end, spec), first, check_exact=True)


def test_category_shares_and_labels_are_the_same_to_the_bit_in_every_build(demo_transactions: pl.DataFrame) -> None:
    """The demo store has categories: 1 - (sum of the named shares) is 0 or 2**-53 depending on the order of the
    sums, and a tree can split between the two (a lazy group-by sums in a changing order; an eager one does not)."""
    end = demo_transactions.get_column("timestamp").max()
    cutoff = end - timedelta(days=200)
    spec = learn_spec(demo_transactions, cutoff, "6M")
    assert spec.categories
    first = build_features(demo_transactions, end, spec)
    labels = label_window(demo_transactions, cutoff, spec)[0].sort("customer_id")
    for _ in range(6):
        assert_frame_equal(build_features(demo_transactions, end, spec), first, check_exact=True)
        assert_frame_equal(label_window(demo_transactions, cutoff, spec)[0].sort("customer_id"), labels,
                           check_exact=True)


def test_an_activity_model_trains_into_a_feature_cache_only_when_it_reads_all_of_it(
        demo_transactions: pl.DataFrame) -> None:
    """train_activity builds its features into a FeatureCache it is given when nothing in it lies after as_of (the
    classifier is the same as from the frame); a cache holding later lines is not used, so no label can come
    from past as_of."""
    from datetime import datetime, timedelta

    from clvlens.ml import FeatureCache
    from clvlens.ml.activity import train_activity

    end = datetime(2024, 12, 31)
    cache = FeatureCache(demo_transactions)
    from_cache = train_activity(cache, as_of=end, window_days=91, time_unit="W")
    from_frame = train_activity(demo_transactions, as_of=end, window_days=91, time_unit="W")
    cutoff = end - timedelta(days=91)
    assert ("base", cutoff, "W") in cache._parts
    scored = from_cache.predict(demo_transactions, end)
    assert scored.equals(from_frame.predict(demo_transactions, end))
    earlier = end - timedelta(days=182)
    later = FeatureCache(demo_transactions)
    train_activity(later, as_of=earlier, window_days=91, time_unit="W")
    assert later._parts == {}  # the lines after as_of would have reached the labels
