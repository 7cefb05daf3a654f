"""Vectorised simulators of customer summaries from the models' generative stories (for tests, benches)."""

from __future__ import annotations

import numpy as np

__all__ = ["simulate_bgnbd", "simulate_paretonbd"]


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
