"""The model choice on a customer sample agrees with the choice on every customer (real data, CDNOW), or says the
two are within sampling error; the recorded sampling error covers the full-data figure; the chosen model is fitted
on every customer."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from clvlens.analytics.sampling import Z_95, paired_difference
from clvlens.pipeline.modeling import ModelSettings, fit_models
from clvlens.pipeline.run import build_customer_table, observed_until

END = "1998-06-30"


@pytest.fixture(scope="module")
def cdnow(cdnow_master: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    from clvlens.data import load_source

    transactions = load_source(str(cdnow_master), format="cdnow").transactions
    return observed_until(transactions, datetime.fromisoformat(END)), build_customer_table(transactions, "W", END)


def _fit(cdnow: tuple[pl.DataFrame, pl.DataFrame], sample: int | None):
    observed, customers = cdnow
    return fit_models(observed, customers, time_unit="W", observation_end=datetime.fromisoformat(END),
                      settings=ModelSettings(selection_sample=sample))


def _mae_gap(fitted, first: str, second: str):
    errors = {c.name: c.holdout_errors for c in fitted.selection.candidates if c.holdout_errors is not None}
    return paired_difference(errors[second], errors[first])


def test_sampled_choice_agrees_with_the_full_choice_or_says_it_is_close(cdnow) -> None:
    full = _fit(cdnow, None)
    sampled = _fit(cdnow, 6_000)
    customers = cdnow[1].height
    assert full.sample_note == f"all {customers:,} customers"
    assert sampled.sample_note.startswith(f"6,000 of {customers:,} customers")
    runner_up = next(c.name for c in sampled.selection.candidates[1:] if c.holdout_errors is not None)
    gap = _mae_gap(sampled, sampled.selection.chosen, runner_up)
    assert sampled.choice_error is not None and "holdout_mae" in sampled.choice_error
    if sampled.selection.chosen != full.selection.chosen:
        assert gap.within_error and "within sampling error" in sampled.criterion_note
    # the sampled difference lies within its recorded error of the difference on every customer (2 margins:
    # the fits on the sample differ from those on all customers as well)
    truth = _mae_gap(full, sampled.selection.chosen, runner_up).difference
    assert abs(gap.difference - truth) <= 2 * Z_95 * gap.standard_error


def test_chosen_model_is_fitted_on_every_customer(cdnow) -> None:
    sampled = _fit(cdnow, 6_000)
    model = sampled.transaction_model
    assert model.n_customers_ == cdnow[1].height
    chosen = next(c for c in sampled.selection.candidates if c.name == sampled.selection.chosen)
    assert chosen.bic == pytest.approx(model.fit_result_.bic)
    assert f"{chosen.name} fitted on all customers" in sampled.criterion_note
    others = [c for c in sampled.selection.candidates if c.name != chosen.name and c.model is not None]
    assert all(c.model.n_customers_ == 6_000 for c in others)
    assert np.isfinite(model.conditional_probability_alive(1, 2.0, 10.0)).all()
