"""SIGKILL at eleven moments of a run (issue 10): the workspace left behind always opens read-only with its tables
and models from one run, and the next run succeeds.

The kills are real: CLVLENS_FAULT_AT=<point> makes `python -m clvlens run` SIGKILL itself at that point (a test
hook in `pipeline.workspace.fault_point`, inert when unset). The points are the start of each step of the run and
three moments of the commit: the finished database not yet renamed, renamed but the models folder not yet swapped,
and the old models folder moved away with the new one not yet in place. The runs are chained on one workspace: each
run after a kill is the "next run" of the kill before it, and must get past that kill's leftovers and lock.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from clvlens.pipeline import RunSettings, run_pipeline, workspace_path
from clvlens.pipeline.modeling import load_models
from clvlens.pipeline.run import STEPS
from clvlens.pipeline.workspace import LOCK_FILE, MODEL_FILES_TABLE, MODELS_FOLDER, models_stamp

COMMIT_POINTS = ("before-commit", "after-commit", "models-swapped-out")
KILL_POINTS = (*STEPS, *COMMIT_POINTS)
COMMITTED = {"after-commit", "models-swapped-out"}  # killed after the rename: the new run is the workspace


def _killed_run(source: Path, out: Path, point: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CLVLENS_FAULT_AT": point}
    env.pop("CLVLENS_LOCK_WAIT", None)
    return subprocess.run(
        [sys.executable, "-m", "clvlens", "run", str(source), "--out", str(out)],
        capture_output=True, text=True, env=env, timeout=600,
    )


def _state(folder: Path) -> dict[str, object]:
    """What a reader sees: the ids, the row accounting and the model files, from a read-only connection."""
    with duckdb.connect(str(workspace_path(folder)), read_only=True) as connection:
        info = dict(connection.execute("SELECT key, value FROM run_info").fetchall())
        kept = connection.execute("SELECT count(*) FROM transactions").fetchone()[0]
        quarantined = connection.execute("SELECT count(*) FROM quarantine").fetchone()[0]
        customers = connection.execute("SELECT count(*) FROM customers").fetchone()[0]
        names = {row[0] for row in connection.execute(f"SELECT name FROM {MODEL_FILES_TABLE}").fetchall()}
    return {"info": info, "kept": kept, "quarantined": quarantined, "customers": customers, "model_files": names}


def _check_consistent(folder: Path) -> dict[str, object]:
    state = _state(folder)
    info = state["info"]
    assert isinstance(info, dict)
    assert info["run_id"] == info["models_id"]
    assert int(info["input_rows"]) == state["kept"] + state["quarantined"]  # type: ignore[operator]
    assert int(info["customers"]) == state["customers"]
    fitted = load_models(folder / MODELS_FOLDER)  # restores DIR/models/ from the database when it is stale
    assert fitted.selection.chosen == info["model"]
    assert models_stamp(folder / MODELS_FOLDER) == info["models_id"]
    models = folder / MODELS_FOLDER
    mirrored = {p.relative_to(models).as_posix() for p in models.rglob("*") if p.is_file() and p.name != ".models_id"}
    assert mirrored == state["model_files"]
    return state


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from clvlens.data.demo import generate_demo_store, write_flat_log

    store = generate_demo_store(n_customers=300, seed=5)
    return write_flat_log(store, tmp_path_factory.mktemp("kill") / "log.csv")


def test_sigkill_at_eleven_moments_never_damages_the_workspace(tmp_path: Path, log: Path) -> None:
    out = tmp_path / "ws"
    run_pipeline(RunSettings(str(log), out))
    previous = _check_consistent(out)
    for point in KILL_POINTS:
        before = workspace_path(out).read_bytes()
        completed = _killed_run(log, out, point)
        assert completed.returncode == -signal.SIGKILL, (point, completed.returncode, completed.stderr[-1500:])
        if point == "models-swapped-out":  # the kill left no models folder at all
            assert not (out / MODELS_FOLDER).exists()
        state = _check_consistent(out)
        info, previous_info = state["info"], previous["info"]
        assert isinstance(info, dict) and isinstance(previous_info, dict)
        if point in COMMITTED:
            assert info["run_id"] != previous_info["run_id"], point
        else:
            assert info["run_id"] == previous_info["run_id"], point
            assert workspace_path(out).read_bytes() == before, point
        previous = state
    finished = subprocess.run(
        [sys.executable, "-m", "clvlens", "run", str(log), "--out", str(out)],
        capture_output=True, text=True, env={k: v for k, v in os.environ.items() if k != "CLVLENS_FAULT_AT"},
        timeout=600,
    )
    assert finished.returncode == 0, finished.stderr
    last = _check_consistent(out)
    assert last["info"]["run_id"] != previous["info"]["run_id"]  # type: ignore[index]
    # the leftovers of every killed run are gone
    assert sorted(p.name for p in out.iterdir()) == [LOCK_FILE, "clvlens.duckdb", "models", "report.html"]
