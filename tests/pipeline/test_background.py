"""Work beside the run (pipeline.background): its value, or its error raised on the caller's thread; the task
needed first taken first; a caller runs what no worker has started, and helps while it waits; stopped work ends,
and queued work never starts."""

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

    from clvlens.pipeline.background import IDLE_NAME, BackgroundTask, Lane

    rounds = []
    workers: set[threading.Thread] = set()
    lane = Lane(workers=1)

    def work(stopping: threading.Event) -> int:
        while not stopping.wait(0.01):  # would run forever without stop()
            rounds.append(threading.current_thread().name)
            workers.add(threading.current_thread())
        return len(rounds)

    task = BackgroundTask(work, "loop", lane=lane).start()
    while not rounds:  # running on the lane's worker, under the task's name
        threading.Event().wait(0.01)
    task.stop()
    assert task.finished.is_set()  # stop() returned only once the work had ended
    assert task.result() == len(rounds) and set(rounds) == {"clvlens-loop"}
    (worker,) = workers
    _wait_until(lambda: worker.name == IDLE_NAME)  # the worker waits for work again, under its idle name


class _Busy:
    """Keeps a lane's one worker busy until :meth:`release`."""

    def __init__(self, lane) -> None:
        import threading

        from clvlens.pipeline.background import BackgroundTask

        self.started, self.released = threading.Event(), threading.Event()

        def block(_: object) -> str:
            self.started.set()
            self.released.wait(30)
            return "released"

        self.task = BackgroundTask(block, "busy", needed_at=0, lane=lane).start()
        assert self.started.wait(30)

    def release(self) -> None:
        self.released.set()
        assert self.task.result() == "released"


def _record(done: list[tuple[str, str]], name: str):
    import threading

    def work(_: object) -> str:
        done.append((name, threading.current_thread().name))
        return name

    return work


def test_a_worker_takes_the_task_needed_first_and_a_caller_runs_what_no_worker_started() -> None:
    import threading

    from clvlens.pipeline.background import BackgroundTask, Lane

    lane = Lane(workers=1)
    busy = _Busy(lane)
    done: list[tuple[str, str]] = []
    later = BackgroundTask(_record(done, "later"), "later", needed_at=5, lane=lane).start()
    BackgroundTask(_record(done, "sooner"), "sooner", needed_at=2, lane=lane).start()
    also_later = BackgroundTask(_record(done, "also later"), "also-later", needed_at=5, lane=lane).start()
    # the worker is busy: asked for its result, the caller runs a queued task itself, after what is needed sooner
    assert also_later.result() == "also later"
    me = threading.current_thread().name
    assert done == [("sooner", me), ("also later", me)]
    busy.release()
    assert later.result() == "later"
    assert done[2] == ("later", "clvlens-later")  # the freed worker took what was left


def test_a_caller_waiting_for_running_work_helps_with_work_needed_no_later() -> None:
    import threading

    from clvlens.pipeline.background import BackgroundTask, Lane

    lane = Lane(workers=1)
    done: list[tuple[str, str]] = []
    release = threading.Event()

    def long_work(_: object) -> str:
        release.wait(30)
        return "long"

    long_task = BackgroundTask(long_work, "long", needed_at=3, lane=lane).start()
    _wait_until(lambda: long_task.state == "running")
    needed_with_it = BackgroundTask(_record(done, "with it"), "with-it", needed_at=3, lane=lane).start()
    needed_after = BackgroundTask(_record(done, "after"), "after", needed_at=4, lane=lane).start()
    threading.Timer(0.5, release.set).start()
    assert long_task.result() == "long"
    me = threading.current_thread().name
    assert ("with it", me) in done  # run by the waiting caller
    assert ("after", me) not in done  # needed later: left to the worker, not delaying the caller
    assert needed_after.result() == "after" and needed_with_it.result() == "with it"


def test_ctrl_c_while_the_run_helps_ends_the_wait_at_once() -> None:
    """A Ctrl-C that reaches the run's thread while it runs another task (helping while it waits) is raised there
    at once, not swallowed into that task's error until the awaited work ends."""
    import threading
    import time

    from clvlens.pipeline.background import BackgroundTask, Lane

    lane = Lane(workers=1)
    release = threading.Event()
    long_task = BackgroundTask(lambda _: release.wait(30), "long", needed_at=3, lane=lane).start()
    _wait_until(lambda: long_task.state == "running")

    def interrupted(_: object) -> None:
        raise KeyboardInterrupt

    BackgroundTask(interrupted, "interrupted", needed_at=3, lane=lane).start()
    began = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        long_task.result()
    assert time.monotonic() - began < 10 and not long_task.finished.is_set()
    release.set()
    assert long_task.result() is True


def test_queued_work_that_is_stopped_never_runs() -> None:
    from clvlens.errors import ClvlensError
    from clvlens.pipeline.background import BackgroundTask, Lane

    lane = Lane(workers=1)
    busy = _Busy(lane)
    done: list[tuple[str, str]] = []
    queued = BackgroundTask(_record(done, "queued"), "queued", lane=lane).start()
    queued.stop()
    busy.release()
    with pytest.raises(ClvlensError, match="queued: stopped before it started"):
        queued.result()
    assert done == []


def test_spread_returns_every_result_in_order_and_stops_the_rest_on_an_error() -> None:
    from clvlens.errors import ClvlensError
    from clvlens.pipeline.background import Lane, spread

    lane = Lane(workers=1)
    assert spread([(f"square-{i}", lambda i=i: i * i) for i in range(6)], needed_at=1, lane=lane) == [
        0, 1, 4, 9, 16, 25]

    busy = _Busy(lane)  # nothing runs on the worker: the caller meets the error first, the rest never start
    done: list[int] = []

    def fails() -> int:
        raise ClvlensError("contender: no data")

    calls = [("first", lambda: done.append(1) or 1), ("fails", fails), ("last", lambda: done.append(3) or 3)]
    with pytest.raises(ClvlensError, match="contender: no data"):
        spread(calls, needed_at=1, lane=lane)
    busy.release()
    assert done == [1]


def _wait_until(condition, seconds: float = 30.0) -> None:
    import time

    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


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
    """A run that fails while its scorecard runs beside it does not leave the scorecard running: the contender
    under way ends, and those queued never start."""
    import threading

    from clvlens.pipeline.run import STEPS, RunSettings, run_pipeline

    def scoring() -> list[str]:
        return [t.name for t in threading.enumerate() if t.name.startswith("clvlens-scorecard") and t.is_alive()]

    alive_at_failure: list[list[str]] = []

    def fail_once_the_scorecard_runs(step: str) -> None:
        if step == STEPS[3]:
            _wait_until(lambda: bool(scoring()), 120)
            alive_at_failure.append(scoring())
            raise RuntimeError("stopped by the test")

    with pytest.raises(RuntimeError, match="stopped by the test"):
        run_pipeline(RunSettings(source=online_retail_csv, out=tmp_path / "ws"), fail_once_the_scorecard_runs)
    assert alive_at_failure and alive_at_failure[0]  # the scorecard was running when the run failed
    assert scoring() == []  # and it had ended when the run's error reached the caller
