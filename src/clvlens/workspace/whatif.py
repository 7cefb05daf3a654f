"""What-if CLV: the saved models rescored under another horizon, discount rate or margin, without refitting.

The arithmetic is :func:`clvlens.models.customer_lifetime_value` (the same function a run scores with); this module
loads the saved models, reads the customers' RFM columns (a bounded reproducible sample on large workspaces, the
totals then scaled to every matching customer) and sums the result per value segment.

Seasonality. The run multiplied CLV by the seasonal factor of its horizon (run_info ``seasonal_factor``; 1 in
workspaces written before it was recorded, and where none was applied). At the saved horizon the what-if applies
the same factor, so that it reproduces the saved CLV under any discount rate or margin. The factor of another
horizon would need the seasonal index re-estimated from the transactions, which the what-if does not do: there it
applies none and says so in ``note``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from clvlens.errors import ClvlensError

if TYPE_CHECKING:
    from clvlens.workspace.core import Workspace

MAX_CUSTOMERS = 200_000


@dataclass(frozen=True)
class WhatIf:
    """Projected value under the saved settings and under the chosen ones, in all and per value segment."""

    horizon: str
    discount_rate: float
    margin: float
    customers: int
    scored: int
    saved_total: float
    what_if_total: float
    by_segment: pl.DataFrame
    seasonal_factor: float = 1.0
    note: str = ""

    @property
    def change(self) -> float | None:
        return None if self.saved_total == 0 else self.what_if_total / self.saved_total - 1.0


def what_if(ws: Workspace, *, horizon: str, discount_rate: float, margin: float,
            where: Mapping[str, Any] | None = None, max_customers: int = MAX_CUSTOMERS) -> WhatIf | None:
    """Rescore the matching customers' CLV with the saved models; None when the run saved no models."""
    from clvlens.models import customer_lifetime_value, parse_horizon
    from clvlens.pipeline.modeling import load_models
    from clvlens.pipeline.workspace import MODELS_FOLDER

    folder = ws.folder / MODELS_FOLDER
    if "clv" not in ws.columns("customers") or not (folder / "selection.json").is_file():
        return None
    if not 0.0 < margin <= 10.0:
        raise ClvlensError(f"margin must be a share such as 0.3, got {margin}")
    if not -1.0 < discount_rate < 10.0:
        raise ClvlensError(f"discount rate must be an annual rate such as 0.1, got {discount_rate}")
    factor, note = _seasonality(ws, parse_horizon(horizon, "D"), parse_horizon)
    fitted = load_models(folder)
    total = ws.customer_count(where)
    wanted = ["frequency", "recency", "T", "monetary_value", "clv"]
    if "value_segment" in ws.columns("customers"):
        wanted.append("value_segment")
    rows = ws.customers(columns=wanted, where=where, sample=max_customers if total > max_customers else None)
    spend: Any = fitted.spend_model if fitted.spend_model is not None else fitted.fallback_spend
    if rows.is_empty():
        new = np.zeros(0)
    else:
        new = customer_lifetime_value(
            fitted.transaction_model, spend, rows["frequency"].to_numpy().astype(float),
            rows["recency"].to_numpy().astype(float), rows["T"].to_numpy().astype(float),
            monetary_value=rows["monetary_value"].fill_null(0.0).to_numpy().astype(float), horizon=horizon,
            discount_rate=discount_rate, margin=margin,
        ) * factor
    scale = total / rows.height if rows.height else 0.0  # a sample's sums, scaled to every matching customer
    scored = rows.with_columns(pl.Series("what_if_clv", new, dtype=pl.Float64))
    group = "value_segment" if "value_segment" in scored.columns else None
    by_segment = (
        scored.group_by(group).agg(
            pl.len().alias("customers_scored"), (pl.col("clv").sum() * scale).alias("saved_clv"),
            (pl.col("what_if_clv").sum() * scale).alias("what_if_clv"),
        ).sort("saved_clv", descending=True)
        if group else pl.DataFrame()
    )
    return WhatIf(horizon, float(discount_rate), float(margin), total, rows.height,
                  float(scored["clv"].fill_null(0.0).sum() * scale), float(new.sum() * scale), by_segment,
                  factor, note)


def _seasonality(ws: Workspace, days: float, parse_horizon: Any) -> tuple[float, str]:
    """(factor to apply, note): the run's seasonal factor at its own horizon, else 1 and why (module docstring)."""
    raw = ws.run_info.raw.get("seasonal_factor")
    try:
        saved = float(raw) if raw is not None else 1.0
    except ValueError:
        saved = 1.0
    if not np.isfinite(saved) or saved <= 0:
        saved = 1.0
    if saved == 1.0:
        return 1.0, ""
    if abs(parse_horizon(ws.run_info.horizon, "D") - days) < 1e-9:
        return saved, f"seasonal factor x{saved:.3f} of the run applied"
    return 1.0, (f"seasonality not applied: the run's factor x{saved:.3f} is for {ws.run_info.horizon}; the saved "
                 "CLV includes it, the what-if does not")
