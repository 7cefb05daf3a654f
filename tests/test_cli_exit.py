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


def test_the_program_sets_its_imports_beyond_the_garbage_collector_and_a_caller_of_main_does_not(
        tmp_path: Path, cdnow_sample: Path) -> None:
    """`clvlens run` as the program freezes what its imports built (gc.freeze, so that full collections walk only
    the run's own objects); main() called from someone's Python leaves their garbage collector alone."""
    code = ("import atexit, gc, sys; atexit.register(lambda: print('frozen', gc.get_freeze_count() > 0)); "
            "sys.argv = ['clvlens', *sys.argv[1:]]; from clvlens.cli import entry; entry()")
    args = ("run", str(cdnow_sample), "--out", str(tmp_path / "ws"), "--skip", "ml,basket,scorecard,report")
    done = _program(code, *args)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "frozen True"
    caller = ("import gc, sys; from clvlens.cli import main; code = main(sys.argv[1:]); "
              "print('frozen', gc.get_freeze_count() > 0, code)")
    done = _program(caller, *args[:3], str(tmp_path / "ws2"), *args[4:])
    assert done.stdout.strip().splitlines()[-1] == "frozen False 0", done.stderr


def test_a_signal_that_a_library_wrapped_is_still_the_signal() -> None:
    """A pybind11 extension module (SciPy's optimisers import several) interrupted by Ctrl-C while it initialises
    raises ``ImportError("initialization failed")`` from the KeyboardInterrupt: the program reports Ctrl-C (130),
    not an unexpected error (reproduced by arming a 1 ms SIGALRM that raises KeyboardInterrupt just before
    ``scipy.optimize._highspy._core`` initialises). Errors met while unwinding from a signal count as the signal."""
    from clvlens.cli import INTERRUPTED, TERMINATED, _Terminated, signal_exit

    def wrapped(signal_error: BaseException, how: str) -> BaseException:
        try:
            try:
                raise signal_error
            except BaseException as caught:
                if how == "cause":
                    raise ImportError("initialization failed") from caught
                raise OSError("cleaning up")  # noqa: B904 - raised while handling: the signal is its context
        except Exception as error:
            return error

    assert signal_exit(wrapped(KeyboardInterrupt(), "cause")) == INTERRUPTED
    assert signal_exit(wrapped(_Terminated(), "cause")) == TERMINATED
    assert signal_exit(wrapped(KeyboardInterrupt(), "context")) == INTERRUPTED
    assert signal_exit(KeyboardInterrupt()) == INTERRUPTED and signal_exit(_Terminated()) == TERMINATED
    assert signal_exit(wrapped(ValueError("not a signal"), "cause")) is None
    assert signal_exit(ImportError("initialization failed")) is None
    looped = ValueError("a")
    looped.__context__ = ValueError("b")
    looped.__context__.__context__ = looped
    assert signal_exit(looped) is None
