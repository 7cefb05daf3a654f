"""The program's quick exit: exit handlers run, output is complete, the exit code is main()'s."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _program(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": SRC, "COLUMNS": "120"}
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=120)


ENTRY = ("import atexit, sys; atexit.register(lambda: print('handler ran', flush=False)); "
         "sys.argv = ['clvlens', *sys.argv[1:]]; from clvlens.cli import entry; entry()")


def test_exit_runs_handlers_and_keeps_the_output_and_code() -> None:
    done = _program(ENTRY, "--version")
    assert done.returncode == 0
    assert done.stdout.splitlines() == [done.stdout.splitlines()[0], "handler ran"]
    assert done.stdout.startswith("clvlens ")


def test_exit_code_of_an_error_is_mains(tmp_path: Path) -> None:
    done = _program(ENTRY, "run", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "ws"))
    assert done.returncode == 2
    assert "error:" in done.stderr and "missing.csv" in done.stderr and "Traceback" not in done.stderr
    assert done.stdout.strip() == "handler ran"


def test_python_dash_m_exits_with_mains_code() -> None:
    env = {**os.environ, "PYTHONPATH": SRC}
    done = subprocess.run([sys.executable, "-m", "clvlens", "--version"], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("clvlens ")
    bad = subprocess.run([sys.executable, "-m", "clvlens", "no-such-command"], capture_output=True, text=True,
                         env=env, timeout=120)
    assert bad.returncode == 2 and "error:" in bad.stderr
