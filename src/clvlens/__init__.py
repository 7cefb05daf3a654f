"""clvlens: customer-value intelligence from raw e-commerce transactions."""

from clvlens.errors import ClvlensError

__version__ = "0.1.0"

__all__ = ["ClvlensError", "__version__"]
