"""The health step's classifiers trained beside the fits (on a second thread) give what training in line gives.

A run starts them right after the customer summary (pipeline.health.start_health_classifiers) and the health step
takes them; on UCI Online Retail the scores, the validation table, the choice and the notes are the same as when
health_scores trains them itself, and a classifier that cannot be trained leaves the same note either way.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from clvlens.analytics.health import health_scores
from clvlens.analytics.health_training import HealthTraining, train_health_classifiers
from clvlens.models import BetaGeo
from clvlens.pipeline.health import add_health, start_health_classifiers
from clvlens.pipeline.run import build_customer_table, observed_until

END = datetime(2011, 12, 9)


@pytest.fixture(scope="module")
def uci(online_retail) -> tuple[pl.DataFrame, pl.DataFrame, BetaGeo]:
    observed = observed_until(online_retail.transactions, END)
    customers = build_customer_table(observed, "W", END)
    cols = [customers.get_column(c).to_numpy().astype(float) for c in ("frequency", "recency", "T")]
    return observed, customers, BetaGeo(time_unit="W").fit(*cols)


def test_trained_beside_the_fits_is_trained_in_line(uci: tuple[pl.DataFrame, pl.DataFrame, BetaGeo]) -> None:
    observed, customers, model = uci
    settings = {"window": "13W", "time_unit": "W", "observation_end": END}
    task = start_health_classifiers(observed, customers, **settings)
    skipped: dict[str, str] = {}
    beside, result = add_health(observed, customers, model, skipped=skipped, classifiers=task, **settings)
    in_line = health_scores(observed, customers, model, **settings)
    assert not skipped and result is not None and result.activity is not None
    assert result.score == in_line.score and result.notes == in_line.notes
    assert result.sample_note == in_line.sample_note and result.choice_error == in_line.choice_error
    assert_frame_equal(result.validation, in_line.validation)
    assert_frame_equal(result.customer_columns.sort("customer_id"), in_line.customer_columns.sort("customer_id"))
    assert beside.get_column("health").null_count() == 0
    assert np.isfinite(result.validation.filter(pl.col("score") == "p_active_ml")["health_auc"][0])


def test_a_classifier_that_cannot_train_leaves_the_same_note(
        uci: tuple[pl.DataFrame, pl.DataFrame, BetaGeo]) -> None:
    """Customers first seen in the last two weeks leave nothing before the training cut-off to learn from: the
    training's error is kept, then noted where it is used."""
    observed, customers, model = uci
    few = customers.filter(pl.col("T") < 2).head(3)
    assert few.height == 3
    learning = observed.filter(pl.col("customer_id").is_in(few.get_column("customer_id").implode()))
    training = train_health_classifiers(learning, few, window="13W", time_unit="W", observation_end=END)
    assert isinstance(training.final, Exception)
    with pytest.raises(type(training.final)):
        HealthTraining.take(training.final)
    settings = {"window": "13W", "time_unit": "W", "observation_end": END}
    given = health_scores(learning, few, model, training=training, **settings)
    in_line = health_scores(learning, few, model, **settings)
    assert given.notes == in_line.notes
    assert any(note.startswith("p_active_ml: not trained") for note in given.notes)


def test_a_large_shop_trains_them_in_the_health_step(uci: tuple[pl.DataFrame, pl.DataFrame, BetaGeo],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Above CLASSIFIERS_BESIDE_UP_TO customers nothing starts beside the fits, and the step trains them itself."""
    from clvlens.pipeline import health as health_step

    observed, customers, model = uci
    monkeypatch.setattr(health_step, "CLASSIFIERS_BESIDE_UP_TO", customers.height - 1)
    settings = {"window": "13W", "time_unit": "W", "observation_end": END}
    assert start_health_classifiers(observed, customers, **settings) is None
    _, result = add_health(observed, customers, model, skipped={}, classifiers=None, **settings)
    assert result is not None and result.activity is not None


def test_the_validation_reads_the_final_classifiers_training_features(
        uci: tuple[pl.DataFrame, pl.DataFrame, BetaGeo]) -> None:
    """The final classifier trains on features at the validation split, where the validation then scores the other
    classifier: built once, into the training's feature cache, with the same outcome as built again."""
    from dataclasses import replace

    observed, customers, model = uci
    settings = {"window": "13W", "time_unit": "W", "observation_end": END}
    training = train_health_classifiers(observed, customers, **settings)
    assert training.features is not None and training.validation_days is not None
    split = END - timedelta(days=training.validation_days)
    assert ("base", split, "W") in training.features._parts  # the final classifier's training features
    reused = health_scores(observed, customers, model, training=training, **settings)
    rebuilt = health_scores(observed, customers, model, training=replace(training, features=None), **settings)
    assert_frame_equal(reused.validation, rebuilt.validation)
    assert_frame_equal(reused.customer_columns, rebuilt.customer_columns)
    assert np.isfinite(reused.validation.filter(pl.col("score") == "p_active_ml")["health_auc"][0])
