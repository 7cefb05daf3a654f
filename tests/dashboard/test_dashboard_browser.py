"""The dashboard served by `clvlens dashboard` on loopback and driven in a real headless Chromium with outside
network blocked: every page opens with no Streamlit error element, its charts and the map are drawn, and the
upload flow runs on a small CSV. Screenshots go to tests/artifacts/ (gitignored)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("streamlit", reason="the dashboard needs streamlit (a runtime dependency)")

from clvlens.dashboard.navigation import PAGE_NAMES, SLUGS

SRC = Path(__file__).resolve().parents[2] / "src"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1", "--proxy-server=127.0.0.1:9",
    "--window-size=1400,1100",
)
# page slug -> least plotly charts drawn on it
CHARTS = {"overview": 1, "asset-matrix": 1, "segments-playbooks": 2, "what-if-clv": 0, "cohorts": 2, "regions": 1,
          "market-basket": 2, "models": 4, "customer": 1, "data-quality": 1, "upload-run": 0}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def _serving(folder: Path, tmp_path: Path):
    """`clvlens dashboard FOLDER --port P` on loopback; yields the base URL; stopped (by its pid) afterwards."""
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
           "CLVLENS_UPLOAD_DIR": str(tmp_path / "uploads")}
    log_path = tmp_path / f"server-{port}.log"
    log = log_path.open("wb")
    process = subprocess.Popen([sys.executable, "-m", "clvlens", "dashboard", str(folder), "--port", str(port)],
                               env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and process.poll() is None:
            with contextlib.suppress(OSError):
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                    break
            time.sleep(0.5)
        else:
            pytest.fail("the dashboard server did not answer within 90 s: " + log_path.read_text()[-2000:])
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 15)  # the CLI and the streamlit server it started
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
        log.close()


@pytest.fixture
def server(dashboard_demo: Path, tmp_path: Path, chromium):  # chromium first: skip before serving
    with _serving(dashboard_demo, tmp_path) as url:
        yield url


@pytest.fixture
def driver(chromium):
    return chromium(FLAGS, 90)


STATE = """
const charts = [...document.querySelectorAll('[data-testid="stPlotlyChart"]')];
return {
  header: (document.querySelector('[data-testid="stHeading"] h2') || {}).textContent || '',
  running: !!document.querySelector('[data-testid="stStatusWidget"]'),
  exceptions: [...document.querySelectorAll('[data-testid="stException"]')].map(e => e.textContent.slice(0, 300)),
  charts: charts.length,
  drawn: charts.filter(c => c.querySelector('.js-plotly-plot svg.main-svg')).length,
  with_marks: charts.filter(c => c.querySelector('.js-line, .point, .choroplethlocation, .heatmaplayer image, '
                                                + '.bars path, .trace.bars')).length,
  map_paths: document.querySelectorAll('.choroplethlocation').length,
  tables: document.querySelectorAll('[data-testid="stDataFrame"]').length,
  downloads: document.querySelectorAll('[data-testid="stDownloadButton"]').length,
};"""


def _wait_page(driver, want_header: str | None, charts: int, timeout: float = 90, tables: int = 0) -> dict:
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    def ready(d):
        seen = d.execute_script(STATE)
        header_ok = want_header is None or seen["header"].startswith(want_header)
        done = not seen["running"] and seen["drawn"] >= charts and seen["tables"] >= tables
        return seen if header_ok and done else False

    with contextlib.suppress(TimeoutException):  # the assertions below say what is missing
        WebDriverWait(driver, timeout, poll_frequency=0.5).until(ready)
    time.sleep(1.0)  # let the last plotly redraw settle before reading and screenshotting
    return driver.execute_script(STATE)


def _shot(driver, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"dashboard-{name}.png"
    driver.save_screenshot(str(path))
    return path


@pytest.mark.slow
def test_every_page_opens_and_draws_offline(server: str, driver) -> None:
    headers = {slug: name for name, slug in SLUGS.items()}
    for slug, least in CHARTS.items():
        driver.get(f"{server}/?page={slug}")
        seen = _wait_page(driver, headers[slug], least, tables=0 if slug == "upload-run" else 1)
        shot = _shot(driver, slug)
        assert seen["exceptions"] == [], (slug, seen)
        assert seen["header"].startswith(headers[slug]), (slug, seen)
        assert seen["drawn"] >= least and seen["with_marks"] >= least, (slug, seen)
        if slug not in ("upload-run",):
            assert seen["tables"] >= 1 and seen["downloads"] >= 1, (slug, seen)
        if slug == "regions":
            assert seen["map_paths"] >= 20, seen  # the Brazilian states with customers, drawn offline
        assert shot.stat().st_size > 10_000
    assert set(headers.values()) == set(PAGE_NAMES)


@pytest.mark.slow
def test_upload_flow_runs_and_the_dashboard_shows_the_new_workspace(server: str, driver, dashboard_demo: Path,
                                                                   tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    lines = (dashboard_demo / "demo_transactions.csv").read_text(encoding="utf-8").splitlines()
    small = tmp_path / "small shop.csv"
    small.write_text("\n".join(lines[:1200]) + "\n", encoding="utf-8")
    driver.get(f"{server}/?page=upload-run")
    _wait_page(driver, "Upload and run", 0)
    driver.find_element(By.CSS_SELECTOR, 'input[type="file"]').send_keys(str(small))
    # read and click through the DOM in one script each time: Streamlit re-renders elements while it runs
    find_run = "return [...document.querySelectorAll('button')].find(b => b.textContent.includes('Run the analysis'))"
    WebDriverWait(driver, 60, poll_frequency=0.5).until(lambda d: d.execute_script(find_run))
    _wait_page(driver, "Upload and run", 0)
    _shot(driver, "upload-mapping")
    driver.execute_script(find_run.replace("return ", "") + ".click()")
    WebDriverWait(driver, 300, poll_frequency=1).until(lambda d: d.find_elements(
        By.CSS_SELECTOR, '[data-testid="stAlertContentSuccess"], [data-testid="stAlertContentError"], '
                         '[data-testid="stException"]'))
    _shot(driver, "upload-done")
    assert not driver.find_elements(By.CSS_SELECTOR, '[data-testid="stException"]')
    errors = [e.text for e in driver.find_elements(By.CSS_SELECTOR, '[data-testid="stAlertContentError"]')]
    assert errors == []
    success = driver.find_element(By.CSS_SELECTOR, '[data-testid="stAlertContentSuccess"]').text
    assert "Workspace written to" in success and str(tmp_path / "uploads") in success
    # the same session now shows the uploaded workspace: pick Overview in the sidebar
    driver.execute_script("[...document.querySelectorAll('[data-testid=\"stSidebar\"] label')]"
                          ".find(e => e.textContent.trim() === 'Overview').click()")
    seen = _wait_page(driver, "Overview", 1)
    _shot(driver, "upload-overview")
    assert seen["exceptions"] == []
    sidebar = driver.find_element(By.CSS_SELECTOR, '[data-testid="stSidebar"]').text
    assert str(tmp_path / "uploads") in sidebar


@pytest.mark.slow
def test_box_selection_in_the_asset_matrix_lists_the_customers(server: str, driver) -> None:
    import re

    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(f"{server}/?page=asset-matrix")
    _wait_page(driver, "Asset matrix", 1)
    area = driver.find_element(By.CSS_SELECTOR, '[data-testid="stPlotlyChart"] .nsewdrag')
    width, height = area.size["width"], area.size["height"]
    # drag a box over the upper right of the plot (valuable, healthy customers); offsets are from the centre
    ActionChains(driver).move_to_element_with_offset(area, int(width * 0.05), int(-height * 0.45)).click_and_hold() \
        .move_by_offset(int(width * 0.4), int(height * 0.4)).pause(0.3).release().perform()
    WebDriverWait(driver, 60, poll_frequency=0.5).until(
        lambda d: "customers selected in the chart" in d.find_element(By.CSS_SELECTOR, '[data-testid="stMain"]').text)
    seen = _wait_page(driver, "Asset matrix", 1)
    _shot(driver, "asset-matrix-selection")
    assert seen["exceptions"] == []
    text = driver.find_element(By.CSS_SELECTOR, '[data-testid="stMain"]').text
    selected = int(re.search(r"([\d,]+) customers selected in the chart", text).group(1).replace(",", ""))
    assert 0 < selected < 1500
    assert seen["tables"] >= 1 and seen["downloads"] >= 1


@pytest.mark.slow
def test_uci_world_map_draws_offline(uci_workspace: Path, driver, tmp_path: Path) -> None:
    with _serving(uci_workspace, tmp_path) as url:
        driver.get(f"{url}/?page=regions")
        seen = _wait_page(driver, "Regions", 1)
        _shot(driver, "uci-regions")
    assert seen["exceptions"] == [] and seen["drawn"] >= 1, seen
    assert seen["map_paths"] > 176, seen  # the grey base of every country but Antarctica, plus the UCI countries


@pytest.mark.slow
def test_region_filter_stays_on_across_pages_and_the_upload_page(server: str, driver) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    def sidebar_text() -> str:
        return driver.find_element(By.CSS_SELECTOR, '[data-testid="stSidebar"]').text

    def open_page(name: str, charts: int) -> dict:
        driver.execute_script("[...document.querySelectorAll('[data-testid=\"stSidebar\"] label')]"
                              f".find(e => e.textContent.trim() === '{name}').click()")
        return _wait_page(driver, name, charts)

    driver.get(f"{server}/?page=models")
    _wait_page(driver, "Models", 4)
    region = driver.find_element(By.CSS_SELECTOR, '[data-testid="stSidebar"] [data-testid="stMultiSelect"] input')
    region.click()
    region.send_keys("SP")
    region.send_keys(Keys.ENTER)
    region.send_keys(Keys.ESCAPE)
    WebDriverWait(driver, 60, poll_frequency=0.5).until(lambda d: "Filtered: Region in SP" in sidebar_text())
    for name, charts in (("Models", 4), ("Upload and run", 0), ("Market basket", 2), ("Data quality", 1)):
        seen = open_page(name, charts)
        _shot(driver, f"filtered-{SLUGS[name]}")
        assert seen["exceptions"] == [], (name, seen)
        if name == "Upload and run":
            assert "Filters kept for the other pages: Region in SP" in sidebar_text()
            continue
        assert "Filtered: Region in SP" in sidebar_text(), name
        main = driver.find_element(By.CSS_SELECTOR, '[data-testid="stMain"]').text
        assert "Not filtered:" in main, name
