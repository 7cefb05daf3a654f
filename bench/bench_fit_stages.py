"""Wall and CPU seconds of a run's fit models (choice + fits), values (scores, CLV intervals) and health steps on
one transaction file, stage by stage (issue 14). Run from the repository:

    PYTHONPATH=src python bench/bench_fit_stages.py /tmp/scale/scale_1000000.parquet

The machine is shared: compare CPU seconds (user + sys of this process) as well as wall seconds.
"""

from __future__ import annotations

import resource
import sys
import time

from clvlens.data import load_source
from clvlens.pipeline.health import add_health, health_info
from clvlens.pipeline.modeling import ModelSettings, fit_models
from clvlens.pipeline.refresh import btyd_values, estimate
from clvlens.pipeline.run import _customer_table, observed_until
from clvlens.summary.rfm import resolve_period


def _clock(name: str, wall: float, cpu: float) -> None:
    print(f"{name}: wall {time.perf_counter() - wall:.2f} s, cpu {time.process_time() - cpu:.2f} s", flush=True)


def main(source: str) -> None:
    wall, cpu = time.perf_counter(), time.process_time()
    cleaned = load_source(source)
    period = resolve_period(cleaned.transactions, "W", None, None, "D")
    observed = observed_until(cleaned.transactions, period.observation_end)
    customers = _customer_table(observed, period)
    _clock(f"load and summary ({customers.height:,} customers)", wall, cpu)
    wall, cpu = time.perf_counter(), time.process_time()
    season, season_note = estimate(observed, period.observation_end)
    fitted = fit_models(observed, customers, time_unit=period.time_unit, observation_end=period.observation_end,
                        settings=ModelSettings())
    _clock(f"fit models (chosen {fitted.selection.chosen})", wall, cpu)
    print(f"  sample: {fitted.sample_note}; choice error: {fitted.choice_error}")
    wall, cpu = time.perf_counter(), time.process_time()
    scores, _, _ = btyd_values(observed, customers, fitted, observation_end=period.observation_end, season=season,
                               season_note=season_note)
    _clock("values (scores, CLV and its interval)", wall, cpu)
    print(f"  interval: {fitted.interval_note}")
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
    main(sys.argv[1])
