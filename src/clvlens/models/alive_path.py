"""The probability that one customer is alive along their history (lifetimes' ``calculate_alive_path``).

At each age a (time since the first purchase, in the model's unit) the customer's summary is what an analyst
would have seen then: x(a) = purchases at times in (0, a] (repeat purchases), t_x(a) = time of the last of them
(0 without one) and T = a; the path is the model's P(alive | x(a), t_x(a), a), e.g. FHL (2005) eq. (13) for the
BG/NBD. It jumps up at each purchase and decays in between. numpy only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from clvlens.errors import ClvlensError
from clvlens.models._base import BaseModel, as_float_array

__all__ = ["alive_path"]

#: ages evaluated at most (a path is drawn, not tabulated: 100,000 points are ample)
MAX_POINTS = 100_000


def alive_path(model: BaseModel, purchase_times: Any, ages: Any) -> dict[str, np.ndarray]:
    """P(alive) of one customer at each of ``ages``.

    ``purchase_times``: the customer's purchase times in the model's time unit, merged per period (one time per
    transaction); they are measured from the first purchase (the smallest time is moved to 0). ``ages``: the
    ages at which to evaluate, >= 0 and increasing. Returns ``age``, ``frequency``, ``recency`` and ``p_alive``.
    A purchase at exactly age a counts at a (the summary of a day includes that day's purchases).
    """
    times = np.sort(as_float_array("purchase_times", purchase_times))
    grid = as_float_array("ages", ages)
    if times.size == 0:
        raise ClvlensError("purchase_times: the customer has no purchase; pass at least the first one")
    if not (np.all(np.isfinite(times)) and np.all(np.isfinite(grid))):
        raise ClvlensError("purchase_times: times and ages must be finite numbers")
    if grid.size == 0 or grid.size > MAX_POINTS or np.any(grid < 0) or np.any(np.diff(grid) < 0):
        raise ClvlensError(f"ages: give 1 to {MAX_POINTS:,} increasing ages >= 0")
    times = times - times[0]
    seen = np.searchsorted(times, grid, side="right")  # purchases at times <= age, the first included
    frequency = (seen - 1).astype(float)
    recency = times[seen - 1]
    p_alive = model.conditional_probability_alive(frequency, recency, grid)  # type: ignore[attr-defined]
    return {"age": grid, "frequency": frequency, "recency": recency, "p_alive": np.asarray(p_alive, dtype=float)}
