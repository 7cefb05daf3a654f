"""Work on a second thread: its value, or its error raised on the caller's thread."""

from __future__ import annotations

import polars as pl
import pytest


def test_background_task_returns_its_value_and_raises_its_error(online_retail) -> None:
    from clvlens.errors import ClvlensError
    from clvlens.pipeline.background import BackgroundTask

    frame = online_retail.transactions
    task = BackgroundTask(lambda _: frame.group_by("customer_id").len().height, "count").start()
    assert task.result() == frame.get_column("customer_id").n_unique()

    def fails(_: object) -> None:
        raise ClvlensError("holdout: too long")

    with pytest.raises(ClvlensError, match="holdout: too long"):
        BackgroundTask(fails, "fails").start().result()


def test_stop_ends_work_that_checks_and_waits_for_it() -> None:
    import threading

    from clvlens.pipeline.background import BackgroundTask

    rounds = []

    def work(stopping: threading.Event) -> int:
        while not stopping.wait(0.01):  # would run forever without stop()
            rounds.append(1)
        return len(rounds)

    task = BackgroundTask(work, "loop").start()
    task.stop()
    assert not task._thread.is_alive()  # stop() returned only once the work had ended
    assert task.result() == len(rounds)


def test_a_stopped_scorecard_starts_no_contender(cdnow_sample) -> None:
    import threading

    from clvlens.analytics.evaluation import scorecard
    from clvlens.data import load_cdnow
    from clvlens.errors import ClvlensError

    transactions = load_cdnow(cdnow_sample).transactions
    stopping = threading.Event()
    stopping.set()
    with pytest.raises(ClvlensError, match="scorecard: stopped before bgnbd was scored"):
        scorecard(transactions, "1997-09-30", "1998-06-30", stop=stopping)
    card = scorecard(transactions, "1997-09-30", "1998-06-30", models=("bgnbd",), stop=threading.Event())
    assert card.table.filter(pl.col("model") == "bgnbd").get_column("error").is_null().all()


def test_a_failed_run_stops_its_scorecard(tmp_path, online_retail_csv) -> None:
    """A run that fails while its scorecard runs beside it does not leave the scorecard running."""
    import threading

    from clvlens.pipeline.run import STEPS, RunSettings, run_pipeline

    def scoring() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name == "clvlens-scorecard" and t.is_alive()]

    alive_at_failure: list[int] = []

    def fail_at_the_fits(step: str) -> None:
        if step == STEPS[2]:
            alive_at_failure.append(len(scoring()))
            raise RuntimeError("stopped by the test")

    with pytest.raises(RuntimeError, match="stopped by the test"):
        run_pipeline(RunSettings(source=online_retail_csv, out=tmp_path / "ws"), fail_at_the_fits)
    assert alive_at_failure == [1]  # the scorecard was running when the run failed
    assert scoring() == []  # and it had ended when the run's error reached the caller
