"""Shared fixtures: the real public data sets in ../shared/datasets (tests skip with a reason when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def dataset(relative: str) -> Path:
    """Path of a file in the shared data sets, skipping the test when it is not there."""
    path = DATASETS / relative
    if not path.exists():
        pytest.skip(f"real data set {relative} not found under {DATASETS} (the shared/ folder is absent)")
    return path


@pytest.fixture(scope="session")
def cdnow_sample() -> Path:
    return dataset("cdnow/CDNOW_sample.txt.gz")


@pytest.fixture(scope="session")
def cdnow_master() -> Path:
    return dataset("cdnow/CDNOW_master.txt.gz")


@pytest.fixture(scope="session")
def cdnow_summary_csv() -> Path:
    return dataset("cdnow/cdnow_customers_summary.csv")


@pytest.fixture(scope="session")
def online_retail_csv() -> Path:
    return dataset("online_retail/online_retail.csv.gz")


@pytest.fixture(scope="session")
def olist_real_folder() -> Path:
    return dataset("olist")


@pytest.fixture(scope="session")
def online_retail(online_retail_csv: Path):
    from clvlens.data import load_online_retail

    return load_online_retail(online_retail_csv)


@pytest.fixture(scope="session")
def uci_workspace(tmp_path_factory: pytest.TempPathFactory, online_retail_csv: Path) -> Path:
    """A full run on the real UCI Online Retail file (GBP, countries), written once per session."""
    from clvlens.pipeline import RunSettings, run_pipeline

    folder = tmp_path_factory.mktemp("ws-uci")
    run_pipeline(RunSettings(str(online_retail_csv), folder))
    return folder


@pytest.fixture(scope="session")
def demo_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A full run on a 2,000-customer demo store (Brazilian states, BRL), written once per session."""
    from clvlens.data.demo import generate_demo_store, write_flat_log
    from clvlens.pipeline import RunSettings, run_pipeline

    folder = tmp_path_factory.mktemp("ws-demo")
    store = generate_demo_store(n_customers=2000, seed=11)
    log = write_flat_log(store, folder / "demo_transactions.csv")
    run_pipeline(RunSettings(str(log), folder, "auto", store.truth.time_unit))
    return folder


CHROMEDRIVER = Path("/usr/bin/chromedriver")


@pytest.fixture
def chromium(tmp_path: Path):
    """A factory of headless Chromium sessions driven by Selenium, each with a fresh profile and quit afterwards.

    Skips with the reason when Chromium, its driver or Selenium is absent (.ci/run installs Debian's chromium and
    chromium-driver). Call it with the command-line flags and the page-load timeout in seconds.
    """
    import shutil

    from clvlens.report import find_browser

    binary = find_browser()
    if binary is None:
        pytest.skip("chromium is not installed (.ci/run installs Debian's chromium and chromium-driver)")
    executable = str(CHROMEDRIVER) if CHROMEDRIVER.exists() else shutil.which("chromedriver")
    if executable is None:
        pytest.skip("chromedriver is not installed (.ci/run installs Debian's chromium-driver)")
    pytest.importorskip("selenium", reason="selenium is in the test extra")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    started = []

    def start(flags: tuple[str, ...], page_load_timeout: float):
        options = Options()
        options.binary_location = binary
        for flag in (*flags, f"--user-data-dir={tmp_path / f'profile-{len(started)}'}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        browser = webdriver.Chrome(service=Service(executable), options=options)
        browser.set_page_load_timeout(page_load_timeout)
        started.append(browser)
        return browser

    yield start
    for browser in started:
        browser.quit()

