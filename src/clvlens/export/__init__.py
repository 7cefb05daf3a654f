"""BI export: the workspace as a star schema (Parquet, CSV or XLSX) with a README of keys and measures."""

from clvlens.export.build import FORMATS, ExportResult, export_workspace
from clvlens.export.writers import neutralise

__all__ = ["FORMATS", "ExportResult", "export_workspace", "neutralise"]
