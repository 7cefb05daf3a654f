"""Shared benchmark plumbing: run each contender in a fresh subprocess, time it and sample its memory.

Peak memory is sampled from /proc/self/statm every few milliseconds while the contender runs, and reported both as
the process's peak RSS and as the increase over the RSS just before the contender started (the data already
loaded), so contenders are compared on what they add, not on the shared input.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * PAGE


class MemorySampler:
    """Samples this process's RSS in a background thread; `peak` is the highest value seen."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.peak = rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes())
            time.sleep(self.interval)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())


def measure(function: Callable[[], Any]) -> tuple[Any, dict[str, float]]:
    """Run `function`, returning its result and seconds, peak RSS and RSS increase in MB."""
    baseline = rss_bytes()
    with MemorySampler() as sampler:
        start = time.perf_counter()
        result = function()
        seconds = time.perf_counter() - start
    return result, {
        "seconds": seconds,
        "peak_mb": sampler.peak / 2**20,
        "added_mb": (sampler.peak - baseline) / 2**20,
    }


def run_child(script: str, *args: str, timeout: float = 1800) -> dict[str, Any]:
    """Run `python script args...` in a fresh process; its last stdout line must be a JSON object."""
    completed = subprocess.run(
        [sys.executable, script, *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    if completed.returncode != 0 or not lines:
        tail = (completed.stderr or completed.stdout).strip().splitlines()[-1:] or ["no output"]
        return {"error": tail[0][:200]}
    return json.loads(lines[-1])


def emit(payload: dict[str, Any]) -> None:
    """Print the child's result as the final JSON line."""
    print(json.dumps(payload), flush=True)


def fit_models_alternately(source: str, ways: dict[str, Callable[[], AbstractContextManager[Any]]],
                           repeat: int) -> None:
    """The run's model choice and fits (``fit_models``, weekly) on ``source``'s customers, ``repeat`` rounds of
    every way in turn, each inside the context its callable returns; prints each way's wall and CPU seconds."""
    from clvlens.data import load_source
    from clvlens.pipeline.modeling import ModelSettings, fit_models
    from clvlens.pipeline.run import build_customer_table, observed_until
    from clvlens.summary.rfm import resolve_period

    transactions = load_source(source).transactions
    period = resolve_period(transactions, "W", None, None, "D")
    observed = observed_until(transactions, period.observation_end)
    customers = build_customer_table(observed, "W", period.observation_end)
    seconds: dict[str, list[tuple[float, float]]] = {way: [] for way in ways}
    for _ in range(repeat):
        for way, context in ways.items():
            with context():
                wall, cpu = time.perf_counter(), os.times()
                fit_models(observed, customers, time_unit="W", observation_end=period.observation_end,
                           settings=ModelSettings())
                after = os.times()
                seconds[way].append((time.perf_counter() - wall,
                                     (after.user - cpu.user) + (after.system - cpu.system)))
    print(f"\nfit_models on {source} ({customers.height:,} customers), {repeat} alternating rounds:")
    for way, runs in seconds.items():
        walls = ", ".join(f"{w:.2f}" for w, _ in runs)
        print(f"{way}: wall {walls} s (median {statistics.median(w for w, _ in runs):.2f}), "
              f"CPU median {statistics.median(c for _, c in runs):.2f} s")
