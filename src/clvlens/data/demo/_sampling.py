"""Vectorised sampling helpers for the demo store: catalogue, purchase times, BG/NBD paths, baskets."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from clvlens.data.demo import _reference as ref

_WEEK_NS = 7 * 24 * 3600 * 10**9
_SECOND_NS = 10**9
_MAX_LINES = 4
_PLANT_PROBABILITY = 0.85
_MULTI_LINE_MIN_CENTS = 3000


@dataclass(frozen=True)
class _Catalogue:
    """Catalogue arrays used while drawing baskets (``order`` sorts items by list price)."""

    frame: pd.DataFrame
    price_cents: np.ndarray
    popularity: np.ndarray
    order: np.ndarray
    log_price_sorted: np.ndarray
    pair_index: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class _Lines:
    """Order lines as parallel arrays; ``order`` indexes the orders they belong to."""

    order: np.ndarray
    line_no: np.ndarray
    item: np.ndarray
    qty: np.ndarray
    unit_cents: np.ndarray


def hex_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """Return ``n`` random 32-character lowercase hex ids (Olist style) drawn from ``rng``."""
    blob = rng.bytes(16 * n).hex()
    return np.array([blob[32 * i: 32 * i + 32] for i in range(n)], dtype=object)


def _seq_ids(prefix: str, n: int, first: int = 1, width: int = 6) -> np.ndarray:
    """Return readable sequential ids such as ``C000001``."""
    width = max(width, len(str(first + n)))
    return np.array([f"{prefix}{i:0{width}d}" for i in range(first, first + n)], dtype=object)


def _build_catalogue(rng: np.random.Generator, olist_like: bool) -> _Catalogue:
    """Build the ~200-item catalogue with list prices, popularity weights and planted pair indices."""
    names: list[str] = []
    categories: list[str] = []
    prices: list[float] = []
    for category, (_, bases) in ref.CATEGORIES.items():
        for name, price in bases:
            names.append(name)
            categories.append(category)
            prices.append(price)
        for j, (name, price) in enumerate(bases[: ref.N_VARIANTS_PER_CATEGORY]):
            variant, factor = ref.VARIANTS[j % len(ref.VARIANTS)]
            names.append(f"{variant} {name}")
            categories.append(category)
            prices.append(round(price * factor, 0) - 0.10)
    m = len(names)
    ids = hex_ids(rng, m) if olist_like else _seq_ids("SKU-", m, width=4)
    price_cents = np.rint(np.array(prices) * 100).astype(np.int64)
    frame = pd.DataFrame({
        "item_id": pd.array(ids, dtype="str"), "item_name": pd.array(names, dtype="str"),
        "category": pd.array(categories, dtype="str"), "unit_price": price_cents / 100.0,
    })
    # Zipf-like popularity in a random order; planted "A" items are made best-sellers in their price band.
    popularity = 1.0 / (1.0 + rng.permutation(m)) ** 0.8
    position = {name: i for i, name in enumerate(names)}
    pair_index = tuple((position[a], position[b]) for a, b in ref.PLANTED_PAIRS)
    for a, _ in pair_index:
        popularity[a] = popularity.max() * 2.0
    order = np.argsort(price_cents, kind="stable")
    return _Catalogue(frame, price_cents, popularity, order, np.log(price_cents[order]), pair_index)


def _window(olist_like: bool) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Return the (start, observation_end) of the acquisition and observation window."""
    if olist_like:
        return pd.Timestamp("2016-09-04"), pd.Timestamp("2018-10-17 23:59:59")
    return pd.Timestamp("2023-01-01"), pd.Timestamp("2024-12-31 23:59:59")


def _draw_times(rng: np.random.Generator, n: int, start: pd.Timestamp, end: pd.Timestamp,
                olist_like: bool) -> np.ndarray:
    """Draw ``n`` purchase times (int64 ns) with the shop's growth, seasonality and hour-of-day shape."""
    days = pd.date_range(start.normalize(), end.normalize(), freq="D")
    if olist_like:
        month_index = (days.year - 2016) * 12 + days.month - 9
        table = np.asarray(ref.OLIST_MONTH_WEIGHTS)
        weights = table[np.clip(month_index, 0, table.size - 1)] / days.days_in_month
    else:
        growth = 1.0 + 0.6 * np.linspace(0.0, 1.0, days.size)
        weights = growth * np.asarray(ref.MONTH_SEASONALITY)[days.month - 1]
    weights = np.asarray(weights, dtype=float)
    day = rng.choice(days.size, size=n, p=weights / weights.sum())
    hours = np.asarray(ref.HOUR_WEIGHTS)
    hour = rng.choice(24, size=n, p=hours / hours.sum())
    second = rng.integers(0, 3600, size=n)
    day_ns = days.values.astype("datetime64[ns]").astype(np.int64)
    times = day_ns[day] + (hour * 3600 + second) * _SECOND_NS
    return np.clip(times, start.value, end.value)


def _simulate_bgnbd(rng: np.random.Generator, lam: np.ndarray, p: np.ndarray, horizon: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Simulate repeat purchases, vectorised over customers and looping over purchase rounds.

    ``horizon`` is each customer's time from first purchase to the observation end (weeks). Returns the
    customer index and time (weeks after the first purchase) of every repeat purchase, and the alive flags.
    """
    n = lam.size
    current = np.zeros(n)
    alive = np.ones(n, dtype=bool)
    active = np.arange(n)
    customers: list[np.ndarray] = []
    times: list[np.ndarray] = []
    scale = 1.0 / np.maximum(lam, 1e-12)
    while active.size:
        nxt = current[active] + rng.exponential(scale[active])
        inside = nxt <= horizon[active]
        active = active[inside]
        current[active] = nxt[inside]
        customers.append(active)
        times.append(current[active].copy())
        drop = rng.random(active.size) < p[active]
        alive[active[drop]] = False
        active = active[~drop]
    return np.concatenate(customers), np.concatenate(times), alive


def _order_totals(rng: np.random.Generator, shape: float, nu: np.ndarray) -> np.ndarray:
    """Draw Gamma-Gamma order totals (in cents, at least one cent) for orders with spend rates ``nu``."""
    z = rng.gamma(shape, 1.0 / nu)
    return np.maximum(np.rint(z * 100.0), 1).astype(np.int64)


def _build_baskets(rng: np.random.Generator, totals: np.ndarray, cat: _Catalogue) -> _Lines:
    """Split each order total (cents) into 1-4 distinct-item lines summing to it exactly.

    Line budgets are a Dirichlet split of the total; each line picks a popular item whose list price is close
    to its budget, planted pairs are added, and the paid unit prices are the list prices scaled to the total
    (the remainder in cents goes to a single-unit line, so the sum is exact and every unit price positive).
    """
    n = totals.size
    m = cat.price_cents.size
    k = rng.choice(np.arange(1, _MAX_LINES + 1), size=n, p=[0.6, 0.25, 0.1, 0.05])
    k[totals < _MULTI_LINE_MIN_CENTS] = 1
    active = np.arange(_MAX_LINES)[None, :] < k[:, None]
    share = rng.gamma(2.0, size=(n, _MAX_LINES)) * active
    budget = totals[:, None] * share / share.sum(axis=1, keepdims=True)
    qty = rng.choice(np.array([1, 2, 3]), size=(n, _MAX_LINES), p=[0.86, 0.1, 0.04])
    qty[(budget / qty < 1500) | ~active] = 1
    target = np.log(np.maximum(budget / qty, 100.0)) + rng.normal(0.0, 0.2, size=(n, _MAX_LINES))
    centre = np.searchsorted(cat.log_price_sorted, target)
    candidates = np.clip(centre[..., None] + np.arange(-6, 7), 0, m - 1)
    cum = cat.popularity[cat.order[candidates]].cumsum(axis=-1)
    pick = (cum < rng.random((n, _MAX_LINES, 1)) * cum[..., -1:]).sum(axis=-1)
    spos = np.take_along_axis(candidates, pick[..., None], axis=-1)[..., 0]
    for j in range(1, _MAX_LINES):  # make items distinct within an order by moving to a price neighbour
        for _ in range(2 * _MAX_LINES):
            clash = active[:, j] & (spos[:, :j] == spos[:, j: j + 1]).any(axis=1)
            if not clash.any():
                break
            spos[clash, j] = (spos[clash, j] + 1) % m
    item = cat.order[spos]
    for a, b in cat.pair_index:
        has_a = ((item == a) & active).any(axis=1)
        has_b = ((item == b) & active).any(axis=1)
        plant = has_a & ~has_b & (totals >= _MULTI_LINE_MIN_CENTS) & (rng.random(n) < _PLANT_PROBABILITY)
        room = np.flatnonzero(plant & (k < _MAX_LINES))
        full = np.flatnonzero(plant & (k == _MAX_LINES))
        item[room, k[room]] = b
        qty[room, k[room]] = 1
        active[room, k[room]] = True
        k[room] += 1
        col = np.where(item[full, _MAX_LINES - 1] == a, _MAX_LINES - 2, _MAX_LINES - 1)
        item[full, col] = b
        qty[full, col] = 1
    list_cents = cat.price_cents[item]
    single = active & (qty == 1)
    qty[~single.any(axis=1), 0] = 1
    single = active & (qty == 1)
    weight = np.where(active, qty * list_cents, 0)
    rest_col = np.argmax(np.where(single, list_cents, -1), axis=1)
    rows = np.arange(n)
    unit = np.maximum(np.rint(totals[:, None] * list_cents / weight.sum(axis=1, keepdims=True)), 1)
    unit = np.where(active, unit.astype(np.int64), 0)
    unit[rows, rest_col] = 0
    rest = totals - (unit * qty).sum(axis=1)
    unit[rows, rest_col] = rest
    bad = np.flatnonzero(rest < 1)  # rounding ate the remainder line: fall back to a single line
    item[bad, 0] = item[bad, rest_col[bad]]
    active[bad, 1:] = False
    qty[bad, 0] = 1
    unit[bad, 0] = totals[bad]
    r, c = np.nonzero(active)
    return _Lines(r, c, item[r, c], qty[r, c], unit[r, c])


def _choose_shares(rng: np.random.Generator, shares: dict[str, float], n: int) -> np.ndarray:
    """Draw ``n`` indices into ``shares`` with the given (unnormalised) probabilities."""
    w = np.fromiter(shares.values(), dtype=float)
    return rng.choice(w.size, size=n, p=w / w.sum())
