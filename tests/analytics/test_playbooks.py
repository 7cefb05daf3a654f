"""Playbooks: an action and rationale for every segment, and money at stake as documented per action."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from clvlens.analytics import (
    RFM_PLAYBOOK,
    VALUE_PLAYBOOK,
    plot_playbook,
    rfm_playbook,
    rfm_segments,
    value_playbook,
    value_segments,
)
from clvlens.analytics.playbooks import ACTIONS
from clvlens.analytics.rfm_segments import segment_names


def test_every_segment_has_a_play() -> None:
    assert set(RFM_PLAYBOOK) == set(segment_names())
    assert set(VALUE_PLAYBOOK) == {"High-Value", "Growth", "At-Risk", "Critical Churn"}
    for action, rationale in [*RFM_PLAYBOOK.values(), *VALUE_PLAYBOOK.values()]:
        assert action in ACTIONS and rationale and "\n" not in rationale


def test_money_at_stake_follows_the_action(demo_customers: pl.DataFrame) -> None:
    segments = value_segments(demo_customers)
    table = value_playbook(demo_customers, segments)
    assert table["customers"].sum() == demo_customers.height
    data = demo_customers.join(segments.select("customer_id", "value_segment"), on="customer_id")
    v, h = data["clv"].to_numpy(), data["p_alive"].to_numpy()
    annual = data["total_value"].to_numpy() / np.maximum(data["T"].to_numpy() / (365.25 / 7), 1.0)
    seg = data["value_segment"].to_numpy()
    median_hv = np.median(v[seg == "High-Value"])
    stake = dict(zip(table["segment"], table["money_at_stake"], strict=True))
    assert stake["High-Value"] == pytest.approx(v[seg == "High-Value"].sum())  # retain
    assert stake["Growth"] == pytest.approx(np.clip(median_hv - v[seg == "Growth"], 0, None).sum())  # grow
    assert stake["At-Risk"] == pytest.approx(((1 - h) * annual)[seg == "At-Risk"].sum())  # win back
    assert stake["Critical Churn"] == pytest.approx(v[seg == "Critical Churn"].sum())  # let go


def test_rfm_playbook_covers_all_segments(demo_customers: pl.DataFrame) -> None:
    rfm = rfm_segments(demo_customers)
    table = rfm_playbook(demo_customers, rfm, value_segments=value_segments(demo_customers))
    assert table["segment"].to_list() == segment_names()
    assert table["customers"].sum() == demo_customers.height
    assert table["historical_revenue"].sum() == pytest.approx(demo_customers["total_value"].sum())
    assert table["action"].is_in(list(ACTIONS)).all() and table["rationale"].null_count() == 0
    assert (table["money_at_stake"] >= 0).all()
    assert len(plot_playbook(table).data) >= 1
