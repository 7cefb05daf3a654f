"""The input options and limits as the command line sees them: --dayfirst/--date-format, CLVLENS_MAX_* settings."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import polars as pl

ROWS = "".join(f"o{i},c{i % 4},0{1 + i % 9}/{1 + (i * 5) % 12:02d}/2023,{5 + i}.00\n" for i in range(40))
HEADER = "order_id,customer_id,timestamp,amount\n"


def _summary(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clvlens", "summary", *args], capture_output=True, text=True, timeout=300,
        env={**os.environ, "COLUMNS": "400", **(env or {})},
    )


def test_ambiguous_dates_ask_for_dayfirst_then_read(tmp_path: Path) -> None:
    path = tmp_path / "ambiguous.csv"
    path.write_text(HEADER + ROWS)
    out = tmp_path / "out.csv"
    refused = _summary(str(path), "--out", str(out))
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and "--dayfirst" in refused.stderr
    for flag in (["--dayfirst"], ["--monthfirst"], ["--date-format", "%d/%m/%Y"]):
        done = _summary(str(path), "--out", str(out), *flag)
        assert done.returncode == 0, done.stderr
        assert pl.read_csv(out).height == 4


def test_decompression_limit_is_set_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "log.csv.gz"
    path.write_bytes(gzip.compress((HEADER + ROWS.replace("/2023", "/2023 10:00")).encode()))
    done = _summary(str(path), "--out", str(tmp_path / "o.csv"), "--dayfirst", env={"CLVLENS_MAX_DECOMPRESSED": "1KB"})
    assert done.returncode == 2 and "log.csv.gz" in done.stderr and "CLVLENS_MAX_DECOMPRESSED" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
