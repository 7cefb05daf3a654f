"""The RFM summary: the published CDNOW summary to the cent, engines agreeing, holdout, units and edge cases."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clvlens.data import load_cdnow
from clvlens.errors import ClvlensError
from clvlens.summary import customer_attributes, rfm_summary
from clvlens.summary.rfm import sort_by_customer


@pytest.fixture(scope="module")
def cdnow(cdnow_sample: Path) -> pl.DataFrame:
    return load_cdnow(cdnow_sample).transactions


def test_reproduces_published_cdnow_summary(cdnow: pl.DataFrame, cdnow_summary_csv: Path) -> None:
    ours = rfm_summary(cdnow, time_unit="W", observation_end="1997-09-30")
    published = pl.read_csv(cdnow_summary_csv, schema_overrides={"ID": pl.String})
    joined = published.join(ours, left_on="ID", right_on="customer_id", how="full", coalesce=True)
    assert joined.height == published.height == ours.height == 2_357
    assert (joined["frequency"] == joined["frequency_right"]).all()
    assert (joined["recency"] == joined["recency_right"].round(2)).all()
    assert (joined["T"] == joined["T_right"].round(2)).all()


def test_reproduces_published_mean_repeat_spend(cdnow: pl.DataFrame, cdnow_summary_csv: Path) -> None:
    published = pl.read_csv(
        cdnow_summary_csv.with_name("cdnow_customers_summary_with_transactions.csv"),
        schema_overrides={"ID": pl.String},
    )
    ours = rfm_summary(cdnow, time_unit="W", observation_end="1997-09-30")
    joined = published.join(ours, left_on="ID", right_on="customer_id")
    assert joined.height == 2_357
    assert (joined["x"] == joined["frequency"]).all()
    assert (joined["zbar"] - joined["monetary_value"]).abs().max() < 0.01


def test_calibration_and_holdout_match_the_paper(cdnow: pl.DataFrame) -> None:
    table = rfm_summary(cdnow, time_unit="W", observation_end="1998-06-30", calibration_end="1997-09-30")
    # Fader, Hardie & Lee (2005): 2,457 repeat transactions in weeks 1-39, 1,882 in weeks 40-78
    assert table["frequency"].sum() == 2_457
    assert table["frequency_holdout"].sum() == 1_882
    assert (table["frequency"] == 0).sum() == 1_411
    assert table["duration_holdout"].unique().to_list() == [pytest.approx(39.0)]


def test_engines_and_input_kinds_agree(cdnow: pl.DataFrame) -> None:
    reference = sort_by_customer(rfm_summary(cdnow, time_unit="W", observation_end="1997-09-30"))
    relation = duckdb.from_arrow(cdnow.to_arrow())
    others = {
        "duckdb": rfm_summary(relation, time_unit="W", observation_end="1997-09-30", engine="duckdb"),
        "pandas": pl.from_pandas(rfm_summary(cdnow.to_pandas(), time_unit="W", observation_end="1997-09-30")),
        "arrow": pl.from_arrow(rfm_summary(cdnow.to_arrow(), time_unit="W", observation_end="1997-09-30")),
    }
    for name, other in others.items():
        other = sort_by_customer(other).select(reference.columns)
        for column in ("frequency", "recency", "T", "monetary_value", "total_value"):
            left, right = reference[column], other[column].cast(reference[column].dtype)
            assert (left - right).abs().max() < 1e-9, (name, column)


def test_returns_the_input_kind(cdnow: pl.DataFrame) -> None:
    assert isinstance(rfm_summary(cdnow.to_pandas()), pd.DataFrame)
    assert isinstance(rfm_summary(cdnow), pl.DataFrame)


def _frame(rows: list[tuple[str, str, float]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "timestamp": [datetime.fromisoformat(r[1]) for r in rows],
            "amount": [r[2] for r in rows],
        }
    )


def test_same_day_purchases_merge_and_monetary_is_repeat_mean() -> None:
    frame = _frame(
        [
            ("a", "2024-01-01 09:00", 10.0),
            ("a", "2024-01-01 18:00", 5.0),  # same day: one transaction of 15
            ("a", "2024-01-08 10:00", 20.0),
            ("a", "2024-01-15 10:00", 40.0),
            ("b", "2024-01-10 10:00", 7.0),
        ]
    )
    table = sort_by_customer(rfm_summary(frame, time_unit="D", observation_end="2024-01-31"))
    a, b = table.row(0, named=True), table.row(1, named=True)
    assert (a["frequency"], a["recency"], a["T"]) == (2, 14.0, 30.0)
    assert a["monetary_value"] == 30.0 and a["first_value"] == 15.0 and a["total_value"] == 75.0
    assert (b["frequency"], b["recency"], b["T"], b["monetary_value"]) == (0, 0.0, 21.0, 0.0)
    weeks = rfm_summary(frame, time_unit="W", observation_end="2024-01-31").filter(pl.col("customer_id") == "a")
    assert weeks["T"][0] == pytest.approx(30 / 7)
    months = rfm_summary(frame, time_unit="M", observation_end="2024-01-31").filter(pl.col("customer_id") == "a")
    assert months["T"][0] == pytest.approx(30 / (365.25 / 12))  # no hidden 30-day month
    unmerged = rfm_summary(frame, merge=None, observation_end="2024-01-31").filter(pl.col("customer_id") == "a")
    assert unmerged["frequency"][0] == 3


def test_transactions_after_the_end_are_ignored() -> None:
    frame = _frame([("a", "2024-01-01", 1.0), ("a", "2024-01-31 23:59", 2.0), ("a", "2024-02-01", 4.0)])
    table = rfm_summary(frame, observation_end="2024-01-31")
    assert table["frequency"][0] == 1 and table["T"][0] == 30.0


def test_bad_settings_are_one_line_errors() -> None:
    frame = _frame([("a", "2024-01-01", 1.0)])
    with pytest.raises(ClvlensError, match="time unit"):
        rfm_summary(frame, time_unit="Y")
    with pytest.raises(ClvlensError, match="observation_end: cannot read 'soon'"):
        rfm_summary(frame, observation_end="soon")
    with pytest.raises(ClvlensError, match="must be before"):
        rfm_summary(frame, observation_end="2024-01-01", calibration_end="2024-02-01")
    with pytest.raises(ClvlensError, match="empty"):
        rfm_summary(frame.clear())
    with pytest.raises(ClvlensError, match="missing column 'amount'"):
        rfm_summary(frame.drop("amount"), observation_end="2024-01-02")


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from("abcde"), st.integers(0, 400), st.floats(0.01, 1000, allow_nan=False)),
        min_size=1,
        max_size=60,
    )
)
def test_summary_invariants(rows: list[tuple[str, int, float]]) -> None:
    frame = pl.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "timestamp": [datetime(2023, 1, 1) + pd.Timedelta(hours=r[1] * 7) for r in rows],
            "amount": [r[2] for r in rows],
        }
    )
    table = rfm_summary(frame, observation_end="2023-12-31")
    assert table.height == frame["customer_id"].n_unique()
    assert (table["recency"] <= table["T"]).all() and (table["recency"] >= 0).all()
    assert (table["frequency"] >= 0).all()
    assert ((table["frequency"] == 0) == (table["recency"] == 0)).all()
    assert table["total_value"].sum() == pytest.approx(frame["amount"].sum())


def test_customer_attributes(cdnow: pl.DataFrame) -> None:
    table = customer_attributes(cdnow)
    assert table.height == 2_357
    assert table["orders"].sum() == cdnow.height
    assert set(table["cohort"].unique()) == {"1997-01", "1997-02", "1997-03"}


def test_sums_do_not_depend_on_the_order_of_the_lines(online_retail) -> None:
    """UCI Online Retail (a customer has up to thousands of lines): the summary's money columns are the same to the
    bit whatever the order of the lines and on every run (engines add a group's values in an order that can change
    between runs), and each customer's total is within a few units in the last place of the exact sum of its
    lines (math.fsum)."""
    import math

    import numpy as np

    lines = online_retail.transactions.select("customer_id", "timestamp", "amount")
    end = "2011-09-09"
    columns = ["monetary_value", "total_value", "first_value", "frequency_holdout", "monetary_value_holdout",
               "value_holdout"]

    def summary(frame: pl.DataFrame) -> pl.DataFrame:
        table = rfm_summary(frame, time_unit="W", observation_end="2011-12-09", calibration_end=end)
        return table.sort("customer_id").select("customer_id", *columns)

    first = summary(lines)
    for frame in (lines.reverse(), lines.sample(fraction=1.0, shuffle=True, seed=5), lines):
        again = summary(frame)
        for column in columns:
            assert again[column].equals(first[column]), column

    calibration = lines.filter(pl.col("timestamp") < datetime(2011, 9, 10))
    exact = calibration.group_by("customer_id").agg(pl.col("amount")).sort("customer_id")
    exact_totals = np.array([math.fsum(values) for values in exact.get_column("amount").to_list()])
    totals = first.join(exact.select("customer_id"), on="customer_id", how="right").get_column("total_value")
    assert np.all(np.abs(totals.to_numpy() - exact_totals) <= 4 * np.spacing(np.abs(exact_totals)))
