"""Probabilistic customer-lifetime-value models (numpy/scipy only).

Transaction models: :class:`BetaGeo` (BG/NBD), :class:`ModifiedBetaGeo` (MBG/NBD), :class:`ParetoNBD`,
:class:`BetaGeoBetaBinom` (BG/BB, discrete opportunities); spend model: :class:`GammaGamma`. All share one
maximum-likelihood engine (:mod:`clvlens.models._base`).
"""

from clvlens.models._base import FitResult
from clvlens.models.bgbb import BetaGeoBetaBinom
from clvlens.models.bgnbd import BetaGeo
from clvlens.models.clv import (
    customer_lifetime_value,
    customer_lifetime_value_interval,
    interval_method,
    parse_horizon,
)
from clvlens.models.gammagamma import GammaGamma
from clvlens.models.mbgnbd import ModifiedBetaGeo
from clvlens.models.paretonbd import ParetoNBD
from clvlens.models.persistence import load_model

__all__ = [
    "BetaGeo",
    "BetaGeoBetaBinom",
    "FitResult",
    "GammaGamma",
    "ModifiedBetaGeo",
    "ParetoNBD",
    "customer_lifetime_value",
    "customer_lifetime_value_interval",
    "interval_method",
    "load_model",
    "parse_horizon",
]
