"""All strategy tables of a run in one call, for the workspace and the CLI headline."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

from clvlens.analytics._common import as_polars, require_columns, resolve_health
from clvlens.analytics.asset_matrix import Thresholds, value_segments
from clvlens.analytics.cohorts import cliff_summary, cohort_cliffs, cohort_table
from clvlens.analytics.kpis import ValueBasis, kpi_table, lorenz_curve
from clvlens.analytics.playbooks import rfm_playbook, value_playbook
from clvlens.analytics.regions import region_table
from clvlens.analytics.rfm_segments import rfm_segments


@dataclass
class StrategyTables:
    """The strategy tables of one run.

    - ``customer_columns``: customer_id, rfm_r, rfm_f, rfm_m, rfm_segment, value_segment (join onto customers);
    - ``kpis``: name, value, definition (:mod:`clvlens.analytics.kpis`);
    - ``segments``: one row per value and per RFM segment with its playbook (:mod:`clvlens.analytics.playbooks`);
    - ``cohorts``: cohort, period, customers, active_customers, retention, revenue, revenue_per_customer,
      cumulative_ltv (:mod:`clvlens.analytics.cohorts`);
    - ``regions``: per region totals, shares and map fields (:mod:`clvlens.analytics.regions`);
    - ``lorenz``: the Lorenz curve of projected value; ``cliffs``: the month-2 cliff per cohort.
    """

    customer_columns: pl.DataFrame
    kpis: pl.DataFrame
    segments: pl.DataFrame
    cohorts: pl.DataFrame
    regions: pl.DataFrame
    lorenz: pl.DataFrame = field(default_factory=pl.DataFrame)
    cliffs: pl.DataFrame = field(default_factory=pl.DataFrame)
    basis: ValueBasis | None = None

    def tables(self) -> dict[str, pl.DataFrame]:
        """Every table by a workspace-friendly name (strategy_*)."""
        return {
            "strategy_customers": self.customer_columns,
            "strategy_kpis": self.kpis,
            "strategy_segments": self.segments,
            "strategy_cohorts": self.cohorts,
            "strategy_regions": self.regions,
            "strategy_lorenz": self.lorenz,
            "strategy_cliffs": self.cliffs,
        }

    def kpi(self, name: str) -> float:
        """One KPI's value by name."""
        match = self.kpis.filter(pl.col("name") == name)
        if match.is_empty():
            from clvlens.errors import ClvlensError

            raise ClvlensError(f"kpi: no KPI named '{name}'")
        return float(match["value"][0])

    def headline(self) -> list[tuple[str, str]]:
        """(label, formatted value) pairs for the CLI summary."""
        k = self.kpi
        basis = self.basis
        gap = "Growth opportunity gap"
        if basis is None:
            projected, at_risk = "Projected revenue (CLV)", "Revenue at risk (per year)"
        else:
            discount = "" if basis.discount_rate is None else ", discounted"
            projected = f"Projected {basis.noun} over {basis.horizon} (CLV{discount})"
            at_risk = f"{basis.noun.capitalize()} at risk over {basis.horizon}"
            gap = f"Growth opportunity gap ({basis.noun} over {basis.horizon})"
        lines = [
            ("Customers", f"{k('customers'):,.0f}"),
            ("Historical revenue", f"{k('historical_revenue'):,.0f}"),
            (projected, f"{k('projected_revenue'):,.0f}"),
            (at_risk, f"{k('revenue_at_risk'):,.0f}"),
            (gap, f"{k('opportunity_gap'):,.0f}"),
            ("Top 10% of customers hold", f"{k('top_10pct_share'):.0%} of projected value"),
            ("Gini of projected value", f"{k('gini'):.2f}"),
            ("One-time buyers", f"{k('one_time_buyer_share'):.0%}"),
            ("Average order value", f"{k('average_order_value'):,.2f}"),
        ]
        if not self.cliffs.is_empty():
            summary = cliff_summary(self.cliffs)
            lines.append(("Month-2 cliff", f"{summary['month2_cliff']:.0%} of a cohort do not buy in month 2"))
        if not self.regions.is_empty():
            top = self.regions.row(0, named=True)
            lines.append(("Strongest region", f"{top['region']} ({top['share_revenue']:.0%} of revenue)"))
        return lines


def strategy_tables(
    transactions: Any,
    customers: Any,
    *,
    thresholds: Thresholds | None = None,
    health: str | None = None,
    value: str = "clv",
    basis: ValueBasis | None = None,
) -> StrategyTables:
    """Compute every strategy table from the clean transactions and the customers table (pandas or Polars).

    `health` (default: the `health` column when present, else p_alive) and `value` name the customers' columns
    used as health (the run's validated P(a purchase in the health window), P(alive) or a churn score where higher
    means healthier) and projected value; `thresholds` sets the asset-matrix cuts (default `Thresholds()`);
    `basis` states the value's horizon, discounting and margin in the KPIs and the headline.
    """
    cust = as_polars(customers, "customers")
    health = resolve_health(cust, health)
    tx = as_polars(transactions, "transactions")
    require_columns(cust, ["customer_id", health, value], "customers")
    thresholds = thresholds or Thresholds()
    rfm = rfm_segments(cust)
    vseg = value_segments(cust, thresholds, health=health, value=value)
    customer_columns = rfm.join(vseg.select("customer_id", "value_segment"), on="customer_id", how="left")
    segments = pl.concat(
        [
            value_playbook(cust, vseg, health=health, value=value),
            rfm_playbook(cust, rfm, value_segments=vseg, health=health, value=value),
        ],
        how="vertical",
    )
    cohorts = cohort_table(tx)
    regions = region_table(cust, value=value) if "region" in cust.columns else pl.DataFrame()
    return StrategyTables(
        customer_columns=customer_columns,
        kpis=kpi_table(cust, thresholds, health=health, value=value, basis=basis),
        segments=segments,
        cohorts=cohorts,
        regions=regions,
        lorenz=lorenz_curve(cust, value=value),
        cliffs=cohort_cliffs(cohorts),
        basis=basis,
    )
