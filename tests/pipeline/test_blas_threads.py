"""A run holds one BLAS thread in every library from start to end, and gives the caller's setting back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from clvlens.pipeline.run import RunSettings, run_pipeline


def blas_threads() -> dict[str, int]:
    return {lib["filepath"]: lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}


def test_every_step_of_a_run_sees_one_blas_thread(tmp_path: Path, cdnow_sample: Path) -> None:
    seen: dict[str, dict[str, int]] = {}
    with threadpool_limits(limits=2, user_api="blas"):  # what a caller had: more than one, so a leak would show
        before = blas_threads()
        run_pipeline(RunSettings(source=cdnow_sample, out=tmp_path / "ws"),
                     progress=lambda step: seen.setdefault(step, blas_threads()))
        after = blas_threads()
    assert set(before.values()) == {2}
    assert len(seen) >= 8  # every step reported
    for step, threads in seen.items():
        assert threads and set(threads.values()) == {1}, step
    assert after == before


def test_scipys_own_blas_is_limited_when_scipy_loads_after_numpy() -> None:
    # a fresh interpreter, where SciPy's OpenBLAS is not loaded yet when the limit is first taken
    script = (
        "import json, numpy\n"
        "from clvlens.resources import single_threaded_blas\n"
        "with single_threaded_blas():\n"
        "    import scipy.linalg\n"
        "    from threadpoolctl import threadpool_info\n"
        "    print(json.dumps({l['filepath']: l['num_threads'] for l in threadpool_info()"
        " if l['user_api'] == 'blas'}))\n"
    )
    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core: BLAS runs one thread anyway, so a missed library would not show")
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    threads = json.loads(done.stdout)
    assert any("scipy" in path for path in threads), threads  # SciPy's library was loaded and seen
    assert set(threads.values()) == {1}, threads
