"""Faults around a run (issue 10): usage errors, invalid options, the output folder, the writer lock, the database
and models as one unit, and signals. Every CLI case runs as a user would: a subprocess, checked for its exit code
and for one line on stderr with no traceback."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

from clvlens.pipeline import RunSettings, run_pipeline, workspace_path
from clvlens.pipeline.modeling import load_models
from clvlens.pipeline.workspace import (
    LOCK_FILE,
    MODEL_FILES_TABLE,
    MODELS_FOLDER,
    models_stamp,
    workspace_lock,
)


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "COLUMNS": "120", **extra}
    env.pop("CLVLENS_DEBUG", None)
    env.pop("CLVLENS_FAULT_AT", None)
    env.pop("CLVLENS_LOCK_WAIT", None)
    return {**env, **extra}


def _default_sigint() -> None:
    """Ctrl-C as at a terminal: a test suite started in the background inherits SIGINT ignored, and so would the CLI."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def cli(*args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clvlens", *args], capture_output=True, text=True, env=_env(**env), timeout=timeout,
        preexec_fn=_default_sigint,
    )


def assert_one_line(completed: subprocess.CompletedProcess[str], code: int, *fragments: str) -> None:
    lines = completed.stderr.strip().splitlines()
    assert completed.returncode == code, (completed.returncode, completed.stderr[-2000:])
    assert len(lines) == 1, completed.stderr
    assert "Traceback" not in completed.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def run_ids(folder: Path) -> dict[str, str]:
    with duckdb.connect(str(workspace_path(folder)), read_only=True) as connection:
        rows = connection.execute("SELECT key, value FROM run_info WHERE key IN ('run_id', 'models_id')").fetchall()
    return dict(rows)


def stored_model_names(folder: Path) -> set[str]:
    with duckdb.connect(str(workspace_path(folder)), read_only=True) as connection:
        return {row[0] for row in connection.execute(f"SELECT name FROM {MODEL_FILES_TABLE}").fetchall()}


def mirrored_model_names(folder: Path) -> set[str]:
    models = folder / MODELS_FOLDER
    return {p.relative_to(models).as_posix() for p in models.rglob("*") if p.is_file() and p.name != ".models_id"}


@pytest.fixture(scope="module")
def small_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated demo store of 300 customers written once as a CSV log (the demo generator, not a fixture file)."""
    from clvlens.data.demo import generate_demo_store, write_flat_log

    store = generate_demo_store(n_customers=300, seed=11)
    return write_flat_log(store, tmp_path_factory.mktemp("log") / "small.csv")


@pytest.fixture(scope="module")
def good_workspace(tmp_path_factory: pytest.TempPathFactory, small_log: Path) -> Path:
    out = tmp_path_factory.mktemp("good") / "ws"
    run_pipeline(RunSettings(str(small_log), out))
    return out


@pytest.fixture
def workspace(tmp_path: Path, good_workspace: Path) -> Path:
    """A private copy of the good workspace, for tests that change it."""
    copy = tmp_path / "ws"
    shutil.copytree(good_workspace, copy)
    return copy


# --- usage errors without the click package (typer 0.29 bundles its own click) --------------------------------------

NO_CLICK = "import sys; sys.modules['click'] = None; from clvlens.cli import main; raise SystemExit(main(sys.argv[1:]))"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["run", "x.csv", "--no-such-option"], "No such option"),
        (["run"], "Missing argument"),
        (["run", "x.csv", "--discount-rate", "abc"], "--discount-rate"),
        (["no-such-command"], "No such command"),
    ],
)
def test_usage_errors_are_one_line_without_the_click_package(args: list[str], fragment: str) -> None:
    completed = subprocess.run(
        [sys.executable, "-c", NO_CLICK, *args], capture_output=True, text=True, env=_env(), timeout=120
    )
    assert_one_line(completed, 2, fragment)


# --- invalid options: exit 2 in one line before any work ------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "fragment"),
    [
        (["--models", "xyz"], "'xyz'"),
        (["--models", "bgnbd,xyz"], "'xyz'"),
        (["--margin", "-0.3"], "margin"),
        (["--margin", "7"], "margin"),
        (["--margin", "nan"], "margin"),
        (["--horizon", "soon"], "horizon"),
        (["--horizon", "-3M"], "horizon"),
        (["--time-unit", "fortnight"], "time unit"),
        (["--observation-end", "yesterday"], "observation_end"),
        (["--discount-rate", "inf"], "discount rate"),
        (["--holdout", "many"], "horizon"),
    ],
)
def test_invalid_run_options_fail_before_any_work(tmp_path: Path, option: list[str], fragment: str) -> None:
    # the source does not exist: an option error reported first proves no data were read
    completed = cli("run", str(tmp_path / "absent.csv"), "--out", str(tmp_path / "ws"), *option)
    assert_one_line(completed, 2, fragment)
    assert not (tmp_path / "ws").exists()


def test_holdout_longer_than_the_data_fails_the_run(tmp_path: Path, small_log: Path) -> None:
    completed = cli("run", str(small_log), "--out", str(tmp_path / "ws"), "--holdout", "500W")
    assert_one_line(completed, 2, "holdout 500W", "not shorter than the data")
    assert not (tmp_path / "ws").exists()  # the folder the failed run created is removed again


def test_a_failed_run_keeps_an_existing_folder(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    completed = cli("run", str(tmp_path / "absent.csv"), "--out", str(out))
    assert completed.returncode == 2 and "Traceback" not in completed.stderr
    assert out.is_dir()


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["fit", "{ws}", "--models", "xyz"], "'xyz'"),
        (["fit", "{ws}", "--margin", "-1"], "margin"),
        (["fit", "{ws}", "--holdout", "500W"], "not shorter than the data"),
        (["evaluate", "{ws}", "--holdout", "500W"], "not shorter than the data"),
        (["evaluate", "{ws}", "--holdout", "whenever"], "horizon"),
        (["ml", "train", "{ws}", "--model", "xyz"], "'xyz'"),
        (["ml", "train", "{ws}", "--horizon", "soon"], "horizon"),
    ],
)
def test_invalid_step_options_leave_the_workspace_alone(workspace: Path, args: list[str], fragment: str) -> None:
    before = workspace_path(workspace).read_bytes()
    completed = cli(*[a.format(ws=workspace) for a in args])
    assert_one_line(completed, 2, fragment)
    assert workspace_path(workspace).read_bytes() == before


# --- the output location, checked before any work -------------------------------------------------------------------


def test_out_that_is_a_file_is_refused(tmp_path: Path, small_log: Path) -> None:
    target = tmp_path / "taken"
    target.write_text("not a folder")
    completed = cli("run", str(small_log), "--out", str(target))
    assert_one_line(completed, 2, str(target), "is a file")
    assert target.read_text() == "not a folder"


def test_out_that_cannot_be_created_is_refused(tmp_path: Path, small_log: Path) -> None:
    completed = cli("run", str(small_log), "--out", "/proc/clvlens-ws")
    assert_one_line(completed, 2, "/proc/clvlens-ws", "cannot create the output folder")


def test_read_only_out_is_refused_before_any_work(tmp_path: Path) -> None:
    # root ignores permission bits, so the folder is made immutable (chattr +i), which refuses even root
    folder = tmp_path / "frozen"
    folder.mkdir()
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("cannot make a folder unwritable here (no chattr +i: not root, or the file system lacks it)")
    try:
        # the source does not exist either: the refusal of the folder comes first, before any reading
        completed = cli("run", str(tmp_path / "absent.csv"), "--out", str(folder))
        demo = cli("demo", "--customers", "50", "--out", str(folder / "sub"))
    finally:
        subprocess.run([chattr, "-i", str(folder)], check=True)
    assert_one_line(completed, 2, str(folder), "cannot write to the output folder")
    assert_one_line(demo, 2, "cannot create the output folder")
    assert list(folder.iterdir()) == []


def test_too_little_disk_space_is_refused_before_reading(tmp_path: Path) -> None:
    # a sparse file larger than the free space: its size is real, its blocks are not
    huge = tmp_path / "huge.csv"
    free = shutil.disk_usage(tmp_path).free
    try:
        with open(huge, "wb") as handle:
            handle.truncate(free + 2**30)
    except OSError as exc:
        pytest.skip(f"cannot make a sparse file larger than the free space here ({exc.strerror})")
    completed = cli("run", str(huge), "--out", str(tmp_path / "ws"))
    assert_one_line(completed, 2, "not enough free disk space")
    assert not workspace_path(tmp_path / "ws").exists()


# --- the writer lock ------------------------------------------------------------------------------------------------


def test_second_writer_refuses_in_one_line_naming_the_holder(workspace: Path, small_log: Path) -> None:
    before = workspace_path(workspace).read_bytes()
    ready, release = threading.Event(), threading.Event()

    def hold() -> None:  # another thread holds the lock through its own file descriptor, as another process would
        with workspace_lock(workspace):
            ready.set()
            release.wait(120)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert ready.wait(30)
        completed = cli("run", str(small_log), "--out", str(workspace))
        score = cli("score", str(workspace))
    finally:
        release.set()
        holder.join()
    assert_one_line(completed, 2, str(workspace), f"(pid {os.getpid()})", "another clvlens process")
    assert_one_line(score, 2, "another clvlens process")
    assert workspace_path(workspace).read_bytes() == before


def test_second_writer_waits_when_asked(workspace: Path) -> None:
    release_after = 2.0

    def hold() -> None:
        with workspace_lock(workspace):
            time.sleep(release_after)

    holder = threading.Thread(target=hold)
    holder.start()
    time.sleep(0.2)
    completed = cli("score", str(workspace), CLVLENS_LOCK_WAIT="120")
    holder.join()
    assert completed.returncode == 0, completed.stderr


def test_two_concurrent_runs_into_one_folder(tmp_path: Path, small_log: Path) -> None:
    out = tmp_path / "ws"
    command = [sys.executable, "-m", "clvlens", "run", str(small_log), "--out", str(out)]
    runs = [subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=_env())
            for _ in range(2)]
    outcomes = [(run.wait(timeout=600), run.stderr.read()) for run in runs]  # type: ignore[union-attr]
    codes = sorted(code for code, _ in outcomes)
    assert codes in ([0, 0], [0, 2]), outcomes
    for code, stderr in outcomes:
        assert "Traceback" not in stderr
        if code == 2:
            assert "another clvlens process" in stderr and len(stderr.strip().splitlines()) == 1
    ids = run_ids(out)
    assert ids["run_id"] == ids["models_id"] == models_stamp(out / MODELS_FOLDER)
    assert stored_model_names(out) == mirrored_model_names(out)
    assert sorted(p.name for p in out.iterdir()) == [LOCK_FILE, "clvlens.duckdb", "models", "report.html"]


def test_two_concurrent_runs_both_finish_with_a_lock_wait(tmp_path: Path, small_log: Path) -> None:
    out = tmp_path / "ws"
    command = [sys.executable, "-m", "clvlens", "run", str(small_log), "--out", str(out)]
    runs = [subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             env=_env(CLVLENS_LOCK_WAIT="600")) for _ in range(2)]
    outcomes = [(run.wait(timeout=900), run.stderr.read()) for run in runs]  # type: ignore[union-attr]
    assert [code for code, _ in outcomes] == [0, 0], outcomes
    ids = run_ids(out)
    assert ids["run_id"] == ids["models_id"] == models_stamp(out / MODELS_FOLDER)
    assert sorted(p.name for p in out.iterdir()) == [LOCK_FILE, "clvlens.duckdb", "models", "report.html"]


# --- the database and the models as one unit ------------------------------------------------------------------------


def test_models_are_stored_in_the_database_and_mirrored_with_a_stamp(good_workspace: Path) -> None:
    ids = run_ids(good_workspace)
    assert ids["run_id"] == ids["models_id"] == models_stamp(good_workspace / MODELS_FOLDER)
    names = stored_model_names(good_workspace)
    assert {"selection.json", "ltv_ml/metadata.json"} <= names
    assert names == mirrored_model_names(good_workspace)


def test_a_missing_models_folder_is_restored_from_the_database(workspace: Path) -> None:
    expected = load_models(workspace / MODELS_FOLDER)
    shutil.rmtree(workspace / MODELS_FOLDER)
    restored = load_models(workspace / MODELS_FOLDER)
    assert restored.selection.chosen == expected.selection.chosen
    assert restored.transaction_model.params_ == expected.transaction_model.params_
    assert models_stamp(workspace / MODELS_FOLDER) == run_ids(workspace)["models_id"]
    assert cli("score", str(workspace)).returncode == 0


def test_a_models_folder_from_another_run_is_replaced(workspace: Path, tmp_path: Path, small_log: Path) -> None:
    other = tmp_path / "other"
    run_pipeline(RunSettings(str(small_log), other, models=_settings(models=("paretonbd",))))
    shutil.rmtree(workspace / MODELS_FOLDER)
    shutil.copytree(other / MODELS_FOLDER, workspace / MODELS_FOLDER)  # the folder of another run: stamp differs
    restored = load_models(workspace / MODELS_FOLDER)
    with duckdb.connect(str(workspace_path(workspace)), read_only=True) as connection:
        chosen = connection.execute("SELECT value FROM run_info WHERE key = 'model'").fetchone()[0]
    assert restored.selection.chosen == chosen
    assert models_stamp(workspace / MODELS_FOLDER) == run_ids(workspace)["models_id"]
    assert mirrored_model_names(workspace) == stored_model_names(workspace)


def test_fit_replaces_models_and_keeps_the_ltv_model(workspace: Path) -> None:
    before = run_ids(workspace)
    completed = cli("fit", str(workspace), "--models", "paretonbd")
    assert completed.returncode == 0, completed.stderr
    after = run_ids(workspace)
    assert after["run_id"] == before["run_id"] and after["models_id"] != before["models_id"]
    assert models_stamp(workspace / MODELS_FOLDER) == after["models_id"]
    names = stored_model_names(workspace)
    assert "paretonbd.json" in names and "ltv_ml/metadata.json" in names
    assert names == mirrored_model_names(workspace)
    assert load_models(workspace / MODELS_FOLDER).selection.chosen == "paretonbd"


def _settings(**changes: object) -> object:
    from clvlens.pipeline.modeling import ModelSettings

    return ModelSettings(**changes)  # type: ignore[arg-type]


# --- signals --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("signum", "code", "word"), [(signal.SIGINT, 130, "interrupted"),
                                                      (signal.SIGTERM, 143, "terminated")])
def test_signal_during_a_run_exits_non_zero_in_one_line(
    tmp_path: Path, signum: int, code: int, word: str
) -> None:
    out = tmp_path / "demo"
    first = cli("demo", "--customers", "300", "--out", str(out), "--no-dashboard")
    assert first.returncode == 0, first.stderr
    before, ids = workspace_path(out).read_bytes(), run_ids(out)
    run = subprocess.Popen(
        [sys.executable, "-m", "clvlens", "demo", "--customers", "30000", "--out", str(out), "--no-dashboard"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=_env(), preexec_fn=_default_sigint,
    )
    lock = out / LOCK_FILE
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and lock.read_text().strip() != str(run.pid):  # the run has started work
        time.sleep(0.1)
    time.sleep(1.0)
    run.send_signal(signum)
    returncode, stderr = run.wait(timeout=120), run.stderr.read()  # type: ignore[union-attr]
    assert returncode == code, stderr
    assert len(stderr.strip().splitlines()) == 1 and word in stderr and "Traceback" not in stderr
    assert workspace_path(out).read_bytes() == before and run_ids(out) == ids
    assert models_stamp(out / MODELS_FOLDER) == ids["models_id"]
    assert not [p for p in out.iterdir() if ".tmp" in p.name]


def test_a_write_that_fails_at_the_commit_is_one_line_and_changes_nothing(workspace: Path) -> None:
    # the folder turns read-only after the run's checks (chattr +i refuses even root): the rename fails
    from clvlens.errors import ClvlensError
    from clvlens.pipeline.workspace import writing_workspace

    chattr = shutil.which("chattr")
    before, ids = workspace_path(workspace).read_bytes(), run_ids(workspace)
    try:
        with (
            pytest.raises(ClvlensError, match="could not write the workspace") as raised,
            writing_workspace(workspace) as (connection, _models),
        ):
            connection.execute("CREATE TABLE t AS SELECT 1 AS x")
            if chattr is None or subprocess.run([chattr, "+i", str(workspace)]).returncode != 0:
                pytest.skip("cannot make a folder unwritable here (no chattr +i)")
    finally:
        if chattr is not None:
            subprocess.run([chattr, "-i", str(workspace)], check=True)
    assert "previous workspace is unchanged" in str(raised.value)
    assert workspace_path(workspace).read_bytes() == before and run_ids(workspace) == ids
    assert cli("score", str(workspace)).returncode == 0  # the next writer clears the leftovers and succeeds
    assert not [p for p in workspace.iterdir() if ".tmp" in p.name]


@pytest.mark.parametrize("command", ["run", "score"])
@pytest.mark.parametrize(("name", "code"), [("TERM", 143), ("INT", 130)])
def test_a_signal_as_the_temporary_database_is_created_leaves_nothing_behind(
    workspace: Path, small_log: Path, command: str, name: str, code: int
) -> None:
    """A write's temporary database is in the clean-up's care from its creation on: the signal once came between
    the two (seen in the fresh-install suite, SIGTERM during `demo --customers 30000`) and left the file behind."""
    before, ids = workspace_path(workspace).read_bytes(), run_ids(workspace)
    args = ("run", str(small_log), "--out", str(workspace)) if command == "run" else ("score", str(workspace))
    completed = cli(*args, CLVLENS_FAULT_AT="database-created", CLVLENS_FAULT_SIGNAL=name)
    assert_one_line(completed, code, "no partial workspace was written")
    assert workspace_path(workspace).read_bytes() == before and run_ids(workspace) == ids
    assert not [p for p in workspace.iterdir() if ".tmp" in p.name]


@pytest.mark.parametrize(("name", "code", "word"), [("TERM", 143, "terminated"), ("INT", 130, "interrupted")])
def test_a_signal_while_the_report_is_written_ends_the_program(
    workspace: Path, small_log: Path, name: str, code: int, word: str
) -> None:
    """The report's writer turns its own failures into a note (the workspace is written by then), but a signal is
    no failure of the report: SIGTERM, raised there, once became that note and the program ended with 0."""
    previous = run_ids(workspace)
    completed = cli("run", str(small_log), "--out", str(workspace),
                    CLVLENS_FAULT_AT="write report", CLVLENS_FAULT_SIGNAL=name)
    assert_one_line(completed, code, word)
    assert run_ids(workspace)["run_id"] != previous["run_id"]  # the run was committed before the report
    assert not (workspace / "report.html").exists()
    assert not [p for p in workspace.iterdir() if ".tmp" in p.name]


@pytest.mark.parametrize(("name", "code"), [("TERM", 143), ("INT", 130)])
def test_a_signal_during_the_commit_waits_for_the_models_swap(
    workspace: Path, small_log: Path, name: str, code: int
) -> None:
    # the signal arrives right after the database rename: it is held until the models folder is swapped too
    previous = run_ids(workspace)
    completed = cli("run", str(small_log), "--out", str(workspace),
                    CLVLENS_FAULT_AT="after-commit", CLVLENS_FAULT_SIGNAL=name)
    assert_one_line(completed, code, "no partial workspace was written")
    ids = run_ids(workspace)
    assert ids["run_id"] != previous["run_id"]  # committed
    assert models_stamp(workspace / MODELS_FOLDER) == ids["models_id"]  # and the mirror swapped, no restore needed
    assert stored_model_names(workspace) == mirrored_model_names(workspace)
    assert not [p for p in workspace.iterdir() if ".tmp" in p.name or ".old" in p.name]
