"""Dashboard fixtures: a 1,500-customer demo workspace written once per session by the real `clvlens demo`
command, the app file, and an AppTest factory pointed at a workspace."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
APP = SRC / "clvlens" / "dashboard" / "app.py"


@pytest.fixture(scope="session")
def dashboard_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("streamlit", reason="the dashboard needs streamlit (a runtime dependency)")
    folder = tmp_path_factory.mktemp("dash-demo") / "demo"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-m", "clvlens", "demo", "--out", str(folder), "--customers", "1500", "--no-dashboard"],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return folder


@pytest.fixture
def app_for(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """AppTest of the dashboard on a workspace folder (uploads go under tmp_path)."""
    from streamlit.testing.v1 import AppTest

    def make(folder: Path) -> AppTest:
        monkeypatch.setenv("CLVLENS_WORKSPACE", str(folder))
        monkeypatch.setenv("CLVLENS_UPLOAD_DIR", str(tmp_path / "uploads"))
        return AppTest.from_file(str(APP), default_timeout=120)

    return make
