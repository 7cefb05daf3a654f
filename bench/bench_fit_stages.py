"""Wall and CPU seconds of a run's fit models (choice + fits), values (scores, CLV intervals) and health steps on
one transaction file, stage by stage (issue 14). Run from the repository:

    PYTHONPATH=src python bench/bench_fit_stages.py /tmp/scale/scale_1000000.parquet [--no-health]

The first three timed lines (seasonal index, fit models, values) together are the run's "fit models" stage; the
lines indented under them split it further (the CLV interval into its parameter draws and the linearised bounds).
The machine is shared: compare CPU seconds (user + sys of this process) as well as wall seconds.
"""

from __future__ import annotations

import functools
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

import clvlens.models.clv as clv_module
import clvlens.pipeline.modeling as modeling_module
from clvlens.data import load_source
from clvlens.pipeline.health import add_health, health_info
from clvlens.pipeline.modeling import ModelSettings, fit_models
from clvlens.pipeline.refresh import btyd_values, estimate
from clvlens.pipeline.run import _customer_table, observed_until
from clvlens.summary.rfm import resolve_period


def _clock(name: str, wall: float, cpu: float) -> None:
    print(f"{name}: wall {time.perf_counter() - wall:.2f} s, cpu {time.process_time() - cpu:.2f} s", flush=True)


_PARTS: dict[str, list[float]] = {}


def _timed(module: Any, name: str) -> None:
    """Wrap ``module.name`` so that its wall and CPU seconds add up in ``_PARTS`` (the bench's own split)."""
    inner: Callable[..., Any] = getattr(module, name)

    @functools.wraps(inner)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return inner(*args, **kwargs)
        finally:
            part = _PARTS.setdefault(name, [0.0, 0.0])
            part[0] += time.perf_counter() - wall
            part[1] += time.process_time() - cpu

    setattr(module, name, wrapper)


def _parts(*names: str) -> None:
    for name in names:
        if name in _PARTS:
            wall, cpu = _PARTS.pop(name)
            print(f"    {name}: wall {wall:.2f} s, cpu {cpu:.2f} s")


def main(source: str, health: bool = True) -> None:
    for name in ("fit_candidates", "_refit_chosen", "_fit_spend", "customer_lifetime_value", "_clv_interval",
                 "alive_and_expected"):
        _timed(modeling_module, name)
    for name in ("_draw_both", "_linear_interval"):
        _timed(clv_module, name)
    wall, cpu = time.perf_counter(), time.process_time()
    cleaned = load_source(source)
    period = resolve_period(cleaned.transactions, "W", None, None, "D")
    observed = observed_until(cleaned.transactions, period.observation_end)
    customers = _customer_table(observed, period)
    _clock(f"load and summary ({customers.height:,} customers)", wall, cpu)
    stage_wall, stage_cpu = time.perf_counter(), time.process_time()
    wall, cpu = time.perf_counter(), time.process_time()
    season, season_note = estimate(observed, period.observation_end)
    _clock("seasonal index", wall, cpu)
    wall, cpu = time.perf_counter(), time.process_time()
    fitted = fit_models(observed, customers, time_unit=period.time_unit, observation_end=period.observation_end,
                        settings=ModelSettings())
    _clock(f"fit models (chosen {fitted.selection.chosen})", wall, cpu)
    _parts("fit_candidates", "_refit_chosen", "_fit_spend")
    print(f"  sample: {fitted.sample_note}; choice error: {fitted.choice_error}")
    wall, cpu = time.perf_counter(), time.process_time()
    scores, _, _ = btyd_values(observed, customers, fitted, observation_end=period.observation_end, season=season,
                               season_note=season_note)
    _clock("values (scores, CLV and its interval)", wall, cpu)
    _parts("customer_lifetime_value", "alive_and_expected", "_clv_interval", "_draw_both", "_linear_interval")
    _clock("the run's fit models stage (the three above)", stage_wall, stage_cpu)
    print(f"  interval: {fitted.interval_note}")
    if not health:
        print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
        return
    customers = customers.join(scores, on="customer_id", how="left")
    wall, cpu = time.perf_counter(), time.process_time()
    skipped: dict[str, str] = {}
    _, health = add_health(observed, customers, fitted.transaction_model, window="12M",
                           time_unit=period.time_unit, observation_end=period.observation_end, skipped=skipped)
    _clock("health", wall, cpu)
    info = health_info(health, "12M")
    print(f"  health: {info.get('health_score')}; sample: {info.get('health_validation_sample')}; "
          f"choice error: {info.get('health_choice_error')} {skipped or ''}")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main(sys.argv[1], health="--no-health" not in sys.argv[2:])
