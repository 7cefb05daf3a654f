"""Model checks from a transaction log (issue 11): expected against actual cumulative repeat transactions on
CDNOW (FHL 2005 figure 2), their period semantics, one customer's P(alive) path, and both figures."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest

from clvlens.analytics.model_checks import (
    alive_path_from_transactions,
    expected_cumulative_transactions,
    plot_alive_path,
    plot_cumulative_transactions,
)
from clvlens.data import load_cdnow
from clvlens.errors import ClvlensError
from clvlens.models import BetaGeo

BGNBD_WEEKS = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}  # FHL (2005), CDNOW in weeks


@pytest.fixture(scope="module")
def cdnow_log(cdnow_sample: Path) -> pl.DataFrame:
    return load_cdnow(cdnow_sample).transactions.select("customer_id", "timestamp", "amount")


def test_cdnow_tracking_reproduces_the_published_totals(cdnow_log: pl.DataFrame) -> None:
    model = BetaGeo.from_params(BGNBD_WEEKS, time_unit="W")
    table = expected_cumulative_transactions(model, cdnow_log, t=546, step=7)  # 78 weeks of days
    assert table.height == 78 and table["period"][-1] == 546
    assert table["date"][-1] == datetime(1998, 7, 1)  # the end of 30 June 1998
    # FHL (2005) figure 2: 4,339 actual and about 4,166 expected repeat transactions by week 78
    assert table["actual_cumulative"][-1] == 4339
    assert table["expected_cumulative"][-1] == pytest.approx(4166, rel=0.003)
    assert np.all(np.diff(table["expected_cumulative"].to_numpy()) >= 0)
    assert table["actual_incremental"].sum() == 4339


def test_period_semantics_on_a_small_log() -> None:
    log = pl.DataFrame({
        "customer_id": ["a", "a", "a", "a", "b"],
        "timestamp": [datetime(2024, 1, 1, 9), datetime(2024, 1, 1, 17), datetime(2024, 1, 3),
                      datetime(2024, 1, 5), datetime(2024, 1, 2)],
    })
    model = BetaGeo.from_params(BGNBD_WEEKS, time_unit="W")
    table = expected_cumulative_transactions(model, log, t=5)
    # repeats of a on days 2 and 4 (0-based); day 0's two purchases are one transaction. Row k = end of day k-1.
    assert table["actual_cumulative"].to_list() == [0, 0, 1, 1, 2]
    # at the end of day 0 only a is born (one day old); b joins from the end of day 1
    one_day = float(model.expected_number_of_purchases_up_to_time(1 / 7))
    assert table["expected_cumulative"][0] == pytest.approx(one_day)
    two_days = float(model.expected_number_of_purchases_up_to_time(2 / 7))
    assert table["expected_cumulative"][1] == pytest.approx(two_days + one_day)
    with pytest.raises(ClvlensError, match="step"):
        expected_cumulative_transactions(model, log, t=5, step=0)


def test_matches_lifetimes_when_installed(cdnow_log: pl.DataFrame) -> None:
    utils = pytest.importorskip("lifetimes.utils", reason="lifetimes (bench extra) not installed")
    from lifetimes import BetaGeoFitter

    theirs_model = BetaGeoFitter()
    per_day = {k: v * (7 if k == "alpha" else 1) for k, v in BGNBD_WEEKS.items()}  # alpha scales time
    theirs_model.params_ = pd.Series(per_day)
    theirs = utils.expected_cumulative_transactions(theirs_model, cdnow_log.to_pandas(), "timestamp",
                                                    "customer_id", t=200, freq="D")
    ours = expected_cumulative_transactions(BetaGeo.from_params(BGNBD_WEEKS, time_unit="W"), cdnow_log, t=200)
    np.testing.assert_allclose(ours["actual_cumulative"].to_numpy(), theirs["actual"].to_numpy())
    np.testing.assert_allclose(ours["expected_cumulative"].to_numpy(), theirs["predicted"].to_numpy(), rtol=1e-9)


def test_alive_path_of_one_cdnow_customer(cdnow_log: pl.DataFrame) -> None:
    model = BetaGeo.from_params(BGNBD_WEEKS, time_unit="W")
    path = alive_path_from_transactions(model, cdnow_log, "1056", t=300)
    days = (cdnow_log.filter(pl.col("customer_id") == "1056").get_column("timestamp").dt.date().unique().sort())
    first = days[0]
    assert path.height == 301 and path["date"][0] == datetime(first.year, first.month, first.day)
    bought = [(d - first).days for d in days if (d - first).days <= 300]
    assert path["frequency"][-1] == len(bought) - 1
    at = bought[1]  # the day of the first repeat purchase: recency is that age, in weeks
    assert path["recency"][at] == pytest.approx(at / 7) and path["frequency"][at] == 1
    expected = model.conditional_probability_alive(path["frequency"].to_numpy(), path["recency"].to_numpy(),
                                                   path["age"].to_numpy() / 7)
    np.testing.assert_allclose(path["p_alive"].to_numpy(), expected)
    figure = plot_alive_path(path)
    assert len(figure.data) == 2 and len(figure.data[1].x) == len(bought)
    tracked = plot_cumulative_transactions(expected_cumulative_transactions(model, cdnow_log, t=70, step=7),
                                           incremental=True)
    assert [trace.name for trace in tracked.data] == ["actual", "model"]
    with pytest.raises(ClvlensError, match="no transaction"):
        alive_path_from_transactions(model, cdnow_log, "nobody")
