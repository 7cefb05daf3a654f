"""MBG/NBD model: Batislam, Denizel & Filiztekin (2007), "Empirical validation and comparison of models for
customer base analysis", International Journal of Research in Marketing 24(3), 201-209.

Identical to the BG/NBD except that a customer may also drop out right after the *first* purchase, so the
dropout coin is tossed x + 1 times instead of x. The likelihood (Batislam et al. 2007, eq. 5) is

    L = B(a, b+x+1)/B(a, b) * Gamma(r+x) alpha^r / Gamma(r) * (alpha+T)^-(r+x)
        * [1 + a/(b+x) * ((alpha+T)/(alpha+t_x))^(r+x)],

P(alive) is ``1 / (1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x))`` (eq. 8, now < 1 also for x = 0), and the
conditional expectation (eq. 9) is the BG/NBD one with ``b+x`` replaced by ``b+x+1``. All formulas live in
:mod:`clvlens.models.bgnbd` and are selected by ``_shift = 1``.
"""

from __future__ import annotations

from typing import ClassVar

from clvlens.models.bgnbd import BetaGeo

__all__ = ["ModifiedBetaGeo"]


class ModifiedBetaGeo(BetaGeo):
    """MBG/NBD (Batislam et al. 2007). ``params_``: r, alpha, a, b. Gradient analytic."""

    _shift: ClassVar[int] = 1
