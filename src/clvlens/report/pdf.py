"""The report as PDF, printed by headless Chromium (the charts are drawn by plotly.js, which a browser runs)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from clvlens.errors import ClvlensError

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
PRINT_TIMEOUT_SECONDS = 180


def find_browser() -> str | None:
    """A Chromium-family executable: $CLVLENS_CHROMIUM, else the first of BROWSERS on PATH."""
    explicit = os.environ.get("CLVLENS_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).is_file() else None
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


def print_pdf(html_file: str | Path, pdf_file: str | Path) -> Path:
    """Print `html_file` to `pdf_file` with headless Chromium, network blocked; a one-line error on failure."""
    browser = find_browser()
    if browser is None:
        raise ClvlensError("report --pdf: no Chromium found (install chromium, or set CLVLENS_CHROMIUM to its path)")
    source, target = Path(html_file).resolve(), Path(pdf_file).resolve()
    with tempfile.TemporaryDirectory(prefix="clvlens-chromium-") as profile:
        command = [
            browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost", "--proxy-server=127.0.0.1:9",
            f"--user-data-dir={profile}", "--no-pdf-header-footer", "--run-all-compositor-stages-before-draw",
            "--virtual-time-budget=20000", f"--print-to-pdf={target}", source.as_uri(),
        ]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=PRINT_TIMEOUT_SECONDS, check=False)
        except subprocess.TimeoutExpired:
            raise ClvlensError(f"report --pdf: Chromium did not finish within {PRINT_TIMEOUT_SECONDS} s") from None
    if not target.is_file() or target.stat().st_size == 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1][:200]
        raise ClvlensError(f"report --pdf: Chromium wrote no PDF (exit {done.returncode}: {last})")
    return target
