"""Model-checking data for a workspace's chosen transaction model (Fader, Hardie & Lee 2005, figures 1-2).

The arithmetic is :mod:`clvlens.models.diagnostics`; this module only feeds it the workspace's customers
(a bounded sample for the frequency histogram) and counts the actual repeat purchase days per time unit in DuckDB,
so nothing here grows with the transaction log beyond one aggregate query.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from clvlens.errors import ClvlensError
from clvlens.pipeline.workspace import MODELS_FOLDER
from clvlens.summary.rfm import UNIT_DAYS

if TYPE_CHECKING:
    from clvlens.workspace.core import Workspace

MAX_CUSTOMERS = 200_000
MAX_FREQUENCY = 7


@dataclass(frozen=True)
class ModelDiagnostics:
    """Frequency histogram (observed vs expected) and tracking of repeat purchase days (actual vs expected)."""

    model: str
    time_unit: str
    frequency: dict[str, np.ndarray]
    tracking: dict[str, np.ndarray]
    sampled: int
    customers: int


def model_diagnostics(workspace: Workspace) -> ModelDiagnostics | None:
    """The chosen model's diagnostics, or None when the run fitted no model."""
    from clvlens.models.diagnostics import frequency_pmf, tracking
    from clvlens.models.persistence import load_model

    chosen = workspace.run_info.model
    path = workspace.folder / MODELS_FOLDER / f"{chosen}.json"
    if not chosen or not path.is_file() or not workspace.has("customers"):
        return None
    try:
        model = load_model(path)
    except ClvlensError:
        return None
    total = workspace.customer_count()
    sample = MAX_CUSTOMERS if total > MAX_CUSTOMERS else None
    rows = workspace.customers(columns=["frequency", "T"], sample=sample)
    frequency = rows.get_column("frequency").cast(float).to_numpy()
    ages = rows.get_column("T").cast(float).to_numpy()
    histogram = frequency_pmf(model, frequency, ages, max_frequency=MAX_FREQUENCY)
    unit = workspace.run_info.time_unit
    end_time = float(ages.max()) if ages.size else 0.0
    first_times = end_time - ages
    expected = tracking(model, first_times, end_time=max(end_time, 1.0), step=1.0)
    scale = total / max(rows.height, 1)  # the expected counts of a sample, scaled to every customer
    expected["expected_cumulative"] = expected["expected_cumulative"] * scale
    expected["expected_incremental"] = expected["expected_incremental"] * scale
    actual = _repeat_days_per_unit(workspace, UNIT_DAYS.get(unit, 7.0), expected["time"].size)
    if actual is not None:
        expected["actual_incremental"] = actual
        expected["actual_cumulative"] = np.cumsum(actual)
    return ModelDiagnostics(str(chosen), unit, histogram, expected, rows.height, total)


def _repeat_days_per_unit(workspace: Workspace, unit_days: float, periods: int) -> np.ndarray | None:
    """Repeat purchase days (a customer's purchase days after the first) per time unit since the earliest
    first purchase, up to the observation end."""
    end = workspace.run_info.observation_end
    if end is None or not workspace.has("transactions"):
        return None
    rows = workspace._query(
        "WITH days AS (SELECT DISTINCT customer_id, CAST(timestamp AS DATE) AS day FROM transactions "
        "WHERE CAST(timestamp AS DATE) <= ?), "
        "firsts AS (SELECT customer_id, min(day) AS first_day FROM days GROUP BY customer_id), "
        "origin AS (SELECT min(first_day) AS origin FROM firsts) "
        "SELECT CAST(ceil(date_diff('day', origin.origin, days.day) / ?) AS BIGINT) AS period, count(*) "
        "FROM days JOIN firsts USING (customer_id), origin WHERE days.day > firsts.first_day "
        "GROUP BY period ORDER BY period",
        [end, unit_days],
    ).fetchall()
    counts = np.zeros(periods)
    for period, count in rows:
        index = min(max(int(period), 1), periods) - 1
        counts[index] += count
    return counts


def diagnostics_as_lists(diagnostics: ModelDiagnostics) -> dict[str, Any]:
    """Plain lists for JSON or charts."""
    return {
        "frequency": {k: np.asarray(v).tolist() for k, v in diagnostics.frequency.items()},
        "tracking": {k: np.asarray(v).tolist() for k, v in diagnostics.tracking.items()},
    }
