"""What a step of a run costs: wall time, CPU time and the peak memory of the process while it ran.

The CLI prints these for every step of `clvlens run`, so a user with a larger shop sees where the time and the memory
go (and `bench/bench_scale.py` reads them). A step's peak memory is exact when the step raised the process's
lifetime peak (the kernel's `ru_maxrss`, read when the step starts and ends); otherwise it is the largest of the
resident sizes a daemon thread samples from `/proc/self/statm` every 50 ms (every 5 ms, as before, the sampler took
the interpreter lock from the run's threads 200 times a second for a figure the kernel already keeps).

The machine's threads as a resource too: :func:`single_threaded_blas` holds numpy's and SciPy's BLAS to one thread
(every model fit, and a whole run).
"""

from __future__ import annotations

import contextlib
import os
import resource
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

_STATM = "/proc/self/statm"
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass(frozen=True)
class StepCost:
    name: str
    seconds: float
    cpu_seconds: float
    peak_bytes: int


def lifetime_peak_bytes() -> int:
    """The process's largest resident memory so far (``ru_maxrss``)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def resident_bytes() -> int:
    """The process's resident memory now (its lifetime peak where /proc is unavailable)."""
    try:
        with open(_STATM) as handle:
            return int(handle.read().split()[1]) * _PAGE
    except OSError:
        return lifetime_peak_bytes()


_blas_lock = threading.Lock()
_blas_controller: Any = None
_blas_limiter: Any = None
_blas_users = 0


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run the block with one BLAS thread in every BLAS library numpy and SciPy load.

    numpy and scipy each bring their own OpenBLAS, and each one's idle worker threads spin for a while after
    a call. When the optimiser (scipy) and the likelihood (numpy) alternate, those spinning threads compete
    with the main thread for the cores: a 50,000-row L-BFGS-B fit measured ten times slower on two cores.
    A run holds the limit throughout (``clvlens.pipeline.run``): with the scorecard on a second thread, every
    small product anywhere woke a BLAS worker that then spun against both threads, and a 100k-customer run took
    more CPU and wall time that way (``bench/bench_blas_threads.py``, docs/benchmarks.md). The products here are
    memory-bound or small, so one thread loses nothing. The limit is process-wide, so concurrent users share it:
    the first to enter sets it, the last to leave restores it.
    """
    global _blas_controller, _blas_limiter, _blas_users
    with _blas_lock:
        if _blas_users == 0:
            if _blas_controller is None:
                _blas_controller = _blas_libraries()
            _blas_limiter = _blas_controller.limit(limits=1, user_api="blas")
        _blas_users += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0:
                _blas_limiter.restore_original_limits()
                _blas_limiter = None


def _blas_libraries() -> Any:
    """The loaded BLAS libraries (threadpoolctl's controller, found once: milliseconds)."""
    # SciPy's own OpenBLAS loads with its first linear-algebra import; a controller built before that would never
    # limit it, so it is loaded first
    import scipy.linalg  # noqa: F401
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


class StepMeter:
    """Measures consecutive named steps: `start(name)` ends the running step (if any) and starts the next."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.costs: list[StepCost] = []
        self._current: tuple[str, float, float, int] | None = None
        self._peak = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> StepMeter:
        self._thread = threading.Thread(target=self._sample, name="clvlens-step-meter", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            rss = resident_bytes()
            with self._lock:
                self._peak = max(self._peak, rss)

    def start(self, name: str) -> StepCost | None:
        """Begin step `name`; returns the cost of the step it ends, if one was running."""
        ended = self.finish()
        with self._lock:
            self._peak = resident_bytes()
        self._current = (name, time.perf_counter(), time.process_time(), lifetime_peak_bytes())
        return ended

    def finish(self) -> StepCost | None:
        """End the running step and return its cost (None when no step is running)."""
        if self._current is None:
            return None
        name, began, cpu_began, lifetime_before = self._current
        with self._lock:
            peak = max(self._peak, resident_bytes())
        lifetime = lifetime_peak_bytes()
        if lifetime > lifetime_before:  # this step set the process's peak: the kernel's figure is exact
            peak = max(peak, lifetime)
        cost = StepCost(name, time.perf_counter() - began, time.process_time() - cpu_began, peak)
        self.costs.append(cost)
        self._current = None
        return cost

    @property
    def peak_bytes(self) -> int:
        return max((cost.peak_bytes for cost in self.costs), default=0)


def megabytes(count: int) -> str:
    return f"{count / 2**20:,.0f} MB"
