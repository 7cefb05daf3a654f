"""`clvlens run --health-window`, run as a user would (subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from clvlens.data.demo import generate_demo_store, write_flat_log
from clvlens.pipeline import read_table


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "160"}
    env.pop("CLVLENS_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "clvlens", *args], capture_output=True, text=True, env=env,
                          timeout=600)


def test_run_with_a_health_window(tmp_path: Path) -> None:
    log = write_flat_log(generate_demo_store(800, seed=5), tmp_path / "shop.csv")
    out = tmp_path / "ws"
    completed = _cli("run", str(log), "--out", str(out), "--health-window", "13W", "--horizon", "6M")
    assert completed.returncode == 0, completed.stderr
    info = dict(read_table(out, "run_info").iter_rows())
    assert info["health_window"] == "13W" and info["horizon"] == "6M"
    assert info["health_score"] in {"p_active", "p_alive", "p_active_ml", "heuristic"}
    assert f"health = {info['health_score']}" in completed.stdout and "next 13W" in completed.stdout
    customers = read_table(out, "customers")
    assert {"health", "p_active", "p_alive", "value_segment"} <= set(customers.columns)
    assert customers.get_column("health").is_between(0.0, 1.0).all()
    assert read_table(out, "health_validation").height == 4
    assert (out / "models" / "activity_ml" / "metadata.json").exists()


def test_a_bad_health_window_is_a_one_line_error(tmp_path: Path) -> None:
    log = write_flat_log(generate_demo_store(800, seed=5), tmp_path / "shop.csv")
    completed = _cli("run", str(log), "--out", str(tmp_path / "ws"), "--health-window", "13X")
    assert completed.returncode != 0
    lines = [line for line in completed.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "13X" in lines[0] and "Traceback" not in completed.stderr
