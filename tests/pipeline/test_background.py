"""Work on a second thread: its value, or its error raised on the caller's thread."""

from __future__ import annotations

import pytest


def test_background_task_returns_its_value_and_raises_its_error(online_retail) -> None:
    from clvlens.errors import ClvlensError
    from clvlens.pipeline.background import BackgroundTask

    frame = online_retail.transactions
    task = BackgroundTask(lambda: frame.group_by("customer_id").len().height, "count").start()
    assert task.result() == frame.get_column("customer_id").n_unique()

    def fails() -> None:
        raise ClvlensError("holdout: too long")

    with pytest.raises(ClvlensError, match="holdout: too long"):
        BackgroundTask(fails, "fails").start().result()
