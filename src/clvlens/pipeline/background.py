"""Work of a run that needs only what is already loaded, on the spare cores while the run goes on.

The model fits mostly keep one core busy; the seasonal index and the health classifiers run beside them, and the
scorecard's contenders (which read only the observed transactions), the CLV interval and the write of the cleaned
lines beside the later steps.
Their results are taken where the run needs them, and their errors are raised there, as if the work had run in
line.

The tasks share one lane of worker threads, one per core the run's own thread leaves (one on two cores), and a
worker takes the queued task the run will need first (``needed_at``, then the order they were queued in). A
thread per task ran up to four of them at once on two cores: Python's lock was then shared four ways, and the
run's own thread, whose steps are the run's critical path, got a quarter of it while they ran. A thread that
needs a task's result does not sit idle meanwhile: it runs the task itself when no worker has started it, and
while a worker runs it, it runs queued tasks needed no later (so that at the end of a run the two cores share
what is left, the scorecard's contenders above all). Runs at once in one process (the dashboard serving two
uploads) share the lane too, so the cores stay as busy as with one run; a thread may then help with another run's
task, which delays it but never blocks it (no task waits for a thread that waits for it).
"""

from __future__ import annotations

import heapq
import itertools
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from clvlens.errors import ClvlensError

T = TypeVar("T")

#: a worker's name while it waits for work; while it runs a task it is named ``clvlens-<task name>``
IDLE_NAME = "clvlens-beside"
_QUEUED, _RUNNING, _DONE = "queued", "running", "done"


def spare_cores() -> int:
    """Cores this process may use besides the run's own thread: at least one."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, cores - 1)


class Lane:
    """The queue of tasks and the workers that serve it, started on demand: up to ``workers`` of them (None:
    :func:`spare_cores`). A run's tasks go to the process's shared lane."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers
        self.changed = threading.Condition()
        self._queue: list[tuple[float, int, BackgroundTask]] = []
        self._order = itertools.count()
        self._started = 0  # workers started so far (at most self.workers)
        self._idle = 0

    def submit(self, task: BackgroundTask) -> None:
        with self.changed:
            task.state = _QUEUED
            heapq.heappush(self._queue, (task.needed_at, next(self._order), task))
            if self._idle == 0 and self._started < (self.workers or spare_cores()):
                self._started += 1
                threading.Thread(target=self._serve, name=IDLE_NAME, daemon=True).start()
            self.changed.notify_all()

    def claim(self, task: BackgroundTask) -> bool:
        """Take ``task`` to run on the caller's thread: True when it was still queued (its heap entry is passed
        over later)."""
        with self.changed:
            if task.state != _QUEUED:
                return False
            task.state = _RUNNING
            return True

    def _take(self, needed_by: float, *, sooner: bool = False) -> BackgroundTask | None:
        """The first queued task needed no later than ``needed_by`` (``sooner``: before it), claimed; None when
        there is none. The caller holds :attr:`changed`."""
        while self._queue and self._queue[0][2].state != _QUEUED:
            heapq.heappop(self._queue)
        if not self._queue:
            return None
        first = self._queue[0][0]
        if first < needed_by or (first == needed_by and not sooner):
            task = heapq.heappop(self._queue)[2]
            task.state = _RUNNING
            return task
        return None

    def help_before(self, awaited: BackgroundTask) -> None:
        """Run queued tasks needed sooner than ``awaited`` on the caller's thread, while it is still queued."""
        while True:
            with self.changed:
                if awaited.state != _QUEUED:
                    return
                task = self._take(awaited.needed_at, sooner=True)
            if task is None:
                return
            task.run()

    def help_until(self, awaited: BackgroundTask) -> None:
        """Run queued tasks needed no later than ``awaited`` on the caller's thread until ``awaited`` is done."""
        while True:
            with self.changed:
                while not awaited.finished.is_set():
                    task = self._take(awaited.needed_at)
                    if task is not None:
                        break
                    self.changed.wait()
                else:
                    return
            task.run()

    def _serve(self) -> None:
        worker = threading.current_thread()
        while True:
            with self.changed:
                self._idle += 1
                task = self._take(float("inf"))
                while task is None:
                    self.changed.wait()
                    task = self._take(float("inf"))
                self._idle -= 1
            worker.name = f"clvlens-{task.name}"
            try:
                task.run()
            finally:
                worker.name = IDLE_NAME

    def finished(self, task: BackgroundTask) -> None:
        with self.changed:
            task.state = _DONE
            task.finished.set()
            self.changed.notify_all()


SHARED_LANE = Lane()


class BackgroundTask:
    """Run ``work(stopping)`` beside the run from :meth:`start`; :meth:`result` returns its value or raises its
    error (see the module docstring for who runs it). ``needed_at``: the step of the run that takes the result
    (a worker takes the queued task needed soonest); ``lane``: the workers (the process's shared lane). A run
    that fails calls :meth:`stop`: queued work never starts, and running work ends at its next check of
    ``stopping`` (the scorecard checks before each contender), so nothing keeps a core busy for a run that is
    over."""

    def __init__(self, work: Callable[[threading.Event], Any], name: str, *, needed_at: float = 0,
                 lane: Lane = SHARED_LANE) -> None:
        self.name = name
        self.lane = lane
        self.needed_at = needed_at
        self._work = work
        self._value: Any = None
        self._error: BaseException | None = None
        #: "" until started, then queued, running, done (changed under the lane's lock)
        self.state = ""
        self.finished = threading.Event()
        #: set by :meth:`stop`; ``work`` is called with it, to check where it can end early
        self.stopping = threading.Event()

    def start(self) -> BackgroundTask:
        """Queue the work for the next free worker; returns self."""
        self.lane.submit(self)
        return self

    def run(self) -> None:
        """Do the work on the calling thread (the task must have been claimed)."""
        try:
            self._value = self._work(self.stopping)
        except BaseException as exc:  # re-raised where the result is taken
            self._error = exc
            if not isinstance(exc, Exception) and threading.current_thread() is threading.main_thread():
                raise  # Ctrl-C while the run's thread helps with a task: the run ends now, not at the next result
        finally:
            self.lane.finished(self)

    def stop(self, *, wait: bool = True) -> None:
        """Ask the work to end early: work not started never runs, running work ends at its next check of
        :attr:`stopping`; with ``wait``, wait for it to end."""
        self.stopping.set()
        if self.state == "" or self.lane.claim(self):
            self._error = ClvlensError(f"{self.name}: stopped before it started")
            self.lane.finished(self)
        if wait:
            self.finished.wait()

    def join(self, timeout: float) -> bool:
        """Wait at most ``timeout`` seconds for the work to end; True once it has (or never will start)."""
        return self.finished.wait(timeout)

    def result(self) -> Any:
        """The work's value, once it is done (its error is raised instead)."""
        if self.state == "":
            raise RuntimeError(f"{self.name}: result() before start()")
        self.lane.help_before(self)
        if self.lane.claim(self):
            self.run()
        else:
            self.lane.help_until(self)
        if self._error is not None:
            raise self._error
        return self._value


def spread(calls: Sequence[tuple[str, Callable[[], T]]], *, needed_at: float, lane: Lane = SHARED_LANE) -> list[T]:
    """Every named call's result, in order, each queued as a task (see :class:`BackgroundTask`) in the order
    given: the caller and the workers share them. When one fails, those not started never start, the others are
    waited for, and its error is raised."""
    tasks = [BackgroundTask(lambda _, call=call: call(), name, needed_at=needed_at, lane=lane).start()
             for name, call in calls]
    try:
        return [task.result() for task in tasks]
    except BaseException:
        for task in tasks:
            task.stop()
        raise
