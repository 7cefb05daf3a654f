"""Customer summaries: RFM (frequency, recency, T, monetary) with calibration/holdout, and customer attributes."""

from clvlens.summary.attributes import customer_attributes
from clvlens.summary.rfm import UNIT_DAYS, SummaryPeriod, rfm_summary

__all__ = ["UNIT_DAYS", "SummaryPeriod", "customer_attributes", "rfm_summary"]
