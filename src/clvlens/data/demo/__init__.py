"""Synthetic demo store generated from known BG/NBD and Gamma-Gamma parameters.

``generate_demo_store`` builds a deterministic shop (flat order-line log with a little documented dirt, the
truth behind it, the catalogue and the latent customer values); ``write_flat_log`` writes the log as CSV or
Parquet and ``write_olist_folder`` writes the clean orders as the nine CSVs of the Olist public data set.
"""

from clvlens.data.demo._generate import (
    DEFAULT_BGNBD,
    DEFAULT_GAMMA_GAMMA,
    OLIST_BGNBD,
    OLIST_GAMMA_GAMMA,
    TRANSACTION_COLUMNS,
    DemoStore,
    DemoTruth,
    generate_demo_store,
)
from clvlens.data.demo._writers import OLIST_FILES, write_flat_log, write_olist_folder

__all__ = [
    "DEFAULT_BGNBD",
    "DEFAULT_GAMMA_GAMMA",
    "OLIST_BGNBD",
    "OLIST_FILES",
    "OLIST_GAMMA_GAMMA",
    "TRANSACTION_COLUMNS",
    "DemoStore",
    "DemoTruth",
    "generate_demo_store",
    "write_flat_log",
    "write_olist_folder",
]
