"""The data layer: canonical transactions, readers, cleaning with a quarantine, data set loaders, the demo store."""

from clvlens.data._limits import ReadLimits
from clvlens.data.cleaning import CleanedData, CleaningReport, CleaningRules, clean
from clvlens.data.formula_safety import neutralise_formulas
from clvlens.data.loaders import load_cdnow, load_olist, load_online_retail
from clvlens.data.schema import CANONICAL_COLUMNS, OPTIONAL_COLUMNS, REQUIRED_COLUMNS
from clvlens.data.transactions import FORMATS, detect_format, load_source, load_transactions

__all__ = [
    "CANONICAL_COLUMNS",
    "FORMATS",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "CleanedData",
    "CleaningReport",
    "CleaningRules",
    "ReadLimits",
    "clean",
    "detect_format",
    "load_cdnow",
    "load_olist",
    "load_online_retail",
    "load_source",
    "load_transactions",
    "neutralise_formulas",
]
