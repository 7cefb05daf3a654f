"""Vectorised simulators of customer summaries from the models' generative stories: new data from any fitted
model (:func:`generate_new_data`), and parameterised simulators for tests and benches."""

from __future__ import annotations

from typing import Any

import numpy as np

from clvlens.errors import ClvlensError
from clvlens.models._base import as_float_array, validate_finite_nonneg

__all__ = ["generate_new_data", "in_whole_periods", "simulate_bgnbd", "simulate_paretonbd"]


def _last_purchase_time(
    rng: np.random.Generator, x: np.ndarray, n_events: np.ndarray, span: np.ndarray
) -> np.ndarray:
    """Time of the x-th of ``n_events`` uniform arrivals on [0, span]: span * Beta(x, n - x + 1)."""
    pos = x > 0
    tx = np.zeros(x.shape)
    tx[pos] = span[pos] * rng.beta(x[pos], n_events[pos] - x[pos] + 1.0)
    return tx


def simulate_bgnbd(
    n: int, r: float, alpha: float, a: float, b: float, *, T_max: float = 52.0, T_min: float = 1.0,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Simulate BG/NBD summaries (Fader, Hardie & Lee 2005, section 2) with continuous T ~ U(T_min, T_max).

    A customer's Poisson(lambda) arrivals N(T) are cut off after J ~ Geometric(p) repeat purchases (dropout
    after the J-th), so x = min(N(T), J) and t_x is the x-th arrival time.
    """
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    T = rng.uniform(T_min, T_max, n)
    n_events = rng.poisson(lam * T).astype(float)
    j = rng.geometric(np.clip(p, 1e-12, 1.0)).astype(float)
    x = np.minimum(n_events, j)
    return {"frequency": x, "recency": _last_purchase_time(rng, x, n_events, T), "T": T}


def simulate_paretonbd(
    n: int, r: float, alpha: float, s: float, beta: float, *, T_max: float = 52.0, T_min: float = 1.0,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Simulate Pareto/NBD summaries (Schmittlein, Morrison & Colombo 1987) with continuous T."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1.0 / alpha, n)
    mu = rng.gamma(s, 1.0 / beta, n)
    T = rng.uniform(T_min, T_max, n)
    span = np.minimum(rng.exponential(1.0 / mu), T)
    x = rng.poisson(lam * span).astype(float)
    return {"frequency": x, "recency": _last_purchase_time(rng, x, x, span), "T": T}


def in_whole_periods(summary: dict[str, np.ndarray]) -> list[np.ndarray]:
    """A simulated summary's frequency, recency and T in whole periods, as a log in whole weeks (say) reports them:
    recency and T rounded, a repeat buyer's recency at least one period, T at least the recency and one period.
    Whole periods make customers share histories, as real logs do (and as a fit's distinct rows count them)."""
    frequency = summary["frequency"]
    recency = np.where(frequency > 0, np.maximum(np.round(summary["recency"]), 1.0), 0.0)
    return [frequency, recency, np.maximum(np.round(summary["T"]), np.maximum(recency, 1.0))]


#: customers x opportunities simulated at once by the BG/BB generator (bounds its memory to ~40 MB)
_BGBB_BLOCK = 5_000_000


def generate_new_data(
    model: Any, T: Any, *, frequency: Any = None, seed: int | None = 0
) -> dict[str, np.ndarray]:
    """New customers drawn from a fitted (or :meth:`from_params`) model's generative story: lifetimes'
    ``generate_new_data``, for every clvlens model.

    Transaction models take ``T``, one age (in the model's time unit; BG/BB: whole opportunities) per customer
    to simulate, and return ``frequency``, ``recency``, ``T`` and the latent ``rate`` (BG/BB: ``p``),
    ``dropout`` (p, mu or theta) and ``alive`` (alive at T). :class:`~clvlens.models.GammaGamma` takes
    ``frequency`` (repeat purchases >= 1) instead and returns ``frequency`` and ``monetary_value`` (the mean
    of that many transaction values) with the latent ``nu``.

    Stories: BG/NBD, Fader, Hardie & Lee (2005) section 2; MBG/NBD, Batislam et al. (2007) (a dropout chance also
    right after the first purchase); Pareto/NBD, Schmittlein et al. (1987); BG/BB, Fader, Hardie & Shang (2010)
    (death at the start of an opportunity with probability theta); Gamma-Gamma, Fader & Hardie (2013).
    """
    from clvlens.models.bgbb import BetaGeoBetaBinom
    from clvlens.models.bgnbd import BetaGeo
    from clvlens.models.gammagamma import GammaGamma
    from clvlens.models.paretonbd import ParetoNBD

    model._check_fitted()
    p = model.params_
    rng = np.random.default_rng(seed)
    if isinstance(model, GammaGamma):
        x = _positive("frequency", frequency if frequency is not None else T)
        if np.any(x < 1) or np.any(x != np.round(x)):
            raise ClvlensError("frequency: Gamma-Gamma simulates repeat buyers: whole numbers >= 1")
        nu = rng.gamma(p["q"], 1.0 / p["gamma"], x.size)
        mean_spend = rng.gamma(p["p"] * x, 1.0 / (nu * x))  # the mean of x Gamma(p, nu) values
        return {"frequency": x, "monetary_value": mean_spend, "nu": nu}
    ages = _positive("T", T)
    n = ages.size
    if isinstance(model, BetaGeoBetaBinom):
        return _bgbb(rng, p, ages)
    lam = rng.gamma(p["r"], 1.0 / p["alpha"], n)
    if isinstance(model, ParetoNBD):
        mu = rng.gamma(p["s"], 1.0 / p["beta"], n)
        lifetime = rng.exponential(1.0 / mu)
        span = np.minimum(lifetime, ages)
        x = rng.poisson(lam * span).astype(float)
        tx = _last_purchase_time(rng, x, x, span)
        return {"frequency": x, "recency": tx, "T": ages, "rate": lam, "dropout": mu, "alive": lifetime > ages}
    if isinstance(model, BetaGeo):
        drop = rng.beta(p["a"], p["b"], n)
        events = rng.poisson(lam * ages).astype(float)
        # repeat purchases made before dropping out: a coin after each repeat (BG/NBD) and also after the
        # first purchase (MBG/NBD, shift 1)
        allowed = rng.geometric(np.clip(drop, 1e-12, 1.0)).astype(float) - float(model._shift)
        x = np.minimum(events, allowed)
        tx = _last_purchase_time(rng, x, events, ages)
        return {"frequency": x, "recency": tx, "T": ages, "rate": lam, "dropout": drop, "alive": events < allowed}
    raise ClvlensError(f"{type(model).__name__}: no generative story to simulate from")  # pragma: no cover


def _positive(name: str, values: Any) -> np.ndarray:
    arr = as_float_array(name, values)
    validate_finite_nonneg(name, arr)
    return arr


def _bgbb(rng: np.random.Generator, p: dict[str, float], n_opps: np.ndarray) -> dict[str, np.ndarray]:
    if np.any(n_opps != np.round(n_opps)):
        raise ClvlensError("T: BG/BB simulates whole numbers of opportunities")
    size = n_opps.size
    buy = rng.beta(p["alpha"], p["beta"], size)
    theta = rng.beta(p["gamma"], p["delta"], size)
    alive_opps = np.minimum(rng.geometric(np.clip(theta, 1e-12, 1.0)) - 1, n_opps).astype(np.int64)
    x = np.zeros(size)
    tx = np.zeros(size)
    longest = int(alive_opps.max()) if size else 0
    rows = max(1, _BGBB_BLOCK // max(longest, 1))
    for start in range(0, size, rows):
        part = slice(start, start + rows)
        opp = np.arange(1, longest + 1)
        bought = (rng.random((buy[part].size, longest)) < buy[part, None]) & (opp[None, :] <= alive_opps[part, None])
        x[part] = bought.sum(axis=1)
        tx[part] = np.where(bought.any(axis=1), longest - np.argmax(bought[:, ::-1], axis=1), 0)
    return {"frequency": x, "recency": tx, "T": n_opps, "rate": buy, "dropout": theta, "alive": alive_opps >= n_opps}
