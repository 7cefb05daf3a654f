"""Model-checking data for a workspace's chosen transaction model (Fader, Hardie & Lee 2005, figures 1-2), for
every customer or for the customers matching the dashboard's global filters.

Nothing here reads customers or transactions row by row: DuckDB groups the customers by age T (and repeat
frequency), and the transaction log by purchase day, so what reaches Python is a few hundred or thousand rows
whatever the number of customers. The model's own functions (FHL 2005 eq. 7 and 8) are then evaluated once per
distinct age and weighted by the number of customers of that age, which gives exactly the sums over customers
that :func:`clvlens.models.diagnostics.frequency_pmf` and :func:`~clvlens.models.diagnostics.tracking` compute
from one row per customer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from clvlens.errors import ClvlensError
from clvlens.pipeline.workspace import MODELS_FOLDER
from clvlens.summary.rfm import UNIT_DAYS

if TYPE_CHECKING:
    from clvlens.workspace.core import Workspace

MAX_FREQUENCY = 7
# customers whose purchase days are counted one by one; above it a reproducible sample of customers (by a hash of
# the id, views.customer_sample) is counted and the counts scaled, since the distinct customer-days of millions of
# transaction rows take seconds
MAX_COUNTED_CUSTOMERS = 100_000
# distinct customer ages read before the ages are grouped by day instead (ages are whole merge periods, a day by
# default, so this binds only for hourly merge periods over many years)
MAX_AGE_GROUPS = 100_000


@dataclass(frozen=True)
class ModelDiagnostics:
    """Frequency histogram (observed vs expected) and tracking of repeat purchase days (actual vs expected).

    `sampled` is how many customers the figures describe and `customers` how many the workspace has (they differ
    when a filter restricts the customers); `filtered` says whether a filter did. `counted` is how many of the
    described customers' purchase days the actual tracking counted (all of them, or a sample scaled up by
    sampled / counted)."""

    model: str
    time_unit: str
    frequency: dict[str, np.ndarray]
    tracking: dict[str, np.ndarray]
    sampled: int
    customers: int
    filtered: bool = False
    counted: int = 0

    @property
    def tracking_note(self) -> str | None:
        """How the actual tracking was counted when it was not counted on every described customer."""
        if not self.counted or self.counted >= self.sampled:
            return None
        return (f"actual repeat purchase days counted on a reproducible sample of {self.counted:,} of the "
                f"{self.sampled:,} customers (chosen by a hash of the customer id) and scaled up by "
                f"{self.sampled / self.counted:.2f}")


def model_diagnostics(workspace: Workspace, where: Mapping[str, Any] | None = None) -> ModelDiagnostics | None:
    """The chosen model's diagnostics over the customers matching `where` (every customer when None), or None when
    the run fitted no model (or no customer matches)."""
    from clvlens.models.persistence import load_model

    chosen = workspace.run_info.model
    path = workspace.folder / MODELS_FOLDER / f"{chosen}.json"
    if not chosen or not path.is_file() or not workspace.has("customers"):
        return None
    try:
        model = load_model(path)
    except ClvlensError:
        return None
    from clvlens.workspace.views import _clause, customer_sample

    clause, params = _clause(workspace, where)
    unit = workspace.run_info.time_unit
    unit_days = UNIT_DAYS.get(unit, 7.0)
    ages, frequencies, counts = _customers_by_age(workspace, clause, params, unit_days)
    if not counts.size:
        return None
    histogram = _frequency_histogram(model, ages, frequencies, counts)
    end_time = float(ages.max())
    expected = _expected_tracking(model, ages, counts, end_time)
    matching = int(counts.sum())
    sample, counted = customer_sample(workspace, clause, params, matching, MAX_COUNTED_CUSTOMERS)
    actual = _repeat_days_per_unit(workspace, clause, params, unit_days, expected["time"].size, sample)
    if actual is not None and counted:
        actual = actual * (matching / counted)
        expected["actual_incremental"] = actual
        expected["actual_cumulative"] = np.cumsum(actual)
    total = workspace.customer_count() if where else matching
    return ModelDiagnostics(str(chosen), unit, histogram, expected, matching, total, bool(where), counted)


def _customers_by_age(workspace: Workspace, clause: str, params: list[Any],
                      unit_days: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(age T, repeat frequency capped at MAX_FREQUENCY, customers) per group of the matching customers."""
    sql = (f"SELECT T, least(frequency, {MAX_FREQUENCY}) AS f, count(*) FROM customers{clause} "
           "GROUP BY 1, 2 ORDER BY 1, 2")
    rows = workspace._query(f"{sql} LIMIT {MAX_AGE_GROUPS + 1}", params).fetchall()
    if len(rows) > MAX_AGE_GROUPS:  # ages to the day: an error of at most half a day in each age
        rows = workspace._query(
            f"SELECT round(T * {unit_days!r}) / {unit_days!r} AS T, least(frequency, {MAX_FREQUENCY}) AS f, "
            f"count(*) FROM customers{clause} GROUP BY 1, 2 ORDER BY 1, 2", params).fetchall()
    if not rows:
        return np.zeros(0), np.zeros(0, dtype=int), np.zeros(0)
    ages, frequencies, counts = (np.asarray(column) for column in zip(*rows, strict=True))
    return ages.astype(float), frequencies.astype(int), counts.astype(float)


def _frequency_histogram(model: Any, ages: np.ndarray, frequencies: np.ndarray,
                         counts: np.ndarray) -> dict[str, np.ndarray]:
    """Observed customers by repeat frequency against the model's expected count, sum over customers of
    P(X(T_i) = x) (FHL 2005 eq. 8, as `models.diagnostics.frequency_pmf`), the last bin pooling MAX_FREQUENCY and
    above; customers with T = 0 have no repeat window and are left out of both."""
    aged = ages > 0
    distinct, inverse = np.unique(ages[aged], return_inverse=True)
    per_age = np.bincount(inverse, weights=counts[aged], minlength=distinct.size)
    k = np.arange(MAX_FREQUENCY)
    probabilities = model.probability_of_n_purchases_up_to_time(distinct[:, None], k[None, :])
    expected = per_age @ probabilities
    expected = np.append(expected, per_age.sum() - expected.sum())
    observed = np.bincount(frequencies[aged], weights=counts[aged], minlength=MAX_FREQUENCY + 1)
    return {"frequency": np.arange(MAX_FREQUENCY + 1), "observed": observed.astype(np.int64),
            "expected": expected}


def _expected_tracking(model: Any, ages: np.ndarray, counts: np.ndarray, end_time: float) -> dict[str, np.ndarray]:
    """Expected cumulative and incremental repeat purchases of the customers over time since the earliest first
    purchase, sum over customers of E[X(t - s_i)] (FHL 2005 eq. 7, as `models.diagnostics.tracking`), where
    s_i = end_time - T_i is the customer's first purchase, at the ends of whole time units up to the end."""
    starts, inverse = np.unique(end_time - ages, return_inverse=True)
    per_start = np.bincount(inverse, weights=counts, minlength=starts.size)
    times = np.arange(1.0, max(end_time, 1.0) + 0.5, 1.0)
    expected_by_start = model.expected_number_of_purchases_up_to_time(np.maximum(times[None, :] - starts[:, None],
                                                                                 0.0))
    cumulative = per_start @ expected_by_start
    return {"time": times, "expected_cumulative": cumulative,
            "expected_incremental": np.diff(cumulative, prepend=0.0)}


def _repeat_days_per_unit(workspace: Workspace, clause: str, params: list[Any], unit_days: float,
                          periods: int, sample: str | None = None) -> np.ndarray | None:
    """Repeat purchase days (a customer's purchase days after the first) of the matching customers (those of them
    meeting the `sample` condition too, when given) per time unit since their earliest first purchase, up to the
    observation end.

    Per day, the distinct (customer, day) pairs less the customers whose first purchase was that day: one grouped
    scan of the transactions (joined to the customers only under a filter) and one of the customers."""
    end = workspace.run_info.observation_end
    if end is None or not workspace.has("transactions") or "first_purchase" not in workspace.columns("customers"):
        return None
    origin = workspace._scalar(f"SELECT min(CAST(first_purchase AS DATE)) FROM customers{clause}", params)
    counted = f"{clause} AND {sample}" if clause and sample else (f" WHERE {sample}" if sample else clause)
    conditions = [f" AND {sample}"] if sample else []  # on the transactions too, ahead of the join
    if clause:
        conditions.append(f" AND customer_id IN (SELECT customer_id FROM customers{counted})")
    buying = workspace._query(
        "SELECT day, count(*) FROM (SELECT DISTINCT customer_id, CAST(timestamp AS DATE) AS day FROM transactions "
        f"WHERE CAST(timestamp AS DATE) <= ?{''.join(conditions)}) GROUP BY day", [end, *params]).fetchall()
    firsts = workspace._query(
        f"SELECT CAST(first_purchase AS DATE) AS day, count(*) FROM customers{counted} GROUP BY day",
        params).fetchall()
    if origin is None or not firsts:
        return None
    repeats: dict[Any, int] = {day: count for day, count in buying}
    for day, count in firsts:
        repeats[day] = repeats.get(day, 0) - count
    counts = np.zeros(periods)
    for day, count in repeats.items():
        if count == 0:
            continue
        period = int(np.ceil((day - origin).days / unit_days))
        counts[min(max(period, 1), periods) - 1] += count
    return counts


def diagnostics_as_lists(diagnostics: ModelDiagnostics) -> dict[str, Any]:
    """Plain lists for JSON or charts."""
    return {
        "frequency": {k: np.asarray(v).tolist() for k, v in diagnostics.frequency.items()},
        "tracking": {k: np.asarray(v).tolist() for k, v in diagnostics.tracking.items()},
    }
