"""Ready loaders for the public data sets: UCI Online Retail (I and II), CDNOW, and Olist."""

from clvlens.data.loaders.cdnow import load_cdnow
from clvlens.data.loaders.olist import load_olist
from clvlens.data.loaders.online_retail import load_online_retail

__all__ = ["load_cdnow", "load_olist", "load_online_retail"]
