"""Customer-strategy analytics: RFM segments, the value x health asset matrix, playbooks, KPIs, cohorts,
regions and customer EDA, each with a plotly figure, plus `strategy_tables` for the workspace."""

from clvlens.analytics.asset_matrix import (
    VALUE_SEGMENTS,
    Thresholds,
    asset_matrix,
    plot_asset_matrix,
    plot_value_health,
    value_segments,
)
from clvlens.analytics.cohorts import (
    cliff_summary,
    cohort_cliffs,
    cohort_table,
    plot_cumulative_ltv,
    plot_retention_heatmap,
    retention_matrix,
)
from clvlens.analytics.eda import (
    category_preferences,
    interpurchase_distribution,
    interpurchase_intervals,
    order_value_distribution,
    order_values,
    plot_category_preferences,
    plot_histogram,
    plot_purchases_per_customer,
    purchases_per_customer,
)
from clvlens.analytics.kpis import (
    DEFINITIONS,
    gini,
    kpi_table,
    kpi_values,
    lorenz_curve,
    pareto_concentration,
    plot_kpis,
    plot_lorenz,
)
from clvlens.analytics.playbooks import RFM_PLAYBOOK, VALUE_PLAYBOOK, plot_playbook, rfm_playbook, value_playbook
from clvlens.analytics.regions import BRAZIL_STATES, plot_regions, region_table
from clvlens.analytics.rfm_segments import (
    CATCH_ALL,
    RFM_RULES,
    RfmRule,
    plot_rfm_segments,
    rfm_grid,
    rfm_scores,
    rfm_segments,
)
from clvlens.analytics.strategy import StrategyTables, strategy_tables

# Basket-analysis exports are added here by the owner of clvlens.analytics.basket*.

__all__ = [
    "BRAZIL_STATES",
    "CATCH_ALL",
    "DEFINITIONS",
    "RFM_PLAYBOOK",
    "RFM_RULES",
    "VALUE_PLAYBOOK",
    "VALUE_SEGMENTS",
    "RfmRule",
    "StrategyTables",
    "Thresholds",
    "asset_matrix",
    "category_preferences",
    "cliff_summary",
    "cohort_cliffs",
    "cohort_table",
    "gini",
    "interpurchase_distribution",
    "interpurchase_intervals",
    "kpi_table",
    "kpi_values",
    "lorenz_curve",
    "order_value_distribution",
    "order_values",
    "pareto_concentration",
    "plot_asset_matrix",
    "plot_category_preferences",
    "plot_cumulative_ltv",
    "plot_histogram",
    "plot_kpis",
    "plot_lorenz",
    "plot_playbook",
    "plot_purchases_per_customer",
    "plot_regions",
    "plot_retention_heatmap",
    "plot_rfm_segments",
    "plot_value_health",
    "purchases_per_customer",
    "region_table",
    "retention_matrix",
    "rfm_grid",
    "rfm_playbook",
    "rfm_scores",
    "rfm_segments",
    "strategy_tables",
    "value_playbook",
    "value_segments",
]
