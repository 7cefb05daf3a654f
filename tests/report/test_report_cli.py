"""The finished run as a user meets it (subprocess, piped): per-stage times as plain lines, --skip recorded in
run_info, the report written, an end summary in plain words; `clvlens report` and `clvlens export`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key not in ("CLVLENS_DEBUG", "COLUMNS")}
    return subprocess.run([sys.executable, "-m", "clvlens", *args], capture_output=True, text=True, env=env,
                          timeout=600)


@pytest.fixture(scope="module")
def cdnow_run(tmp_path_factory: pytest.TempPathFactory, cdnow_sample: Path) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("cdnow") / "ws"
    return out, cli("run", str(cdnow_sample), "--out", str(out), "--skip", "ml,scorecard")


@pytest.mark.slow
def test_run_prints_stage_times_records_skips_and_writes_the_report(cdnow_run) -> None:
    out, completed = cdnow_run
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""  # piped: stage lines go to stdout, stderr is kept for a failure's one line
    stages = [line for line in completed.stdout.splitlines() if line.startswith("[")]
    assert stages[0].startswith("[1/9] load and clean: ") and stages[-1].startswith("[9/9] write report: ")
    usage = re.compile(r"^\[\d/9\] [A-Za-z -]+: \d+\.\d s \(cpu \d+\.\d s, peak [\d,]+ MB\)$")
    assert all(usage.match(line) for line in stages), stages
    peaks = [int(line.rsplit("peak ", 1)[1].split()[0].replace(",", "")) for line in stages]
    assert all(50 < peak < 4000 for peak in peaks)  # the process's resident memory, in MB, during each stage
    assert re.search(r"; cpu \d+\.\d s; peak memory [\d,]+ MB$", completed.stdout.split("\ntime: ")[1].splitlines()[0])
    info = dict(duckdb.connect(str(out / "clvlens.duckdb"), read_only=True).execute(
        "SELECT key, value FROM run_info").fetchall())
    assert info["skipped_ml"] == info["skipped_scorecard"] == "left out by --skip"
    assert "skipped_report" not in info and (out / "report.html").stat().st_size > 1_000_000
    text = completed.stdout
    for heading in ("What the run found", "Where the results are", "Next", f"report:  {out / 'report.html'}"):
        assert heading in text
    assert "Projected revenue over 12M (CLV): $" in text  # CDNOW is in US dollars
    assert "- what the customers are expected to spend over the next 12M (the sum of CLV)" in text
    # piped output is not wrapped at 80 columns: the long lines stay whole
    assert max(len(line) for line in text.splitlines()) > 120
    assert f"clvlens export {out} --to xlsx" in text


@pytest.mark.slow
def test_report_and_export_commands(cdnow_run, tmp_path: Path) -> None:
    out, _ = cdnow_run
    html = tmp_path / "r.html"
    completed = cli("report", str(out), "--out", str(html), "--currency", "EUR")
    assert completed.returncode == 0, completed.stderr
    assert "EUR (set by the user)" in html.read_text(encoding="utf-8")
    completed = cli("export", str(out), "--to", "csv", "--dest", str(tmp_path / "bi"))
    assert completed.returncode == 0, completed.stderr
    assert (tmp_path / "bi" / "fact_order_lines.csv").exists() and (tmp_path / "bi" / "README.md").exists()
    assert "rules" not in completed.stdout  # CDNOW has no item ids: no basket tables, no error


def test_bad_options_are_one_line(tmp_path: Path, cdnow_sample: Path) -> None:
    for args, message in (
        (("run", str(cdnow_sample), "--out", str(tmp_path / "x"), "--skip", "ml,bogus"), "--skip: unknown stage bogus"),
        (("report", str(tmp_path / "nothing")), "no workspace here"),
        (("export", str(tmp_path / "nothing"), "--to", "json"), "export --to: expected one of parquet, csv, xlsx"),
    ):
        completed = cli(*args)
        assert completed.returncode == 2, completed.stderr
        assert message in completed.stderr and "Traceback" not in completed.stderr
        assert len(completed.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_skip_report_leaves_no_report(tmp_path: Path, cdnow_sample: Path) -> None:
    out = tmp_path / "ws"
    completed = cli("run", str(cdnow_sample), "--out", str(out), "--skip", "ml,scorecard,report,basket")
    assert completed.returncode == 0, completed.stderr
    assert not (out / "report.html").exists() and "report:  not written (left out by --skip)" in completed.stdout
