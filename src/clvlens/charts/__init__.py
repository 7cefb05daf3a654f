"""Plotly figure builders shared by the report and the dashboard: one theme, one currency and number format per
workspace. Every builder takes workspace tables as `clvlens.workspace.Workspace` returns them."""

from clvlens.charts.basket import bundles_bar, rules_scatter
from clvlens.charts.cohorts import retention_heatmap, revenue_per_cohort_customer
from clvlens.charts.evaluation import frequency_histogram, gains, holdout_calibration, scorecard_rows, tracking
from clvlens.charts.insights import Insight, Kpi, headline, insights
from clvlens.charts.maps import OFFLINE_GEO_STUB, region_map
from clvlens.charts.quality import cleaning_report
from clvlens.charts.strategy import asset_matrix, lorenz, segment_roadmap
from clvlens.charts.theme import Formatter, empty_figure, formatter_for, style

__all__ = [
    "OFFLINE_GEO_STUB",
    "Formatter",
    "Insight",
    "Kpi",
    "asset_matrix",
    "bundles_bar",
    "cleaning_report",
    "empty_figure",
    "formatter_for",
    "frequency_histogram",
    "gains",
    "headline",
    "holdout_calibration",
    "insights",
    "lorenz",
    "region_map",
    "retention_heatmap",
    "revenue_per_cohort_customer",
    "rules_scatter",
    "scorecard_rows",
    "segment_roadmap",
    "style",
    "tracking",
]
