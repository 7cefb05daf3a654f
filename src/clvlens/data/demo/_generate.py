"""Generate the synthetic demo store from known BG/NBD and Gamma-Gamma parameters.

The generative story, per customer ``i``:

* the first purchase falls at a random time in the acquisition window (mild growth, Black-Friday and
  Christmas peaks, a realistic hour-of-day profile);
* ``lambda_i ~ Gamma(shape=r, rate=alpha)`` (purchases per week) and ``p_i ~ Beta(a, b)``;
* after the first purchase, repeat purchases arrive as a Poisson process with rate ``lambda_i``; right after
  each REPEAT purchase the customer drops out for good with probability ``p_i`` (Fader, Hardie & Lee 2005:
  the first purchase carries no dropout risk, so ``P(X(t) = 0) = (alpha / (alpha + t)) ** r``);
* ``nu_i ~ Gamma(shape=q, rate=gamma)`` and every order total ``z ~ Gamma(shape=p, rate=nu_i)`` in BRL,
  rounded to cents (minimum one cent);
* the order total is split over 1-4 lines whose ``quantity * unit_price`` add up to it to the cent.

Dirt is added on top, so removing it gives back the clean data exactly (``DemoStore.clean``):

* ``cancelled_originals`` / ``cancellations``: extra orders, later cancelled UCI-style by an order
  ``"C" + order_id`` with negative quantity and amount (drop both the ``C`` order and its original);
* ``missing_customer``: extra orders with no ``customer_id`` (drop rows with a missing customer);
* ``duplicates``: exact copies of clean lines, next to them in the log (``drop_duplicates``);
* ``zero_price``: extra "free gift" lines with ``unit_price == 0`` inside clean orders (drop them).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from clvlens.data.demo import _reference as ref
from clvlens.data.demo._sampling import (
    _MAX_LINES,
    _SECOND_NS,
    _WEEK_NS,
    _build_baskets,
    _build_catalogue,
    _Catalogue,
    _choose_shares,
    _draw_times,
    _Lines,
    _order_totals,
    _seq_ids,
    _simulate_bgnbd,
    _window,
    hex_ids,
)
from clvlens.errors import ClvlensError

TRANSACTION_COLUMNS: tuple[str, ...] = (
    "customer_id", "order_id", "timestamp", "amount", "quantity", "unit_price", "item_id", "item_name",
    "category", "region", "channel",
)

DEFAULT_BGNBD: dict[str, float] = {"r": 0.45, "alpha": 25.0, "a": 0.8, "b": 2.5}
DEFAULT_GAMMA_GAMMA: dict[str, float] = {"p": 6.0, "q": 4.0, "gamma": 100.0}
OLIST_BGNBD: dict[str, float] = {"r": 0.06, "alpha": 60.0, "a": 1.2, "b": 2.0}
OLIST_GAMMA_GAMMA: dict[str, float] = {"p": 3.0, "q": 3.5, "gamma": 130.0}

_MIN_CUSTOMERS = 50

# Dirt rates: extra orders as a share of clean orders, extra rows as a share of clean rows.
_CANCELLED_ORDER_RATE = 0.003
_MISSING_CUSTOMER_ORDER_RATE = 0.004
_DUPLICATE_ROW_RATE = 0.004
_ZERO_PRICE_ROW_RATE = 0.002

# Line kinds (internal bookkeeping only, never written to the log).
_CLEAN, _CANCELLED_ORIGINAL, _CANCELLATION, _MISSING, _DUPLICATE, _ZERO_PRICE = range(6)


@dataclass(frozen=True)
class DemoTruth:
    """Everything a test needs to check that the models recover the generating process.

    ``bgnbd`` holds ``r, alpha, a, b`` with ``alpha`` in ``time_unit`` (weeks); ``gamma_gamma`` holds
    ``p, q, gamma`` for order totals in BRL. ``dirt`` counts the rows of each kind of dirt in the log.
    """

    time_unit: str
    bgnbd: dict[str, float]
    gamma_gamma: dict[str, float]
    start: pd.Timestamp
    observation_end: pd.Timestamp
    planted_pairs: tuple[tuple[str, str], ...]
    strongest_region: str
    n_customers: int
    dirt: dict[str, int]
    seed: int = 7
    olist_like: bool = False
    n_orders: int = 0


@dataclass
class DemoStore:
    """A generated shop: the dirty flat log, the truth behind it, the catalogue and the latent customers.

    ``transactions`` is the order-line log in the canonical columns, dirt included; ``clean`` is the same
    log without the dirt (what the generative process produced). ``customers`` holds one row per customer
    with the true latent values: ``lambda`` (purchases per week), ``p`` (dropout probability), ``nu``
    (Gamma-Gamma spend rate), plus ``n_repeat`` (repeat purchases in the window) and ``alive`` (still active
    at the observation end).
    """

    transactions: pd.DataFrame
    truth: DemoTruth
    catalogue: pd.DataFrame
    customers: pd.DataFrame
    clean: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)


def generate_demo_store(n_customers: int = 5000, seed: int = 7, olist_like: bool = False, *,
                        bgnbd: dict[str, float] | None = None,
                        gamma_gamma: dict[str, float] | None = None,
                        dirt: bool = True) -> DemoStore:
    """Generate a deterministic synthetic shop from known BG/NBD and Gamma-Gamma parameters.

    ``olist_like`` mimics the Olist marketplace (2016-09-04 to 2018-10-17, ~97% one-time buyers, 32-hex ids);
    otherwise the shop runs 2023-01-01 to 2024-12-31 with about a third of customers buying again.
    ``bgnbd`` / ``gamma_gamma`` override the default parameters (per week, BRL); ``dirt=False`` leaves the log
    clean. The same arguments always give the identical store.
    """
    if isinstance(n_customers, bool) or not isinstance(n_customers, int | np.integer):
        raise ClvlensError(f"n_customers must be an integer, got {n_customers!r}")
    if n_customers < _MIN_CUSTOMERS:
        raise ClvlensError(f"n_customers must be at least {_MIN_CUSTOMERS}, got {n_customers}")
    bg = dict(OLIST_BGNBD if olist_like else DEFAULT_BGNBD)
    gg = dict(OLIST_GAMMA_GAMMA if olist_like else DEFAULT_GAMMA_GAMMA)
    for name, given, base in (("bgnbd", bgnbd, bg), ("gamma_gamma", gamma_gamma, gg)):
        if given is None:
            continue
        unknown = set(given) - set(base)
        if unknown:
            raise ClvlensError(f"{name}: unknown parameter(s) {sorted(unknown)}; expected {sorted(base)}")
        bad = [key for key, value in given.items() if not (np.isfinite(value) and value > 0)]
        if bad:
            raise ClvlensError(f"{name}: parameter(s) {bad} must be positive finite numbers")
        base.update({key: float(value) for key, value in given.items()})
    n = int(n_customers)
    rng = np.random.default_rng([seed, 0])
    start, end = _window(olist_like)
    cat = _build_catalogue(rng, olist_like)

    # Customers and their latent parameters.
    first = _draw_times(rng, n, start, end, olist_like)
    horizon = (end.value - first) / _WEEK_NS
    lam = rng.gamma(bg["r"], 1.0 / bg["alpha"], size=n)
    p_drop = rng.beta(bg["a"], bg["b"], size=n)
    nu = rng.gamma(gg["q"], 1.0 / gg["gamma"], size=n)
    states = list(ref.STATE_SHARES)
    region = _choose_shares(rng, ref.STATE_SHARES, n)
    preferred = rng.choice(len(ref.CHANNELS), size=n, p=ref.CHANNEL_SHARES)
    rep_cust, rep_weeks, alive = _simulate_bgnbd(rng, lam, p_drop, horizon)
    n_repeat = np.bincount(rep_cust, minlength=n)

    # Clean orders: first purchases then repeats.
    o_cust = np.concatenate([np.arange(n), rep_cust])
    offset = np.rint(rep_weeks * _WEEK_NS).astype(np.int64)
    o_time = np.concatenate([first, (first[rep_cust] + offset) // _SECOND_NS * _SECOND_NS])
    o_time = np.minimum(o_time, end.value)
    switch = rng.random(o_cust.size) < 0.15
    o_channel = np.where(switch, rng.choice(len(ref.CHANNELS), size=o_cust.size, p=ref.CHANNEL_SHARES),
                         preferred[o_cust])
    o_total = _order_totals(rng, gg["p"], nu[o_cust])
    lines = _build_baskets(rng, o_total, cat)
    n_clean_orders = o_cust.size

    customer_ids = hex_ids(rng, n) if olist_like else _seq_ids("C", n)
    customers = pd.DataFrame({
        "customer_id": pd.array(customer_ids, dtype="str"),
        "region": pd.array(np.array(states, dtype=object)[region], dtype="str"),
        "first_purchase": pd.to_datetime(first).astype("datetime64[ns]"),
        "lambda": lam, "p": p_drop, "nu": nu, "n_repeat": n_repeat, "alive": alive,
    })

    drng = np.random.default_rng([seed, 1])
    parts = _assemble(drng, cat, start, end, olist_like, dirt, customer_ids, region, first, nu, gg["p"],
                      o_cust, o_time, o_channel, o_total, lines)
    transactions, clean, dirt_counts = parts

    revenue = clean.groupby("region", sort=False)["amount"].sum()
    truth = DemoTruth(
        time_unit="W", bgnbd=bg, gamma_gamma=gg, start=start, observation_end=end,
        planted_pairs=tuple((str(cat.frame.item_id.iat[a]), str(cat.frame.item_id.iat[b]))
                            for a, b in cat.pair_index),
        strongest_region=str(revenue.idxmax()), n_customers=n, dirt=dirt_counts, seed=seed,
        olist_like=olist_like, n_orders=n_clean_orders,
    )
    return DemoStore(transactions=transactions, truth=truth, catalogue=cat.frame, customers=customers,
                     clean=clean)


def _assemble(rng: np.random.Generator, cat: _Catalogue, start: pd.Timestamp, end: pd.Timestamp,
              olist_like: bool, with_dirt: bool, customer_ids: np.ndarray, region: np.ndarray,
              first: np.ndarray, nu: np.ndarray, shape: float, o_cust: np.ndarray, o_time: np.ndarray,
              o_channel: np.ndarray, o_total: np.ndarray, lines: _Lines
              ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]]:
    """Add the dirt, assign order ids in time order and build the dirty and clean line frames."""
    n_orders = o_cust.size
    n_rows = lines.order.size
    scale = 1 if with_dirt else 0

    def count(rate: float, base: int) -> int:
        return scale * max(1, round(rate * base))

    # (a) orders later cancelled: existing customers, at least a week before the observation end.
    week = _WEEK_NS
    eligible = np.flatnonzero(first <= end.value - week - _SECOND_NS * 86400)
    n_cancel = min(count(_CANCELLED_ORDER_RATE, n_orders), eligible.size)
    c_cust = rng.choice(eligible, size=n_cancel, replace=False)
    c_time = first[c_cust] + (rng.random(n_cancel) * (end.value - week - first[c_cust])).astype(np.int64)
    c_time = c_time // _SECOND_NS * _SECOND_NS
    c_delay = rng.integers(2 * 3600, 6 * 86400, size=n_cancel) * _SECOND_NS
    # (b) orders with no customer id.
    n_missing = count(_MISSING_CUSTOMER_ORDER_RATE, n_orders)
    m_time = _draw_times(rng, n_missing, start, end, olist_like)
    m_region = _choose_shares(rng, ref.STATE_SHARES, n_missing)
    m_nu = rng.gamma(4.0, 1.0 / (4.0 * np.median(nu)), size=n_missing)

    extra_total = np.concatenate([_order_totals(rng, shape, nu[c_cust]), _order_totals(rng, shape, m_nu)])
    extra = _build_baskets(rng, extra_total, cat)

    # Order table: clean, cancelled originals, missing-customer orders.
    all_cust = np.concatenate([o_cust, c_cust, np.full(n_missing, -1)])
    all_time = np.concatenate([o_time, c_time, m_time])
    all_region = np.concatenate([region[o_cust], region[c_cust], m_region])
    all_channel = np.concatenate([o_channel, rng.choice(len(ref.CHANNELS), size=n_cancel + n_missing,
                                                        p=ref.CHANNEL_SHARES)])
    kind_order = np.concatenate([np.full(n_orders, _CLEAN), np.full(n_cancel, _CANCELLED_ORIGINAL),
                                 np.full(n_missing, _MISSING)])
    rank = np.empty(all_time.size, dtype=np.int64)
    rank[np.lexsort((np.arange(all_time.size), all_time))] = np.arange(all_time.size)
    order_ids = hex_ids(rng, all_time.size) if olist_like else _seq_ids("", all_time.size, first=100001)
    order_ids = order_ids[rank]

    # Line table: clean lines, extra-order lines, then cancellations, duplicates and zero-price gifts.
    l_order = np.concatenate([lines.order, extra.order + n_orders])
    l_no = np.concatenate([lines.line_no, extra.line_no])
    l_item = np.concatenate([lines.item, extra.item])
    l_qty = np.concatenate([lines.qty, extra.qty])
    l_unit = np.concatenate([lines.unit_cents, extra.unit_cents])
    l_kind = kind_order[l_order]
    l_time = all_time[l_order]
    l_cancel = np.zeros(l_order.size, dtype=bool)

    cancelled = np.flatnonzero(l_kind == _CANCELLED_ORIGINAL)
    n_dup = count(_DUPLICATE_ROW_RATE, n_rows)
    dup = np.sort(rng.choice(n_rows, size=n_dup, replace=False))
    n_zero = count(_ZERO_PRICE_ROW_RATE, n_rows)
    zero_orders = rng.choice(n_orders, size=n_zero, replace=False)
    cheap = cat.order[: max(5, cat.order.size // 10)]
    zero_item = rng.choice(cheap, size=n_zero)

    def cat_(a: np.ndarray, *more: np.ndarray) -> np.ndarray:
        return np.concatenate([a, *more])

    l_order = cat_(l_order, l_order[cancelled], l_order[dup], zero_orders)
    l_no = cat_(l_no, l_no[cancelled], l_no[dup], np.full(n_zero, _MAX_LINES + 1))
    l_item = cat_(l_item, l_item[cancelled], l_item[dup], zero_item)
    l_qty = cat_(l_qty, -l_qty[cancelled], l_qty[dup], np.ones(n_zero, dtype=np.int64))
    l_unit = cat_(l_unit, l_unit[cancelled], l_unit[dup], np.zeros(n_zero, dtype=np.int64))
    cancel_time = l_time[cancelled] + c_delay[l_order[cancelled] - n_orders]
    l_time = cat_(l_time, np.minimum(cancel_time, end.value), l_time[dup], all_time[zero_orders])
    l_cancel = cat_(l_cancel, np.ones(cancelled.size, dtype=bool), np.zeros(n_dup + n_zero, dtype=bool))
    l_kind = cat_(l_kind, np.full(cancelled.size, _CANCELLATION), np.full(n_dup, _DUPLICATE),
                  np.full(n_zero, _ZERO_PRICE))

    sort = np.lexsort((l_kind == _DUPLICATE, l_no, l_cancel, rank[l_order], l_time))
    l_order, l_no, l_item, l_qty, l_unit = (x[sort] for x in (l_order, l_no, l_item, l_qty, l_unit))
    l_time, l_cancel, l_kind = l_time[sort], l_cancel[sort], l_kind[sort]

    cust = all_cust[l_order]
    cust_id = np.where(cust >= 0, customer_ids[np.maximum(cust, 0)], None)
    oid = order_ids[l_order]
    oid = np.where(l_cancel, np.char.add("C", oid.astype(str)).astype(object), oid)
    states = np.array(list(ref.STATE_SHARES), dtype=object)
    channels = np.array(ref.CHANNELS, dtype=object)
    frame = pd.DataFrame({
        "customer_id": pd.array(cust_id, dtype="str"),
        "order_id": pd.array(oid, dtype="str"),
        "timestamp": pd.to_datetime(l_time).astype("datetime64[ns]"),
        "amount": l_unit * l_qty / 100.0,
        "quantity": l_qty.astype(np.int64),
        "unit_price": l_unit / 100.0,
        "item_id": cat.frame.item_id.to_numpy()[l_item],
        "item_name": cat.frame.item_name.to_numpy()[l_item],
        "category": cat.frame.category.to_numpy()[l_item],
        "region": pd.array(states[all_region[l_order]], dtype="str"),
        "channel": pd.array(channels[all_channel[l_order]], dtype="str"),
    })
    for column in ("item_id", "item_name", "category"):
        frame[column] = frame[column].astype("str")
    clean = frame.loc[l_kind == _CLEAN].reset_index(drop=True)
    names = {_CANCELLATION: "cancellations", _CANCELLED_ORIGINAL: "cancelled_originals",
             _MISSING: "missing_customer", _DUPLICATE: "duplicates", _ZERO_PRICE: "zero_price"}
    dirt_counts = {label: int((l_kind == kind).sum()) for kind, label in names.items()}
    return frame, clean, dirt_counts
