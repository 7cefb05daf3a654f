"""RFM scores and named segments: the tie rule, orientation, the rule table and its catch-all."""

from __future__ import annotations

import itertools

import numpy as np
import polars as pl
import pytest

from clvlens.analytics import CATCH_ALL, RFM_RULES, RfmRule, plot_rfm_segments, rfm_grid, rfm_segments
from clvlens.analytics.rfm_segments import assign_segments, segment_names
from clvlens.errors import ClvlensError


def _score_by_hand(values: np.ndarray, higher_is_better: bool = True) -> np.ndarray:
    oriented = values if higher_is_better else -values
    worse = np.array([(oriented < v).sum() for v in oriented])
    return np.minimum(1 + np.floor(5 * worse / len(values)), 5).astype(int)


def test_every_customer_gets_exactly_one_segment(demo_customers: pl.DataFrame) -> None:
    table = rfm_segments(demo_customers)
    assert table.columns == ["customer_id", "rfm_r", "rfm_f", "rfm_m", "rfm_segment"]
    assert table.height == demo_customers.height
    assert table["customer_id"].n_unique() == demo_customers.height
    assert table["rfm_segment"].null_count() == 0
    assert set(table["rfm_segment"]) <= set(segment_names())
    for column in ("rfm_r", "rfm_f", "rfm_m"):
        assert table[column].min() >= 1 and table[column].max() <= 5


def test_scores_follow_the_documented_rule(demo_customers: pl.DataFrame) -> None:
    sample = demo_customers.head(600)
    table = rfm_segments(sample)
    since_last = np.round(sample["T"].to_numpy() - sample["recency"].to_numpy(), 6)
    assert (table["rfm_r"].to_numpy() == _score_by_hand(since_last, higher_is_better=False)).all()
    assert (table["rfm_f"].to_numpy() == _score_by_hand(sample["frequency"].to_numpy().astype(float))).all()
    assert (table["rfm_m"].to_numpy() == _score_by_hand(sample["total_value"].to_numpy())).all()


def test_ties_share_a_score_and_unfillable_quintiles_stay_empty(demo_customers: pl.DataFrame) -> None:
    table = rfm_segments(demo_customers).join(demo_customers.select("customer_id", "frequency"), on="customer_id")
    per_value = table.group_by("frequency").agg(pl.col("rfm_f").n_unique())
    assert (per_value["rfm_f"] == 1).all()
    assert (table.filter(pl.col("frequency") == 0)["rfm_f"] == 1).all()
    one_time = (demo_customers["frequency"] == 0).mean()
    assert one_time > 0.4  # so F = 2 cannot be filled
    assert 2 not in set(table["rfm_f"])


def test_more_recent_means_higher_recency_score(demo_customers: pl.DataFrame) -> None:
    table = rfm_segments(demo_customers).join(demo_customers.select("customer_id", "T", "recency"), on="customer_id")
    ordered = table.with_columns((pl.col("T") - pl.col("recency")).alias("since")).sort("since")
    assert (ordered["rfm_r"].diff().drop_nulls() <= 0).all()


def _segment_by_hand(r: int, f: int, m: int) -> str:
    for rule in RFM_RULES:
        if rule.r[0] <= r <= rule.r[1] and rule.f[0] <= f <= rule.f[1] and rule.m[0] <= m <= rule.m[1]:
            return rule.segment
    return CATCH_ALL


def test_rule_table_first_match_wins_on_every_score_combination() -> None:
    combos = list(itertools.product(range(1, 6), repeat=3))
    scores = pl.DataFrame(combos, schema=["rfm_r", "rfm_f", "rfm_m"], orient="row")
    table = assign_segments(scores)
    expected = [_segment_by_hand(*combo) for combo in combos]
    assert table["rfm_segment"].to_list() == expected
    assert set(expected) == set(segment_names())  # every named segment is reachable


def test_custom_rules_and_catch_all() -> None:
    scores = pl.DataFrame({"rfm_r": [5, 1, 3], "rfm_f": [5, 1, 3], "rfm_m": [5, 1, 3]})
    rules = (RfmRule("Top", r=(5, 5)), RfmRule("Also top", r=(4, 5)))
    table = assign_segments(scores, rules, catch_all="Rest")
    assert table["rfm_segment"].to_list() == ["Top", "Rest", "Rest"]
    assert assign_segments(scores, (), catch_all="All")["rfm_segment"].to_list() == ["All"] * 3


def test_bad_input_gives_one_line_errors(demo_customers: pl.DataFrame) -> None:
    with pytest.raises(ClvlensError, match="r range"):
        RfmRule("Bad", r=(0, 6))
    with pytest.raises(ClvlensError, match="'total_value'"):
        rfm_segments(demo_customers.drop("total_value"))
    with pytest.raises(ClvlensError, match="repeats"):
        rfm_segments(pl.concat([demo_customers.head(2), demo_customers.head(1)]))


def test_pandas_input_and_figures(demo_customers: pl.DataFrame) -> None:
    table = rfm_segments(demo_customers.head(300).to_pandas())
    assert isinstance(table, pl.DataFrame) and table.height == 300
    grid = rfm_grid(table)
    assert grid["customers"].sum() == 300
    fig = plot_rfm_segments(table)
    assert len(fig.data) >= 1 and len(fig.data[0].labels) >= 1
