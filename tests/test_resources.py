"""The CLI's per-step cost meter: a brief allocation that raises the process's peak is seen, however short."""

from __future__ import annotations

import numpy as np

from clvlens.resources import StepMeter, lifetime_peak_bytes, resident_bytes


def test_a_brief_new_peak_is_reported_exactly() -> None:
    # more than the process ever held, so the step raises the lifetime peak; freed at once, well inside one sample
    lifetime_before = lifetime_peak_bytes()
    extra = max(lifetime_before - resident_bytes(), 0) + 400 * 2**20
    with StepMeter(interval=10.0) as meter:  # the sampler never wakes during the steps
        meter.start("allocate")
        block = np.ones(extra // 8)
        del block
        lifetime_after = lifetime_peak_bytes()
        meter.start("idle")
        meter.finish()
    allocate, idle = meter.costs
    assert lifetime_after > lifetime_before + 200 * 2**20  # the allocation did raise the process's peak
    assert allocate.peak_bytes >= lifetime_after
    assert idle.peak_bytes < allocate.peak_bytes - 200 * 2**20
    assert meter.peak_bytes == allocate.peak_bytes
