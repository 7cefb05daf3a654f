"""Gamma-Gamma spend model: Fader & Hardie (2013), "The Gamma-Gamma model of monetary value" (note), after
Colombo & Jiang (1999), "A stochastic RFM model", Journal of Interactive Marketing 13(3).

Each transaction value ~ Gamma(p, nu) and nu ~ Gamma(q, gamma) across customers, independent of the
transaction process. A customer with x transactions of mean value m has (FH13 eq. 3 after integrating nu)

    f(m | p, q, gamma, x) = Gamma(px+q) / (Gamma(px) Gamma(q))
                            * gamma^q x^(px) m^(px-1) / (gamma + x m)^(px+q).
"""

from __future__ import annotations

import math
import warnings
from typing import Any, ClassVar

import numpy as np
from scipy import special

from clvlens.errors import ClvlensError, ClvlensWarning
from clvlens.models._base import (
    BaseModel,
    as_float_array,
    data_hash,
    dedup_rows,
    extract_columns,
    fit_weights,
    frequency_index,
    validate_finite_nonneg,
    validate_integer,
)

__all__ = ["GammaGamma"]

P = dict[str, Any]


#: |Pearson r| between frequency and mean spend from which the independence assumption is reported as failing
#: (0.3: the conventional lower bound of a "moderate" correlation)
INDEPENDENCE_THRESHOLD = 0.3


def independence_check(frequency: Any, monetary_value: Any, weights: Any = None,
                       threshold: float = INDEPENDENCE_THRESHOLD) -> dict[str, Any]:
    """The Gamma-Gamma assumption that spend is independent of the purchase process (Fader & Hardie 2013,
    section 2; FHL 2005 "RFM and CLV", section 4), checked as the correlation between the number of repeat
    purchases and their mean value among repeat buyers: Pearson r (weighted when ``weights`` are given), its
    two-sided p-value for r = 0 (t test with n - 2 degrees of freedom) and Spearman's rank r.

    ``holds`` is False when |r| >= ``threshold``; the p-value alone would flag negligible correlations on
    large data sets.
    """
    x = as_float_array("frequency", frequency)
    m = as_float_array("monetary_value", monetary_value)
    w = np.ones_like(x) if weights is None else as_float_array("weights", weights)
    keep = (x >= 1) & (w > 0)
    x, m, w = x[keep], m[keep], w[keep]
    n = float(w.sum())
    out: dict[str, Any] = {"pearson_r": None, "p_value": None, "spearman_r": None, "n_customers": n,
                           "threshold": threshold, "holds": True}
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(m) == 0:
        return out  # too few or constant values: nothing to correlate, nothing contradicts independence
    dx, dm = x - np.average(x, weights=w), m - np.average(m, weights=w)
    r = float(np.sum(w * dx * dm) / math.sqrt(float(np.sum(w * dx**2)) * float(np.sum(w * dm**2))))
    r = max(-1.0, min(1.0, r))
    dof = max(n - 2.0, 1.0)
    t = r * math.sqrt(dof / max(1.0 - r * r, 1e-300))
    out.update(
        pearson_r=r,
        p_value=float(2 * special.stdtr(dof, -abs(t))),  # Student t survival (scipy.stats.t.sf)
        spearman_r=spearman_r(x, m) if weights is None else None,
        holds=abs(r) < threshold,
    )
    return out


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties given their mean rank (as scipy.stats.rankdata's default)."""
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    first = np.empty(values.size, dtype=bool)
    first[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    ends = np.append(starts[1:], values.size)
    ranks = np.empty(values.size)
    ranks[order] = ((starts + ends + 1) / 2.0)[np.cumsum(first) - 1]
    return ranks


def spearman_r(x: np.ndarray, m: np.ndarray) -> float:
    """Spearman's rank correlation: Pearson's r of the tie-averaged ranks (Spearman 1904)."""
    rx, rm = _average_ranks(x), _average_ranks(m)
    rx -= rx.mean()
    rm -= rm.mean()
    return float(np.sum(rx * rm) / math.sqrt(float(np.sum(rx * rx)) * float(np.sum(rm * rm))))


def expected_spend(p: P, x: Any, m: Any) -> np.ndarray:
    """E[M | x, m] = (q-1)/(px+q-1) * p gamma/(q-1) + px/(px+q-1) * m: FH13 eq. (5)."""
    pp, q, g = p["p"], p["q"], p["gamma"]
    return (pp * g + pp * x * m) / (pp * x + q - 1.0)


class GammaGamma(BaseModel):
    """Gamma-Gamma (Fader & Hardie 2013). ``params_``: p, q, gamma. Gradient analytic.

    Fit on customers with at least one repeat purchase: ``frequency`` (x >= 1) and ``monetary_value``
    (mean value of the repeat transactions, > 0).

    ``fit`` also checks the model's independence assumption (:func:`independence_check`): the result is kept in
    ``independence_`` (a dict: pearson_r, p_value, spearman_r, n_customers, threshold, holds), shown by
    ``summary()`` in ``summary().attrs["independence"]`` and as a :class:`~clvlens.errors.ClvlensWarning` when
    |r| >= 0.3.
    """

    _param_names: ClassVar[tuple[str, ...]] = ("p", "q", "gamma")
    _column_names: ClassVar[tuple[str, ...]] = ("frequency", "monetary_value")
    _analytic_gradient: ClassVar[bool] = True

    def fit(self, frequency: Any, monetary_value: Any = None, *, weights: Any = None) -> GammaGamma:
        """Fit by maximum likelihood; ``frequency`` may be a frame with frequency/monetary_value columns;
        ``weights`` (one per row, fractions allowed) count each row that many times.

        The model is scale-equivariant (spend in cents or in millions gives the same p and q, and gamma scaled
        by the same factor), so the fit runs on spend divided by its median and gamma is scaled back: the
        optimiser then always works near 1, whatever the currency.
        """
        x, m = self._read_columns(frequency, [monetary_value])
        self._validate([x, m])
        w = np.ones_like(x) if weights is None else fit_weights(weights, x.shape[0])
        scale = float(np.median(m))
        self._spend_scale = scale
        self._fit_columns([x, m / scale], None if weights is None else w)
        self.params_["gamma"] *= scale
        result = self.fit_result_
        result.params = dict(self.params_)
        if result.standard_errors.get("gamma") is not None:
            result.standard_errors["gamma"] *= scale  # type: ignore[operator]
        # the likelihood of the original spends differs by the Jacobian of the rescaling: recompute it
        ll = float(np.sum(w * self._loglik(self._pvec(), self._prepare([x, m], w))))
        k = len(self._param_names)
        result.log_likelihood = ll
        result.aic = 2 * k - 2 * ll
        result.bic = k * math.log(result.n_customers) - 2 * ll
        if weights is None:
            uniq, counts, _ = dedup_rows([x, m])
            self.data_hash_ = data_hash(uniq, counts)
        else:
            self.data_hash_ = data_hash([x, m, w], np.ones(x.size))
        self.independence_ = independence_check(x, m, None if weights is None else w)
        if not self.independence_["holds"]:
            warnings.warn(
                f"GammaGamma: frequency and mean spend of repeat buyers correlate (Pearson r = "
                f"{self.independence_['pearson_r']:.2f}, |r| >= {INDEPENDENCE_THRESHOLD}), so the model's "
                "independence assumption is doubtful; expected spend may be biased",
                ClvlensWarning,
                stacklevel=2,
            )
        return self

    def _l2_scales(self, data: dict[str, Any]) -> np.ndarray:
        """``penalizer="l2"``: lifetimes penalises gamma in the currency's units; the fit runs on spend / median."""
        return np.array([1.0, 1.0, getattr(self, "_spend_scale", 1.0)])

    def summary(self, level: float = 0.95) -> Any:
        """Parameters as :meth:`BaseModel.summary`, with the independence check in ``.attrs["independence"]``
        (pandas) when the model was fitted."""
        table = super().summary(level)
        check = getattr(self, "independence_", None)
        if check is not None and hasattr(table, "attrs"):
            table.attrs["independence"] = dict(check)
        return table

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
        ux, xi = frequency_index(x)  # the gamma functions depend on x alone: once per distinct frequency
        return {"cols": cols, "w": weights, "lx": np.log(x), "lm": np.log(m), "xm": x * m, "ux": ux, "xi": xi}

    def _loglik(self, params: np.ndarray, data: dict[str, Any]) -> np.ndarray:
        p, q, g = params
        x = data["cols"][0]
        pu = p * data["ux"]
        per_x = special.gammaln(pu + q) - special.gammaln(pu) - special.gammaln(q) + q * np.log(g)
        px = p * x
        return (per_x[data["xi"]] + px * data["lx"] + (px - 1.0) * data["lm"]
                - (px + q) * np.log(g + data["xm"]))

    def _total_loglik(self, theta: np.ndarray, data: dict[str, Any]) -> float:
        """The weighted sum of :meth:`_loglik` rearranged as sum_x W_x per_x + p sum(w x log x) + ... - (p sum(w x
        log(gamma + x m)) + q sum(w log(gamma + x m))): one logarithm per row and a few sums per parameter value
        (the plausible-region check of interval draws evaluates it once per proposal). Equal to the row sum up
        to rounding (relative 1e-13 on CDNOW, tested)."""
        p, q, g = theta
        sums = data.get("loglik_sums")
        if sums is None:
            w, x = data["w"], data["cols"][0]
            wx = w * x
            sums = {"W_x": np.bincount(data["xi"], weights=w, minlength=data["ux"].size), "wx": wx,
                    "wx_lx": float(np.sum(wx * data["lx"])), "wx_lm": float(np.sum(wx * data["lm"])),
                    "w_lm": float(np.sum(w * data["lm"]))}
            data["loglik_sums"] = sums
        with np.errstate(all="ignore"):
            pu = p * data["ux"]
            per_x = special.gammaln(pu + q) - special.gammaln(pu) - special.gammaln(q) + q * np.log(g)
            lg = np.log(g + data["xm"])
            # sums of products without product arrays, not BLAS dots (their threads would spin against ours)
            value = float(np.sum(sums["W_x"] * per_x) + p * (sums["wx_lx"] + sums["wx_lm"]) - sums["w_lm"]
                          - p * float(np.einsum("i,i->", sums["wx"], lg))
                          - q * float(np.einsum("i,i->", data["w"], lg)))
        return value if math.isfinite(value) else -math.inf

    def _loglik_grad(self, params: np.ndarray, data: dict[str, Any]) -> tuple[float, np.ndarray]:
        p, q, g = params
        x, w = data["cols"][0], data["w"]
        px = p * x
        lg = np.log(g + data["xm"])
        ll = float(w @ self._loglik(params, data))
        pu = p * data["ux"]
        dpq = special.digamma(pu + q)[data["xi"]]
        grad = np.array([
            w @ (x * (dpq - special.digamma(pu)[data["xi"]] + data["lx"] + data["lm"] - lg)),
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
