"""Gamma-Gamma spend model: Fader & Hardie (2013), "The Gamma-Gamma model of monetary value" (note), after
Colombo & Jiang (1999), "A stochastic RFM model", Journal of Interactive Marketing 13(3).

Each transaction value ~ Gamma(p, nu) and nu ~ Gamma(q, gamma) across customers, independent of the
transaction process. A customer with x transactions of mean value m has (FH13 eq. 3 after integrating nu)

    f(m | p, q, gamma, x) = Gamma(px+q) / (Gamma(px) Gamma(q))
                            * gamma^q x^(px) m^(px-1) / (gamma + x m)^(px+q).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
from scipy import special

from clvlens.errors import ClvlensError
from clvlens.models._base import (
    BaseModel,
    as_float_array,
    data_hash,
    dedup_rows,
    extract_columns,
    validate_finite_nonneg,
    validate_integer,
)

__all__ = ["GammaGamma"]

P = dict[str, Any]


def expected_spend(p: P, x: Any, m: Any) -> np.ndarray:
    """E[M | x, m] = (q-1)/(px+q-1) * p gamma/(q-1) + px/(px+q-1) * m: FH13 eq. (5)."""
    pp, q, g = p["p"], p["q"], p["gamma"]
    return (pp * g + pp * x * m) / (pp * x + q - 1.0)


class GammaGamma(BaseModel):
    """Gamma-Gamma (Fader & Hardie 2013). ``params_``: p, q, gamma. Gradient analytic.

    Fit on customers with at least one repeat purchase: ``frequency`` (x >= 1) and ``monetary_value``
    (mean value of the repeat transactions, > 0).
    """

    _param_names: ClassVar[tuple[str, ...]] = ("p", "q", "gamma")
    _column_names: ClassVar[tuple[str, ...]] = ("frequency", "monetary_value")
    _analytic_gradient: ClassVar[bool] = True

    def fit(self, frequency: Any, monetary_value: Any = None) -> GammaGamma:
        """Fit by maximum likelihood; ``frequency`` may be a frame with frequency/monetary_value columns.

        The model is scale-equivariant (spend in cents or in millions gives the same p and q, and gamma scaled
        by the same factor), so the fit runs on spend divided by its median and gamma is scaled back: the
        optimiser then always works near 1, whatever the currency.
        """
        x, m = self._read_columns(frequency, [monetary_value])
        self._validate([x, m])
        scale = float(np.median(m))
        self._fit_columns([x, m / scale])
        self.params_["gamma"] *= scale
        result = self.fit_result_
        result.params = dict(self.params_)
        if result.standard_errors.get("gamma") is not None:
            result.standard_errors["gamma"] *= scale  # type: ignore[operator]
        # the likelihood of the original spends differs by the Jacobian of the rescaling: recompute it
        ll = self.log_likelihood(x, m)
        k = len(self._param_names)
        result.log_likelihood = ll
        result.aic = 2 * k - 2 * ll
        result.bic = k * math.log(result.n_customers) - 2 * ll
        uniq, counts, _ = dedup_rows([x, m])
        self.data_hash_ = data_hash(uniq, counts)
        return self

    def _validate(self, cols: list[np.ndarray]) -> None:
        x, m = cols
        validate_finite_nonneg("frequency", x)
        validate_integer("frequency", x)
        validate_finite_nonneg("monetary_value", m)
        if np.any(x < 1):
            i = int(np.flatnonzero(x < 1)[0])
            raise ClvlensError(f"frequency: row {i} is 0; fit Gamma-Gamma only on customers with repeats")
        if np.any(m <= 0):
            i = int(np.flatnonzero(m <= 0)[0])
            raise ClvlensError(f"monetary_value: row {i} is 0; spend must be > 0 (drop zero-value customers)")

    def _prepare(self, cols: list[np.ndarray], weights: np.ndarray) -> dict[str, Any]:
        x, m = cols
        return {"cols": cols, "w": weights, "lx": np.log(x), "lm": np.log(m), "xm": x * m}

    def _loglik(self, params: np.ndarray, data: dict[str, Any]) -> np.ndarray:
        p, q, g = params
        x = data["cols"][0]
        px = p * x
        return (special.gammaln(px + q) - special.gammaln(px) - special.gammaln(q) + q * np.log(g)
                + px * data["lx"] + (px - 1.0) * data["lm"] - (px + q) * np.log(g + data["xm"]))

    def _loglik_grad(self, params: np.ndarray, data: dict[str, Any]) -> tuple[float, np.ndarray]:
        p, q, g = params
        x, w = data["cols"][0], data["w"]
        px = p * x
        lg = np.log(g + data["xm"])
        ll = float(w @ self._loglik(params, data))
        dpq = special.digamma(px + q)
        grad = np.array([
            w @ (x * (dpq - special.digamma(px) + data["lx"] + data["lm"] - lg)),
            w @ (dpq - special.digamma(q) + np.log(g) - lg),
            w @ (q / g - (px + q) / (g + data["xm"])),
        ])
        return ll, grad

    def _starts(self, data: dict[str, Any]) -> list[np.ndarray]:
        m = data["cols"][1]
        mm = float(np.average(m, weights=data["w"]))
        return [np.array([2.0, 3.0, mm]), np.array([1.0, 2.0, mm]), np.array([5.0, 5.0, 3 * mm]), np.ones(3)]

    def conditional_expected_average_profit(self, frequency: Any, monetary_value: Any = None) -> np.ndarray:
        """E[mean spend | x, m] (FH13 eq. 5); customers with x = 0 get the population mean p gamma / (q-1)."""
        self._check_fitted()
        raw = extract_columns(frequency, [monetary_value], self._column_names)
        x = as_float_array("frequency", raw[0])
        m = as_float_array("monetary_value", raw[1])
        validate_finite_nonneg("frequency", x)
        validate_finite_nonneg("monetary_value", m)
        if x.shape != m.shape and m.size != 1 and x.size != 1:
            raise ClvlensError(f"monetary_value: has {m.size} rows but frequency has {x.size}")
        self._check_mean()
        return expected_spend(self.params_, x, np.where(x > 0, m, 0.0))

    def population_mean_spend(self) -> float:
        """E[M] = p gamma / (q - 1) for a customer with no history."""
        self._check_mean()
        return self.params_["p"] * self.params_["gamma"] / (self.params_["q"] - 1.0)

    def _check_mean(self) -> None:
        if self.params_["q"] <= 1:
            raise ClvlensError(
                f"GammaGamma: fitted q = {self.params_['q']:.3g} <= 1 so expected spend is infinite; "
                "check monetary_value outliers or set penalizer_coef"
            )

    def conditional_expected_average_profit_interval(
        self, frequency: Any, monetary_value: Any = None, *, level: float = 0.9, n_draws: int = 500,
        seed: int | None = 0,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Parametric-bootstrap (lower, upper) bounds for the expected average spend."""
        raw = extract_columns(frequency, [monetary_value], self._column_names)
        x = as_float_array("frequency", raw[0])
        m = as_float_array("monetary_value", raw[1])
        return self._interval(lambda p: expected_spend(p, x, np.where(x > 0, m, 0.0)), level, n_draws, seed)
