"""The report opened in a real headless Chromium with outside network blocked: no console errors, every chart
drawn, the map drawn; screenshots saved under tests/artifacts/ (gitignored). The PDF has the same sections."""

from __future__ import annotations

import contextlib
import shutil
import unicodedata
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost", "--proxy-server=127.0.0.1:9",
    "--window-size=1280,1000",
)


@pytest.fixture
def driver(chromium):
    return chromium(FLAGS, 120)


def _open_report(driver, folder: Path) -> dict:
    from selenium.webdriver.support.ui import WebDriverWait

    from clvlens.report import write_report

    report = write_report(folder)
    driver.get(report.as_uri())
    from selenium.common.exceptions import TimeoutException

    with contextlib.suppress(TimeoutException):  # the assertions below say what is missing
        WebDriverWait(driver, 60).until(lambda d: d.execute_script(
            "return document.readyState === 'complete' && [...document.querySelectorAll('.chart')].every("
            "c => c.querySelector('.js-plotly-plot svg.main-svg'))"))
    return driver.execute_script("""
        const charts = [...document.querySelectorAll('.chart')];
        return {
          blocks: charts.length,
          drawn: charts.filter(c => c.querySelector('.js-plotly-plot svg.main-svg')).length,
          // lines, markers, bars, map shapes or heatmap images: a chart with axes but no marks is not drawn
          with_marks: charts.filter(c => c.querySelector(
              '.js-plotly-plot .js-line, .js-plotly-plot .point, .js-plotly-plot .choroplethlocation, '
              + '.js-plotly-plot .heatmaplayer image')).length,
          map_paths: document.querySelectorAll('#region-map .choroplethlocation').length,
          sections: [...document.querySelectorAll('h2')].map(h => h.textContent),
          kpis: document.querySelectorAll('[data-kpi]').length,
          insights: document.querySelectorAll('[data-insight]').length,
        };""")


def _screenshots(driver, name: str) -> list[Path]:
    from selenium.webdriver.common.by import By

    ARTIFACTS.mkdir(exist_ok=True)
    height = driver.execute_script("return document.body.scrollHeight")
    driver.set_window_size(1280, min(int(height) + 100, 16000))
    saved = [ARTIFACTS / f"report-{name}-page.png"]
    driver.save_screenshot(str(saved[0]))
    for block in driver.find_elements(By.CSS_SELECTOR, ".chart .js-plotly-plot"):
        target = ARTIFACTS / f"report-{name}-{block.get_attribute('id')}.png"
        block.screenshot(str(target))
        saved.append(target)
    return saved


def _severe(driver) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


@pytest.mark.slow
def test_uci_report_draws_every_chart_and_the_world_map_offline(driver, uci_workspace: Path) -> None:
    from clvlens.report import SECTIONS

    seen = _open_report(driver, uci_workspace)
    assert seen["blocks"] == 13  # every section's charts, none skipped
    assert seen["drawn"] == seen["blocks"], seen
    assert seen["with_marks"] == seen["blocks"], seen
    # grey base of every country but Antarctica plus the countries with revenue
    assert seen["map_paths"] > 176, seen
    assert seen["sections"] == [title for _, title in SECTIONS]
    assert seen["kpis"] == 8 and seen["insights"] >= 6
    assert _severe(driver) == []
    shots = _screenshots(driver, "uci")
    assert all(p.stat().st_size > 5_000 for p in shots)


@pytest.mark.slow
def test_demo_report_draws_the_brazil_map_offline(driver, demo_workspace: Path) -> None:
    seen = _open_report(driver, demo_workspace)
    assert seen["drawn"] == seen["blocks"] and seen["with_marks"] == seen["blocks"], seen
    assert seen["map_paths"] >= 20, seen  # the states with customers (27 in a large enough store)
    assert _severe(driver) == []
    _screenshots(driver, "demo")


@pytest.mark.slow
def test_pdf_has_the_report_sections(demo_workspace: Path, tmp_path: Path) -> None:
    pypdf = pytest.importorskip("pypdf", reason="pypdf reads the PDF's text")
    from clvlens.report import SECTIONS, find_browser, print_pdf, write_report

    if find_browser() is None:
        pytest.skip("chromium is not installed (.ci/run installs Debian's chromium and chromium-driver)")

    pdf = print_pdf(write_report(demo_workspace, tmp_path / "report.html"), tmp_path / "report.pdf")
    reader = pypdf.PdfReader(str(pdf))
    # NFKC: Chromium's fonts set "ff" as the ligature U+FB00, which the PDF's text then holds ("next-best oﬀers")
    text = unicodedata.normalize("NFKC", " ".join(page.extract_text() for page in reader.pages))
    assert len(reader.pages) >= len(SECTIONS)
    for _, title in SECTIONS:
        assert title in text, title
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copyfile(pdf, ARTIFACTS / "report-demo.pdf")
