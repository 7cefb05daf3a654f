"""Parity of the RFM summary with lifetimes 0.11.3 and PyMC-Marketing (issue 11): weekly merging, whole against
exact periods, units beyond D/W/M, include_first_transaction, and splits that hold no purchase.

The small log is the one of lifetimes' test of non-daily frequencies; its documented weekly T is 5, 5, 5, 3, 3, 0.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clvlens.data import load_cdnow
from clvlens.errors import ClvlensError
from clvlens.summary import rfm_summary
from clvlens.summary.rfm import sort_by_customer

LOG = [
    ("1", "2015-01-01"), ("1", "2015-02-06"), ("2", "2015-01-01"), ("3", "2015-01-01"), ("3", "2015-01-02"),
    ("3", "2015-01-05"), ("4", "2015-01-16"), ("4", "2015-02-02"), ("4", "2015-02-05"), ("5", "2015-01-16"),
    ("5", "2015-01-17"), ("5", "2015-01-18"), ("6", "2015-02-02"),
]


def _log(rows: list[tuple[str, str]] = LOG, amounts: list[float] | None = None) -> pl.DataFrame:
    return pl.DataFrame({
        "customer_id": [r[0] for r in rows],
        "timestamp": [datetime.fromisoformat(r[1]) for r in rows],
        "amount": amounts if amounts is not None else [float(i + 1) for i in range(len(rows))],
    })


def _columns(table: pl.DataFrame, *names: str) -> list[list[float]]:
    table = sort_by_customer(table)
    return [[float(v) for v in table[n]] for n in names]


@pytest.mark.parametrize("engine", ["polars", "duckdb"])
def test_whole_weeks_reproduce_lifetimes_non_daily_frequencies(engine: str) -> None:
    data = _log() if engine == "polars" else duckdb.from_arrow(_log().to_arrow())
    table = rfm_summary(data, time_unit="W", observation_end="2015-02-07", periods="whole", engine=engine)
    frequency, recency, T = _columns(table, "frequency", "recency", "T")
    assert T == [5, 5, 5, 3, 3, 0]  # lifetimes' documented weekly ages
    # customer 5 bought Friday to Sunday of one Monday-to-Sunday week: one transaction
    assert frequency == [1, 0, 1, 1, 0, 0]
    assert recency == [5, 0, 1, 3, 0, 0]


def test_exact_periods_are_the_default_and_measure_days_over_seven() -> None:
    table = rfm_summary(_log(), time_unit="W", observation_end="2015-02-07")
    (T,) = _columns(table, "T")
    assert T[0] == pytest.approx(37 / 7)  # 1 Jan to 7 Feb: 37 days, not 5 whole weeks
    assert T[3] == pytest.approx(22 / 7)


@pytest.mark.parametrize("engine", ["polars", "duckdb"])
def test_weekly_merge_runs_and_aligns_the_observation_end(engine: str) -> None:
    data = _log() if engine == "polars" else duckdb.from_arrow(_log().to_arrow())
    table = rfm_summary(data, time_unit="D", merge="W", observation_end="2015-02-07", engine=engine)
    frequency, T = _columns(table, "frequency", "T")
    assert frequency == [1, 0, 1, 1, 0, 0]
    # first purchases moved to Monday 29 Dec / 12 Jan / 2 Feb and the end (Saturday 7 Feb) to Monday 2 Feb:
    # T counts the days between week starts, never the five days from 2 Feb to 7 Feb
    assert T == [35, 35, 35, 21, 21, 0]


def test_whole_calibration_and_holdout_follow_the_same_periods() -> None:
    table = rfm_summary(
        _log(), time_unit="W", calibration_end="2015-01-20", observation_end="2015-02-07", periods="whole"
    )
    table = sort_by_customer(table)
    assert table["customer_id"].to_list() == ["1", "2", "3", "4", "5"]  # customer 6 starts in the holdout
    assert table["duration_holdout"].to_list() == [2.0] * 5  # week of 19 Jan to week of 2 Feb
    assert table["T"].to_list() == [3.0, 3.0, 3.0, 1.0, 1.0]
    # customer 4 bought twice in the week of 2 Feb: one holdout transaction
    assert table["frequency_holdout"].to_list() == [1, 0, 0, 1, 0]
    exact = rfm_summary(_log(), time_unit="W", calibration_end="2015-01-20", observation_end="2015-02-07")
    assert exact["duration_holdout"][0] == pytest.approx(18 / 7)


def test_a_week_straddling_the_calibration_end_is_split_on_the_raw_dates() -> None:
    rows = [("a", "2015-01-05"), ("a", "2015-01-13"), ("a", "2015-01-15")]  # Tue 13 Jan | Thu 15 Jan
    table = rfm_summary(_log(rows), time_unit="D", merge="W", calibration_end="2015-01-14",
                        observation_end="2015-01-31")
    assert table["frequency"][0] == 1 and table["frequency_holdout"][0] == 1


def test_hours_quarters_and_multiples() -> None:
    rows = [("a", "2024-01-01 09:15"), ("a", "2024-01-01 13:40"), ("a", "2024-04-02 10:00"), ("b", "2024-05-20")]
    frame = _log(rows)
    hours = sort_by_customer(rfm_summary(frame, time_unit="4H", observation_end="2024-06-30"))
    # hourly units merge by the hour: 09:00 and 13:00 are two transactions; the end is the last hour of 30 June
    assert hours["frequency"][0] == 2
    assert hours["recency"][0] == pytest.approx((datetime(2024, 4, 2, 10) - datetime(2024, 1, 1, 9)).total_seconds()
                                               / 3600 / 4)
    assert hours["T"][0] == pytest.approx((datetime(2024, 6, 30, 23) - datetime(2024, 1, 1, 9)).total_seconds()
                                          / 3600 / 4)
    quarters = sort_by_customer(rfm_summary(frame, time_unit="Q", observation_end="2024-12-31", periods="whole"))
    assert quarters["T"].to_list() == [3.0, 2.0] and quarters["recency"].to_list() == [1.0, 0.0]
    exact_q = sort_by_customer(rfm_summary(frame, time_unit="1Q", observation_end="2024-12-31"))
    assert exact_q["T"][1] == pytest.approx(225 / (365.25 / 4))
    two_weeks = sort_by_customer(rfm_summary(_log(), time_unit="2W", observation_end="2015-02-07", periods="whole"))
    assert two_weeks["T"].to_list() == [2.5, 2.5, 2.5, 1.5, 1.5, 0.0]  # whole weeks / 2, like freq_multiplier
    with pytest.raises(ClvlensError, match="time unit"):
        rfm_summary(frame, time_unit="0W")


def test_include_first_transaction_has_pymc_marketing_semantics() -> None:
    table = sort_by_customer(rfm_summary(_log(), time_unit="D", observation_end="2015-02-07",
                                         include_first_transaction=True))
    first = table.row(0, named=True)
    # customer 1: purchases of 1 and 2 on 1 Jan and 6 Feb; the end is 7 Feb
    assert first["frequency"] == 2
    assert first["recency"] == 1.0  # days since the last purchase (segmentation recency)
    assert first["T"] == 37.0
    assert first["monetary_value"] == 1.5  # the mean of every transaction
    plain = sort_by_customer(rfm_summary(_log(), time_unit="D", observation_end="2015-02-07"))
    assert (table["frequency"] == plain["frequency"] + 1).all()


def test_a_split_before_every_transaction_is_a_one_line_error() -> None:
    with pytest.raises(ClvlensError, match="calibration_end 2014-06-30 falls before the first transaction") as err:
        rfm_summary(_log(), calibration_end="2014-06-30", observation_end="2015-02-07")
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="observation_end 2014-06-30 falls before"):  # a ValueError too
        rfm_summary(_log(), observation_end="2014-06-30")
    with pytest.raises(ClvlensError, match="periods"):
        rfm_summary(_log(), periods="rounded")


def test_whole_periods_match_lifetimes_on_cdnow(cdnow_sample: Path) -> None:
    lifetimes_utils = pytest.importorskip("lifetimes.utils", reason="lifetimes (bench extra) not installed")
    cdnow = load_cdnow(cdnow_sample).transactions.select("customer_id", "timestamp", "amount")
    # a Sunday: lifetimes keeps the whole week holding its observation end (purchases after the end included),
    # clvlens stops at the end date; on a week's last day both read the same purchases
    for unit in ("W", "D"):
        theirs = lifetimes_utils.summary_data_from_transaction_data(
            cdnow.to_pandas(), "customer_id", "timestamp", monetary_value_col="amount",
            observation_period_end="1997-09-28", freq=unit,
        )
        ours = rfm_summary(cdnow, time_unit=unit, observation_end="1997-09-28", periods="whole").to_pandas()
        ours = ours.set_index("customer_id").loc[theirs.index]
        for column in ("frequency", "recency", "T", "monetary_value"):
            np.testing.assert_allclose(ours[column].to_numpy(float), theirs[column].to_numpy(float), atol=1e-9)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from("abcd"), st.integers(0, 24 * 400)), min_size=1, max_size=40),
    st.sampled_from(["W", "M", "Q", "2W", "D", "4H"]),
    st.sampled_from(["whole", "exact"]),
)
def test_engines_agree_and_whole_periods_are_whole(rows: list[tuple[str, int]], unit: str, periods: str) -> None:
    frame = pl.DataFrame({
        "customer_id": [r[0] for r in rows],
        "timestamp": [datetime(2023, 1, 1) + timedelta(hours=r[1]) for r in rows],
        "amount": [1.0] * len(rows),
    })
    polars_table = sort_by_customer(rfm_summary(frame, time_unit=unit, observation_end="2024-02-10",
                                                periods=periods))
    duck_table = sort_by_customer(rfm_summary(duckdb.from_arrow(frame.to_arrow()), time_unit=unit,
                                              observation_end="2024-02-10", periods=periods, engine="duckdb"))
    for column in ("frequency", "recency", "T", "monetary_value"):
        np.testing.assert_allclose(polars_table[column].to_numpy(), duck_table[column].to_numpy(), atol=1e-9)
    assert (polars_table["recency"] <= polars_table["T"] + 1e-9).all()
    assert ((polars_table["frequency"] == 0) == (polars_table["recency"] == 0)).all()
    if periods == "whole":
        multiple = int(unit[:-1]) if len(unit) > 1 else 1
        for column in ("recency", "T"):
            whole = polars_table[column].to_numpy() * multiple
            np.testing.assert_allclose(whole, np.round(whole), atol=1e-9)
