"""Discounted customer lifetime value over an explicit horizon, and horizon parsing.

CLV_i = margin * E[spend_i] * sum_k (E[X_i(t_k)] - E[X_i(t_{k-1})]) * discount(t_k)

where E[X_i(t)] is the transaction model's conditional expected number of purchases in (T_i, T_i + t]
(e.g. FHL 2005 eq. 10), E[spend_i] is the Gamma-Gamma conditional expected spend (Fader & Hardie 2013 eq. 5)
or a given value, and discount(t) = (1 + d)^-(t in years) at the end of each period ("period" discounting)
or exp(-delta t) with delta = ln(1 + d) at the midpoint of fine sub-steps ("continuous" discounting);
``d`` is the *annual* discount rate.
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from clvlens.errors import ClvlensError
from clvlens.models._base import BaseModel, as_float_array
from clvlens.models._histories import Histories
from clvlens.resources import single_threaded_blas
from clvlens.timeunits import BASE_DAYS, unit_days

__all__ = [
    "Histories", "alive_and_expected", "customer_lifetime_value", "customer_lifetime_value_interval",
    "interval_method", "parse_horizon",
]

#: beyond this many customer-draws ``method="auto"`` linearises the bootstrap
_LINEAR_ABOVE = 5_000_000
#: fewer usable bootstrap draws than this give no interval
_MIN_DRAWS = 20

DAYS_PER_UNIT = dict(BASE_DAYS)
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([HDWMQY])\s*$", re.IGNORECASE)


def parse_horizon(horizon: str | float, time_unit: str = "W") -> float:
    """Convert ``"6M"``, ``"12M"``, ``"52W"``, ``"365D"``, ``"48H"``, ``"2Q"`` or ``"1Y"`` to a length in
    ``time_unit`` (H, D, W, M, Q or a multiple such as ``"2W"``).

    Uses 365.25 days per year, 365.25/4 per quarter, 365.25/12 per month, 7 per week and 1/24 per hour. A bare
    number is taken to be in ``time_unit`` already.
    """
    days_per_unit = unit_days(time_unit)
    if isinstance(horizon, int | float | np.integer | np.floating):
        value = float(horizon)
    else:
        m = _PATTERN.match(str(horizon))
        if not m:
            raise ClvlensError(f"horizon: {horizon!r} is not like '12M', '52W', '365D', '48H', '2Q' or '1Y'")
        value = float(m.group(1)) * DAYS_PER_UNIT[m.group(2).upper()] / days_per_unit
    if not np.isfinite(value) or value <= 0:
        raise ClvlensError(f"horizon: {horizon!r} must be a positive length")
    return value


def _grid(
    model: BaseModel, horizon: Any, period: Any, discounting: str, rate: float
) -> tuple[np.ndarray, ...]:
    """Time points (ends of steps, model units) and the discount factor applied to each step."""
    tu = model.time_unit
    H = parse_horizon(horizon, tu)
    years_per_unit = unit_days(tu) / 365.25
    if discounting == "period":
        P = parse_horizon(period, tu)
        ends = np.append(np.arange(1, int(np.ceil(H / P - 1e-9))) * P, H)
        factors = (1.0 + rate) ** (-ends * years_per_unit)
    elif discounting == "continuous":
        steps = max(int(np.ceil(H * unit_days(tu))), 50)  # daily sub-steps (at least 50)
        ends = np.linspace(0, H, steps + 1)[1:]
        mids = ends - H / steps / 2
        factors = np.exp(-np.log1p(rate) * mids * years_per_unit)
    else:
        raise ClvlensError(f"discounting: {discounting!r} must be 'period' or 'continuous'")
    return ends, factors


def _discounted_purchases(model: BaseModel, p: dict[str, Any], histories: Histories, ends: np.ndarray,
                          factors: np.ndarray) -> np.ndarray:
    """sum_k factors_k (E[X(ends_k)] - E[X(ends_(k-1))]) for each distinct triple of ``histories``: the model's own
    grouped evaluation where it has one, else its expected-purchase path on the distinct triples."""
    grouped = getattr(model, "_discounted_purchases", None)
    if grouped is not None:
        return grouped(p, ends, factors, histories)
    cols = histories.cols
    out = np.empty(histories.size)
    chunk = max(1, 2_000_000 // ends.size)
    for lo in range(0, histories.size, chunk):
        sl = slice(lo, lo + chunk)
        cum = model._expected_path(p, ends, tuple(c[sl] for c in cols))  # type: ignore[attr-defined]
        inc = np.diff(cum, axis=1, prepend=0.0)
        out[sl] = inc @ factors
    return out


def _clv_core(model: BaseModel, p: dict[str, Any], histories: Histories, spend: np.ndarray,
              ends: np.ndarray, factors: np.ndarray, margin: float) -> np.ndarray:
    return margin * spend * histories.scatter(_discounted_purchases(model, p, histories, ends, factors))


def alive_and_expected(model: BaseModel, t: float, histories: Histories) -> tuple[np.ndarray, np.ndarray]:
    """P(alive) and expected purchases in (T, T + t] per customer of ``histories`` (at the fitted parameters),
    each evaluated once per distinct (x, t_x, T) triple."""
    model._check_fitted()
    cols = histories.cols
    if hasattr(model, "_alive_on") and hasattr(model, "_discounted_purchases"):
        p = model.params_  # type: ignore[attr-defined]
        alive = model._alive_on(p, histories)
        expected = model._discounted_purchases(p, np.array([float(t)]), np.ones(1), histories)
    else:
        alive = model.conditional_probability_alive(*cols)  # type: ignore[attr-defined]
        expected = model.conditional_expected_number_of_purchases_up_to_time(t, *cols)  # type: ignore[attr-defined]
    return histories.scatter(alive), histories.scatter(expected)


def _rate_and_margin(discount_rate: Any, margin: Any) -> tuple[float, float]:
    """The annual discount rate (finite, > -1) and the margin (finite, >= 0) as floats, or one clear error."""
    def number(value: Any) -> float:
        try:
            return float(value)
        except (TypeError, ValueError):
            return float("nan")

    rate, share = number(discount_rate), number(margin)
    if not (np.isfinite(rate) and rate > -1):
        raise ClvlensError(
            f"discount_rate: {discount_rate!r} must be a finite annual rate > -1 (e.g. 0.1 for 10%)"
        )
    if not (np.isfinite(share) and share >= 0):
        raise ClvlensError(f"margin: {margin!r} must be a finite fraction >= 0 (e.g. 0.3)")
    return rate, share


def _inputs(model: BaseModel, spend_model: Any, frequency: Any, recency: Any, T: Any, monetary_value: Any,
            margin: float, histories: Histories | None = None) -> tuple[tuple[np.ndarray, ...], Histories, Any]:
    model._check_fitted()
    cols = model._cols3(frequency, recency, T)  # type: ignore[attr-defined]
    if monetary_value is None and not isinstance(frequency, np.ndarray | list | tuple):
        try:
            monetary_value = frequency["monetary_value"]
        except (KeyError, IndexError, TypeError, ValueError):
            monetary_value = None
    if histories is None:
        return cols, Histories(*cols), monetary_value
    if histories.n != cols[0].shape[0]:
        raise ClvlensError(f"histories: group {histories.n} customers but {cols[0].shape[0]} were given")
    return cols, histories, monetary_value


def customer_lifetime_value(
    model: BaseModel, spend: Any, frequency: Any, recency: Any = None, T: Any = None, *,
    monetary_value: Any = None, horizon: str | float = "12M", period: str | float = "1M",
    discount_rate: float = 0.1, margin: float = 1.0, discounting: str = "period",
    histories: Histories | None = None,
) -> np.ndarray:
    """Discounted expected value of each customer's purchases over ``horizon`` (see the module docstring).

    ``spend`` is a fitted :class:`~clvlens.models.GammaGamma` (then ``monetary_value`` is required, or taken
    from the frame) or expected spend per transaction (scalar or one value per customer). The transaction
    model's part is evaluated once per distinct (frequency, recency, T) triple; ``histories`` (a
    :class:`~clvlens.models.clv.Histories` of the same frequency, recency and T) saves grouping them again.
    """
    rate, margin = _rate_and_margin(discount_rate, margin)
    cols, hist, mv = _inputs(model, spend, frequency, recency, T, monetary_value, margin, histories)
    ends, factors = _grid(model, horizon, period, discounting, rate)
    s = _spend(spend, cols[0], mv)
    return _clv_core(model, model.params_, hist, s, ends, factors, margin)  # type: ignore[attr-defined]


def _spend(spend: Any, x: np.ndarray, mv: Any, p: dict[str, Any] | None = None) -> np.ndarray:
    if hasattr(spend, "conditional_expected_average_profit"):
        if mv is None:
            raise ClvlensError("monetary_value: required with a GammaGamma spend model; pass the mean spend")
        if p is None:
            return spend.conditional_expected_average_profit(x, mv)
        from clvlens.models.gammagamma import expected_spend

        m = as_float_array("monetary_value", mv)
        return expected_spend(p, x, np.where(x > 0, m, 0.0))
    s = as_float_array("spend", spend)
    if not np.all(np.isfinite(s)) or np.any(s < 0):
        raise ClvlensError("spend: expected spend per transaction must be finite and >= 0")
    return np.broadcast_to(s, x.shape).astype(float)


def customer_lifetime_value_interval(
    model: BaseModel, spend: Any, frequency: Any, recency: Any = None, T: Any = None, *,
    monetary_value: Any = None, horizon: str | float = "12M", period: str | float = "1M",
    discount_rate: float = 0.1, margin: float = 1.0, discounting: str = "period",
    level: float = 0.9, n_draws: int = 200, seed: int | None = 0, method: str = "auto",
    time_budget: float | None = 60.0, report: dict[str, Any] | None = None, histories: Histories | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) CLV bounds from a parametric bootstrap of both models' parameters (seeded).

    The draws come from the asymptotic normal of each model's log-parameters, kept inside the plausible region
    (:meth:`~clvlens.models._base.BaseModel.sample_params`). ``method="bootstrap"`` evaluates the CLV at every
    draw; ``"linear"`` evaluates it at the estimate and at one step along each log-parameter, and applies the
    same draws to that first-order expansion: one evaluation per parameter instead of one per draw, and the
    same bounds up to terms in the square of the draws' spread, which shrinks as the data grow. ``"auto"``
    (the default) takes ``"linear"`` beyond five million customer-draws (50,000 customers at 100 draws), where
    the full bootstrap would take minutes.

    Bounded: the bootstrap stops after ``time_budget`` seconds (None: no limit) and uses the draws done so far
    (at least ``_MIN_DRAWS``, else one-line error); a draw whose evaluation fails is skipped. ``report``, if
    given, is filled with ``draws_requested``, ``draws_used``, ``draws_outside_region`` (asked for but not
    found inside the plausible region), ``proposals`` and ``proposals_refused`` (of the transaction model's
    sampler), ``draws_failed``, ``method`` and ``stopped`` (why fewer draws were used, or None).
    The lower bound is never below 0.
    """
    if not 0 < level < 1:
        raise ClvlensError(f"level: {level} must lie strictly between 0 and 1, e.g. 0.9")
    rate, margin = _rate_and_margin(discount_rate, margin)
    cols, hist, mv = _inputs(model, spend, frequency, recency, T, monetary_value, margin, histories)
    ends, factors = _grid(model, horizon, period, discounting, rate)
    draws, sdraws = _draw_both(model, spend, n_draws, seed)
    m = draws.shape[0] if sdraws is None else min(draws.shape[0], sdraws.shape[0])
    draws = draws[:m]
    sdraws = None if sdraws is None else sdraws[:m]
    quantiles = [(1 - level) / 2, (1 + level) / 2]
    n = cols[0].shape[0]
    info: dict[str, Any] = report if report is not None else {}
    drawn = getattr(model, "draw_report_", {})
    # a sampler that ran out of time stopped short: the missing draws were not refused as outside the region
    budget = drawn.get("stopped") or getattr(spend, "draw_report_", {}).get("stopped")
    info.update(draws_requested=int(n_draws), draws_outside_region=0 if budget else int(n_draws - m),
                draws_failed=0, stopped=budget or None, proposals=int(drawn.get("proposed", m)),
                proposals_refused=int(drawn.get("outside_box", 0) + drawn.get("outside_likelihood_region", 0)))
    if interval_method(method, n, n_draws) == "linear":
        info.update(method="linear", draws_used=m)
        return _linear_interval(model, spend, cols, hist, mv, ends, factors, margin, draws, sdraws, quantiles)
    info["method"] = "bootstrap"
    vals = np.full((m, n), np.nan)
    done = 0
    deadline = None if time_budget is None else time.monotonic() + time_budget
    for i in range(m):
        if deadline is not None and time.monotonic() > deadline:
            info["stopped"] = f"time budget of {time_budget:g} s reached after {i} draws"
            break
        p = dict(zip(model._param_names, draws[i], strict=True))
        ps = None if sdraws is None else dict(zip(spend._param_names, sdraws[i], strict=True))
        try:
            with np.errstate(all="ignore"):
                row = _clv_core(model, p, hist, _spend(spend, cols[0], mv, ps), ends, factors, margin)
        except ClvlensError:
            info["draws_failed"] += 1
            continue
        if not np.all(np.isfinite(row)):
            info["draws_failed"] += 1
            continue
        vals[done] = row
        done += 1
    info["draws_used"] = done
    if done < _MIN_DRAWS:
        why = info["stopped"] or f"{info['draws_failed']} draws could not be evaluated"
        raise ClvlensError(f"CLV interval: only {done} usable parameter draws ({why}); no interval can be given")
    q = np.quantile(vals[:done], quantiles, axis=0)
    return np.maximum(q[0], 0.0), np.maximum(q[1], 0.0)


def _draw_both(model: BaseModel, spend: Any, n_draws: int, seed: int | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Both models' parameter draws (the spend model's seeded ``seed + 1``), the spend model's in a second thread:
    each sampler evaluates its own likelihood once per proposal, mostly in numpy calls that release the GIL, so
    on two cores the pair takes about as long as the slower one. The draws are those of one after the other."""
    sseed = None if seed is None else seed + 1
    if not hasattr(spend, "sample_params"):
        return model.sample_params(n_draws, seed), None
    with ThreadPoolExecutor(max_workers=1) as pool:
        spend_draws = pool.submit(spend.sample_params, n_draws, sseed)
        try:
            draws = model.sample_params(n_draws, seed)
        except BaseException:
            spend_draws.cancel()
            raise
        return draws, spend_draws.result()


def interval_method(method: str, n_customers: int, n_draws: int) -> str:
    """The interval method ``customer_lifetime_value_interval`` uses: "bootstrap" or "linear"."""
    if method not in ("auto", "bootstrap", "linear"):
        raise ClvlensError(f"method: {method!r} must be 'auto', 'bootstrap' or 'linear'")
    if method == "auto":
        return "linear" if n_customers * n_draws > _LINEAR_ABOVE else "bootstrap"
    return method


def _linear_interval(
    model: BaseModel, spend: Any, cols: tuple[np.ndarray, ...], hist: Histories, mv: Any, ends: np.ndarray,
    factors: np.ndarray, margin: float, draws: np.ndarray, sdraws: np.ndarray | None, quantiles: list[float],
) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap quantiles of the first-order expansion of CLV = margin x spend x V in the log-parameters.

    V and its steps are evaluated once per distinct (x, t_x, T) triple and gathered per customer; the spend, which
    depends on each customer's mean value, per customer."""
    step = 1e-4  # in log-parameters: a relative step, far inside any draw's spread yet far above round-off

    def value(theta: np.ndarray) -> np.ndarray:  # discounted expected purchases V per triple, natural parameters
        return _discounted_purchases(model, dict(zip(model._param_names, theta, strict=True)), hist, ends, factors)

    theta = model._pvec()
    base_triples = value(theta)
    grad_v = hist.scatter(
        np.array([(value(theta * np.exp(step * e)) - base_triples) / step for e in np.eye(theta.size)]))
    base_v = hist.scatter(base_triples)
    shifts = [np.log(draws) - np.log(theta)]
    if sdraws is None:
        base_s = _spend(spend, cols[0], mv)
        grads = [grad_v * base_s]
    else:
        psi = spend._pvec()

        def spend_at(params: np.ndarray) -> np.ndarray:
            return _spend(spend, cols[0], mv, dict(zip(spend._param_names, params, strict=True)))

        base_s = spend_at(psi)
        grad_s = np.array([(spend_at(psi * np.exp(step * e)) - base_s) / step for e in np.eye(psi.size)])
        shifts.append(np.log(sdraws) - np.log(psi))
        grads = [grad_v * base_s, grad_s * base_v]
    shift, grad = np.hstack(shifts), np.vstack(grads)
    base = base_s * base_v
    lower, upper = np.empty(base.size), np.empty(base.size)
    chunk = max(1, 2_000_000 // shift.shape[0])

    def bounds(lo: int) -> None:
        sl = slice(lo, lo + chunk)
        # customers x draws, each customer's draws contiguous: the quantiles' sorts run along rows
        values = grad[:, sl].T @ shift.T
        values += base[sl, None]
        lower[sl], upper[sl] = _row_quantiles(values, quantiles)

    starts = range(0, base.size, chunk)
    with single_threaded_blas():  # small products, many of them: idle BLAS threads would spin against the sorts
        if len(starts) == 1:
            bounds(0)
        else:  # blocks of customers are independent and numpy sorts without the GIL: two threads, two cores
            with ThreadPoolExecutor(max_workers=2) as pool:
                list(pool.map(bounds, starts))
    # CLV cannot be negative; the expansion can be, far out in the lower tail of a tiny value
    return margin * np.maximum(lower, 0.0), margin * np.maximum(upper, 0.0)


def _row_quantiles(values: np.ndarray, quantiles: list[float]) -> list[np.ndarray]:
    """Each row's quantiles, as ``np.quantile(values, q, axis=1)`` (linear interpolation), by one sort of the rows
    in place (``values`` is left sorted): short contiguous rows sort faster than numpy's partition selects in
    them, and without a copy faster still."""
    values.sort(axis=1)
    ordered = values
    out = []
    for q in quantiles:
        position = q * (values.shape[1] - 1)
        below = int(np.floor(position))
        above = min(below + 1, values.shape[1] - 1)
        fraction = position - below
        out.append(ordered[:, below] + fraction * (ordered[:, above] - ordered[:, below]))
    return out
