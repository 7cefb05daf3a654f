"""Issue 10 item 17: when nobody bought twice the scorecard has rows with reasons, never NaN metrics."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import polars as pl

from clvlens.analytics.evaluation import scorecard


def test_scorecard_without_repeat_buyers_has_no_nan() -> None:
    rng = np.random.default_rng(2)
    start = datetime(2022, 1, 1)
    rows = [(f"c{i}", start + timedelta(days=int(rng.integers(0, 700))), float(rng.gamma(4, 10))) for i in range(300)]
    tx = pl.DataFrame(rows, schema=["customer_id", "timestamp", "amount"], orient="row").with_columns(
        pl.int_range(pl.len()).cast(pl.String).alias("order_id")
    )
    card = scorecard(tx, "2023-06-30", "2023-12-31", models=("bgnbd", "mbgnbd", "historical_average"))
    floats = card.table.select(pl.col(pl.Float64))
    assert not any(floats[c].is_nan().any() for c in floats.columns)
    errors = dict(zip(card.table["model"], card.table["error"], strict=True))
    for name in ("bgnbd", "mbgnbd"):  # a model that could not be scored says why
        row = card.table.filter(pl.col("model") == name)
        assert errors[name] is not None or row["mae_value"].null_count() == 0
