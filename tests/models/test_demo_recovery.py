"""The models recover the demo store's generating parameters (the store is simulated from known BG/NBD and
Gamma-Gamma parameters, then cleaned and summarised by the real pipeline code)."""

from __future__ import annotations

import polars as pl
import pytest

from clvlens.data import load_transactions
from clvlens.data.demo import generate_demo_store
from clvlens.models import BetaGeo, GammaGamma
from clvlens.summary import rfm_summary


@pytest.fixture(scope="module")
def demo_summary():
    store = generate_demo_store(n_customers=5000, seed=7)
    cleaned = load_transactions(store.transactions)  # with its dirt: the cleaning must give back the true log
    summary = rfm_summary(
        cleaned.transactions, time_unit=store.truth.time_unit, observation_end=store.truth.observation_end
    )
    return store.truth, summary


def _inside_interval(model, truth: dict[str, float]) -> None:
    table = model.summary(level=0.95)
    for name, true_value in truth.items():
        lower, upper = table.loc[name, "lower"], table.loc[name, "upper"]
        assert lower <= true_value <= upper, (name, true_value, lower, upper)


def test_bgnbd_recovers_the_demo_store(demo_summary) -> None:
    truth, summary = demo_summary
    model = BetaGeo(time_unit=truth.time_unit).fit(summary.to_pandas())
    _inside_interval(model, truth.bgnbd)


def test_gamma_gamma_recovers_the_demo_store(demo_summary) -> None:
    truth, summary = demo_summary
    repeaters = summary.filter(pl.col("frequency") > 0)
    model = GammaGamma().fit(repeaters["frequency"].to_numpy(), repeaters["monetary_value"].to_numpy())
    _inside_interval(model, truth.gamma_gamma)
