"""The monthly seasonal index: recovered from simulated purchase counts, normalised, shrunk, and refused on short
data with the reason."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from clvlens.errors import ClvlensError
from clvlens.models.seasonality import DAYS_IN_MONTH, seasonal_index, window_months

TRUE = np.array([0.7, 0.75, 0.85, 0.9, 1.0, 1.0, 0.95, 0.95, 1.0, 1.1, 1.4, 1.6])
TRUE = TRUE * DAYS_IN_MONTH.sum() / np.sum(TRUE * DAYS_IN_MONTH)


def simulated_months(n_months: int, growth: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Poisson purchase counts per month with the TRUE index on a trend growing by `growth` a month."""
    rng = np.random.default_rng(seed)
    k = np.arange(n_months)
    years, months = 2019 + k // 12, k % 12 + 1
    rate = 200.0 * (1 + growth) ** k * TRUE[months - 1] * DAYS_IN_MONTH[months - 1]
    return years, months, rng.poisson(rate)


@pytest.mark.parametrize("growth", [0.03, -0.04, 0.0])
def test_index_recovers_the_season_whatever_the_trend(growth: float) -> None:
    index = seasonal_index(*simulated_months(60, growth), shrinkage_years=0.0)
    # five years of counts around 6,000 a month: every month within 5% of the truth, whether the base grows or shrinks
    np.testing.assert_allclose(index.index, TRUE, rtol=0.05)
    assert np.sum(index.index * DAYS_IN_MONTH) == pytest.approx(DAYS_IN_MONTH.sum())
    assert index.years_seen.tolist() == [4.0] * 12  # 60 months: ratios for months 7..54


def test_shrinkage_pulls_toward_one_by_years_seen() -> None:
    free = seasonal_index(*simulated_months(24, 0.0), shrinkage_years=0.0)
    shrunk = seasonal_index(*simulated_months(24, 0.0), shrinkage_years=1.0)
    # one ratio per month and a prior of one flat year: each deviation is about halved
    assert np.all(np.abs(shrunk.index - 1) < np.abs(free.index - 1) + 1e-9)
    ratio = (shrunk.index - 1) / (free.index - 1)
    assert np.median(ratio) == pytest.approx(0.5, abs=0.05)


def test_short_data_are_refused_with_the_reason() -> None:
    with pytest.raises(ClvlensError, match="18 whole months observed, at least 24 needed"):
        seasonal_index(*simulated_months(18, 0.0))
    years, months, counts = simulated_months(30, 0.0)
    with pytest.raises(ClvlensError, match="consecutive"):
        seasonal_index(np.delete(years, 5), np.delete(months, 5), np.delete(counts, 5))


def test_window_factor() -> None:
    index = seasonal_index(*simulated_months(48, 0.0))
    # a whole year averages to one; a window over November-December is above it, one over January-February below
    assert index.factor(date(2022, 6, 30), date(2023, 6, 30)) == pytest.approx(1.0, abs=0.01)
    assert index.factor(date(2022, 10, 31), date(2022, 12, 31)) > 1.2
    assert index.factor(date(2022, 12, 31), date(2023, 2, 28)) < 0.9
    # weights put all the mass on one month: the factor is that month's index
    assert index.factor(date(2022, 10, 31), date(2022, 12, 31), np.array([0.0, 1.0])) == pytest.approx(index.index[11])


def test_window_months_counts_days() -> None:
    months, days = window_months(date(2023, 1, 15), date(2023, 3, 10))
    assert months.tolist() == [1, 2, 3] and days.tolist() == [16, 28, 10]
    months, days = window_months(date(2023, 12, 31), date(2024, 12, 31))
    assert months.tolist() == list(range(1, 13)) and days.sum() == 366


def test_data_without_a_season_get_an_index_near_one() -> None:
    rng = np.random.default_rng(5)
    k = np.arange(36)
    counts = rng.poisson(100 * DAYS_IN_MONTH[k % 12] / 30)  # about 100 purchases a month, no season
    index = seasonal_index(2020 + k // 12, k % 12 + 1, counts)
    # the raw ratios scatter by about 10% (Poisson noise on 100); the index does not pass that noise on
    assert np.max(np.abs(index.index - 1)) < 0.03
