"""Write a demo store to disk: the flat order-line log, or a folder shaped like the Olist public data set.

Olist folder conventions (what an Olist loader should assume to get the generative data back):

* only orders with ``order_status == "delivered"`` come from the generative process; a few percent of EXTRA
  orders are shipped, canceled, unavailable, invoiced, processing, created or approved (this is the folder's
  dirt; ``unavailable`` orders have no items, like in the real data);
* ``customer_unique_id`` is the person (our ``customer_id``); ``customer_id`` is a fresh id per order;
* freight is part of the order total: for every unit, ``price + freight_value`` equals the flat log's
  ``unit_price``, so the sum of ``payment_value`` per order equals the Gamma-Gamma order total (revenue =
  sum of payments per order = sum of ``price + freight_value`` over the order's items);
* a flat line with quantity ``q`` becomes ``q`` item rows (``order_item_id`` 1..n within the order).
"""

from __future__ import annotations

import csv
import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd

from clvlens.data.demo import _reference as ref
from clvlens.data.demo._generate import DemoStore
from clvlens.data.demo._sampling import hex_ids
from clvlens.errors import ClvlensError

OLIST_FILES: dict[str, tuple[str, ...]] = {
    "olist_customers_dataset.csv": (
        "customer_id", "customer_unique_id", "customer_zip_code_prefix", "customer_city", "customer_state"),
    "olist_orders_dataset.csv": (
        "order_id", "customer_id", "order_status", "order_purchase_timestamp", "order_approved_at",
        "order_delivered_carrier_date", "order_delivered_customer_date", "order_estimated_delivery_date"),
    "olist_order_items_dataset.csv": (
        "order_id", "order_item_id", "product_id", "seller_id", "shipping_limit_date", "price",
        "freight_value"),
    "olist_order_payments_dataset.csv": (
        "order_id", "payment_sequential", "payment_type", "payment_installments", "payment_value"),
    "olist_order_reviews_dataset.csv": (
        "review_id", "order_id", "review_score", "review_comment_title", "review_comment_message",
        "review_creation_date", "review_answer_timestamp"),
    "olist_products_dataset.csv": (
        "product_id", "product_category_name", "product_name_lenght", "product_description_lenght",
        "product_photos_qty", "product_weight_g", "product_length_cm", "product_height_cm",
        "product_width_cm"),
    "olist_sellers_dataset.csv": ("seller_id", "seller_zip_code_prefix", "seller_city", "seller_state"),
    "olist_geolocation_dataset.csv": (
        "geolocation_zip_code_prefix", "geolocation_lat", "geolocation_lng", "geolocation_city",
        "geolocation_state"),
    "product_category_name_translation.csv": ("product_category_name", "product_category_name_english"),
}

_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_HEX32 = re.compile(r"[0-9a-f]{32}")
_UNDELIVERED_RATE = 0.03
_SPLIT_PAYMENT_RATE = 0.04
_REVIEW_RATE = 0.99


def write_flat_log(store: DemoStore, path: str | Path) -> Path:
    """Write ``store.transactions`` (dirt included) to ``path``: CSV or Parquet, chosen by the suffix."""
    out = Path(path)
    suffix = out.suffix.lower()
    if suffix not in {".csv", ".parquet"}:
        raise ClvlensError(f"{out}: unsupported suffix {out.suffix!r}; use .csv or .parquet")
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        store.transactions.to_csv(out, index=False, date_format=_TIME_FORMAT, lineterminator="\n")
    else:
        store.transactions.to_parquet(out, index=False)
    return out


def _as_hex(values: np.ndarray, salt: str, seed: int) -> np.ndarray:
    """Map ids to 32-hex ids: ids already in that form are kept, others are hashed with the seed."""
    return np.array([v if _HEX32.fullmatch(v) else hashlib.md5(f"{seed}:{salt}:{v}".encode()).hexdigest()
                     for v in values], dtype=object)


def _fmt(ns: np.ndarray) -> pd.Series:
    """Format int64 nanosecond times (``NaT`` for negative) as Olist timestamps; missing stays empty."""
    times = pd.Series(pd.to_datetime(np.where(ns >= 0, ns, np.iinfo(np.int64).min)))
    return times.dt.strftime(_TIME_FORMAT)


def _write(frame: pd.DataFrame, path: Path) -> None:
    """Write an Olist CSV: quoted header row (as in the public files), unquoted LF-terminated data."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(",".join(f'"{c}"' for c in frame.columns) + "\n")
        frame.to_csv(handle, index=False, header=False, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)


def _places(rng: np.random.Generator, states: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pick a city and zip-code prefix in each given state; returns (zip prefix, city, city key)."""
    n = states.size
    zips = np.empty(n, dtype=object)
    cities = np.empty(n, dtype=object)
    keys = np.empty(n, dtype=object)
    for state in np.unique(states):
        rows = np.flatnonzero(states == state)
        options = ref.CITIES[state]
        w = np.array([o[5] for o in options])
        pick = rng.choice(len(options), size=rows.size, p=w / w.sum())
        for j, (city, lo, hi, _, _, _) in enumerate(options):
            chosen = rows[pick == j]
            zips[chosen] = [f"{z:05d}" for z in rng.integers(lo, hi + 1, size=chosen.size)]
            cities[chosen] = city
            keys[chosen] = f"{state}|{j}"
    return zips, cities, keys


def write_olist_folder(store: DemoStore, folder: str | Path) -> Path:
    """Write the clean orders of ``store`` as the nine CSVs of the Olist public data set into ``folder``.

    The files carry the real Olist names and columns (including Olist's ``lenght`` misspelling); see the
    module docstring for how orders, freight and payments map to the flat log. Deterministic per seed.
    """
    out = Path(folder)
    if out.exists() and not out.is_dir():
        raise ClvlensError(f"{out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    seed = store.truth.seed
    rng = np.random.default_rng([seed, 2])
    clean = store.clean
    cat = store.catalogue
    end_ns = store.truth.observation_end.value
    day = 86_400 * 10**9

    # Products and sellers.
    product_ids = _as_hex(cat.item_id.to_numpy(dtype=object), "product", seed)
    item_pos = {v: i for i, v in enumerate(cat.item_id.to_numpy(dtype=object))}
    n_items = len(cat)
    n_sellers = max(20, n_items // 3)
    seller_ids = hex_ids(rng, n_sellers)
    seller_w = np.array(list(ref.STATE_SHARES.values())) ** 1.5
    seller_states = np.array(list(ref.STATE_SHARES), dtype=object)[
        rng.choice(seller_w.size, size=n_sellers, p=seller_w / seller_w.sum())]
    seller_zip, seller_city, seller_key = _places(rng, seller_states)
    product_seller = rng.integers(0, n_sellers, size=n_items)
    english_to_pt = {en: pt for en, (pt, _) in ref.CATEGORIES.items()}
    price = cat.unit_price.to_numpy()
    weight = np.rint(np.clip(price * rng.lognormal(2.0, 0.6, n_items), 50, 30_000)).astype(int)
    side = np.clip(np.rint(np.cbrt(weight) * rng.uniform(1.2, 2.5, (3, n_items))), 2, 105).astype(int)
    products = pd.DataFrame({
        "product_id": product_ids,
        "product_category_name": [english_to_pt.get(c, c) for c in cat.category],
        "product_name_lenght": [len(n) + int(x) for n, x in zip(cat.item_name, rng.integers(10, 35, n_items),
                                                                strict=True)],
        "product_description_lenght": rng.integers(120, 2500, n_items),
        "product_photos_qty": rng.choice([1, 1, 1, 2, 2, 3, 4, 5, 6], n_items),
        "product_weight_g": weight,
        "product_length_cm": side[0], "product_height_cm": side[1], "product_width_cm": side[2],
    })

    # Delivered (generative) orders from the clean log.
    codes, uniques = pd.factorize(clean.order_id, sort=False)
    n_del = uniques.size
    heads = np.zeros(n_del, dtype=np.int64)
    heads[codes[::-1]] = np.arange(codes.size)[::-1]
    o_person = clean.customer_id.to_numpy(dtype=object)[heads]
    o_time = clean.timestamp.to_numpy().astype("datetime64[ns]").astype(np.int64)[heads]
    o_flat_id = uniques.to_numpy(dtype=object)
    l_order = codes
    l_item = np.array([item_pos[v] for v in clean.item_id.to_numpy(dtype=object)])
    l_qty = clean.quantity.to_numpy()
    l_unit = np.rint(clean.unit_price.to_numpy() * 100).astype(np.int64)

    # Extra undelivered orders by existing customers, after their first purchase.
    people = store.customers
    n_extra = max(1, round(_UNDELIVERED_RATE * n_del))
    who = rng.integers(0, len(people), size=n_extra)
    first_ns = people.first_purchase.to_numpy().astype("datetime64[ns]").astype(np.int64)[who]
    e_time = first_ns + (rng.random(n_extra) * (end_ns - first_ns)).astype(np.int64) // 10**9 * 10**9
    statuses = np.array(list(ref.OLIST_UNDELIVERED_STATUSES), dtype=object)
    sw = np.array(list(ref.OLIST_UNDELIVERED_STATUSES.values()))
    e_status = statuses[rng.choice(sw.size, size=n_extra, p=sw / sw.sum())]
    e_lines = rng.choice([1, 2], size=n_extra, p=[0.85, 0.15])
    e_lines[e_status == "unavailable"] = 0
    e_order = np.repeat(np.arange(n_extra), e_lines) + n_del
    e_item = rng.integers(0, n_items, size=e_order.size)
    e_unit = np.rint(price[e_item] * 100).astype(np.int64)

    n_all = n_del + n_extra
    person = np.concatenate([o_person, people.customer_id.to_numpy(dtype=object)[who]])
    status = np.concatenate([np.full(n_del, "delivered", dtype=object), e_status])
    purchase = np.concatenate([o_time, e_time])
    flat_ids = np.concatenate([o_flat_id, np.array([f"undelivered-{i}" for i in range(n_extra)], dtype=object)])
    order_ids = _as_hex(flat_ids, "order", seed)
    l_order = np.concatenate([l_order, e_order])
    l_item = np.concatenate([l_item, e_item])
    l_qty = np.concatenate([l_qty, np.ones(e_order.size, dtype=np.int64)])
    l_unit = np.concatenate([l_unit, e_unit])

    # Order timeline.
    approved = purchase + rng.exponential(10 * 3600, n_all).astype(np.int64) * 10**9 + 60 * 10**9
    approved[status == "created"] = -1
    carrier = approved + ((0.5 + rng.gamma(2.0, 1.0, n_all)) * day).astype(np.int64) // 10**9 * 10**9
    carrier[~np.isin(status, ["delivered", "shipped"])] = -1
    delivered = carrier + ((1.0 + rng.gamma(2.5, 3.0, n_all)) * day).astype(np.int64) // 10**9 * 10**9
    delivered[status != "delivered"] = -1
    estimated = (purchase // day + rng.integers(15, 45, n_all)) * day

    # Customers: one customer_id per order, the person is customer_unique_id.
    unique_people, person_code = np.unique(person.astype(str), return_inverse=True)
    region_of = dict(zip(people.customer_id.to_numpy(dtype=object), people.region.to_numpy(dtype=object),
                         strict=True))
    person_state = np.array([region_of[p] for p in unique_people], dtype=object)
    person_zip, person_city, person_key = _places(rng, person_state)
    per_order_customer = hex_ids(rng, n_all)
    unique_ids = _as_hex(unique_people.astype(object), "customer", seed)
    customers = pd.DataFrame({
        "customer_id": per_order_customer, "customer_unique_id": unique_ids[person_code],
        "customer_zip_code_prefix": person_zip[person_code], "customer_city": person_city[person_code],
        "customer_state": person_state[person_code],
    })
    orders = pd.DataFrame({
        "order_id": order_ids, "customer_id": per_order_customer, "order_status": status,
        "order_purchase_timestamp": _fmt(purchase), "order_approved_at": _fmt(approved),
        "order_delivered_carrier_date": _fmt(carrier), "order_delivered_customer_date": _fmt(delivered),
        "order_estimated_delivery_date": _fmt(estimated),
    })

    # Items: one row per unit; freight is carved out of the unit price so price + freight = unit price.
    unit_rows = np.repeat(np.arange(l_order.size), l_qty)
    i_order = l_order[unit_rows]
    i_item = l_item[unit_rows]
    i_unit = l_unit[unit_rows]
    rank = np.lexsort((unit_rows, i_order))
    i_order, i_item, i_unit = i_order[rank], i_item[rank], i_unit[rank]
    starts = np.searchsorted(i_order, i_order, side="left")
    item_no = np.arange(i_order.size) - starts + 1
    freight_share = rng.uniform(0.06, 0.22, n_all)[i_order]
    freight = np.clip(np.rint(i_unit * freight_share), 0, i_unit - 1).astype(np.int64)
    limit = np.where(approved >= 0, approved, purchase)[i_order] + 6 * day
    items = pd.DataFrame({
        "order_id": order_ids[i_order], "order_item_id": item_no, "product_id": product_ids[i_item],
        "seller_id": seller_ids[product_seller[i_item]], "shipping_limit_date": _fmt(limit),
        "price": (i_unit - freight) / 100.0, "freight_value": freight / 100.0,
    })

    # Payments: per order they sum to the order total (items + freight); a few split voucher + card.
    total = np.bincount(l_order, weights=l_unit * l_qty, minlength=n_all).astype(np.int64)
    empty = total == 0  # unavailable orders without items still record what was charged
    total[empty] = rng.integers(2_000, 30_000, size=int(empty.sum()))
    types = np.array(list(ref.PAYMENT_TYPES), dtype=object)
    tw = np.array(list(ref.PAYMENT_TYPES.values()))
    p_type = types[rng.choice(tw.size, size=n_all, p=tw / tw.sum())]
    installments = np.where(p_type == "credit_card", rng.choice(np.arange(1, 11), size=n_all,
                            p=np.array([10, 3, 2.5, 2, 1.5, 1, 0.5, 0.8, 0.2, 1.5]) / 23.0), 1)
    split = (rng.random(n_all) < _SPLIT_PAYMENT_RATE) & (total >= 200)
    first_part = np.where(split, np.maximum(1, np.rint(total * rng.uniform(0.1, 0.6, n_all))), total)
    pay_order = np.concatenate([np.arange(n_all), np.flatnonzero(split)])
    pay_seq = np.concatenate([np.ones(n_all, dtype=np.int64), np.full(int(split.sum()), 2)])
    pay_type = np.concatenate([np.where(split, "voucher", p_type), np.full(int(split.sum()), "credit_card")])
    pay_inst = np.concatenate([np.where(split, 1, installments), installments[split].clip(1)])
    pay_cents = np.concatenate([first_part, (total - first_part)[split]]).astype(np.int64)
    sort = np.lexsort((pay_seq, pay_order))
    payments = pd.DataFrame({
        "order_id": order_ids[pay_order[sort]], "payment_sequential": pay_seq[sort],
        "payment_type": pay_type[sort], "payment_installments": pay_inst[sort],
        "payment_value": pay_cents[sort] / 100.0,
    })

    # Reviews: almost every order; undelivered orders score low.
    reviewed = np.flatnonzero(rng.random(n_all) < _REVIEW_RATE)
    scores = np.array(list(ref.REVIEW_SCORES))
    sp = np.array(list(ref.REVIEW_SCORES.values()))
    score = scores[rng.choice(scores.size, size=reviewed.size, p=sp / sp.sum())]
    score[(status[reviewed] != "delivered") & (rng.random(reviewed.size) < 0.7)] = 1
    has_title = rng.random(reviewed.size) < 0.12
    has_text = rng.random(reviewed.size) < 0.41
    pick = rng.integers(0, 3, size=reviewed.size)
    titles = [ref.REVIEW_TITLES[s][j % len(ref.REVIEW_TITLES[s])] if t else None
              for s, j, t in zip(score, pick, has_title, strict=True)]
    texts = [ref.REVIEW_COMMENTS[s][j % len(ref.REVIEW_COMMENTS[s])] if t else None
             for s, j, t in zip(score, pick, has_text, strict=True)]
    basis = np.where(delivered >= 0, delivered, estimated)[reviewed]
    created = (basis // day + 1) * day
    answered = created + ((0.2 + rng.gamma(1.5, 1.5, reviewed.size)) * day).astype(np.int64) // 10**9 * 10**9
    reviews = pd.DataFrame({
        "review_id": hex_ids(rng, reviewed.size), "order_id": order_ids[reviewed], "review_score": score,
        "review_comment_title": titles, "review_comment_message": texts,
        "review_creation_date": _fmt(created), "review_answer_timestamp": _fmt(answered),
    })

    sellers = pd.DataFrame({"seller_id": seller_ids, "seller_zip_code_prefix": seller_zip,
                            "seller_city": seller_city, "seller_state": seller_states})

    # Geolocation: one to three points per zip prefix near its city centre.
    city_table = {f"{s}|{j}": o for s, options in ref.CITIES.items() for j, o in enumerate(options)}
    places = pd.DataFrame({"zip": np.concatenate([person_zip, seller_zip]),
                           "key": np.concatenate([person_key, seller_key]),
                           "state": np.concatenate([person_state, seller_states])}).drop_duplicates("zip")
    places = places.sort_values("zip", kind="stable")
    reps = rng.integers(1, 4, size=len(places))
    geo_zip = np.repeat(places.zip.to_numpy(dtype=object), reps)
    geo_key = np.repeat(places.key.to_numpy(dtype=object), reps)
    geo = pd.DataFrame({
        "geolocation_zip_code_prefix": geo_zip,
        "geolocation_lat": np.round([city_table[k][3] for k in geo_key] + rng.normal(0, 0.04, geo_zip.size), 8),
        "geolocation_lng": np.round([city_table[k][4] for k in geo_key] + rng.normal(0, 0.04, geo_zip.size), 8),
        "geolocation_city": [city_table[k][0] for k in geo_key],
        "geolocation_state": np.repeat(places.state.to_numpy(dtype=object), reps),
    })

    frames = {
        "olist_customers_dataset.csv": customers.iloc[rng.permutation(n_all)],
        "olist_orders_dataset.csv": orders.iloc[rng.permutation(n_all)],
        "olist_order_items_dataset.csv": items.sort_values(["order_id", "order_item_id"], kind="stable"),
        "olist_order_payments_dataset.csv": payments.iloc[rng.permutation(len(payments))],
        "olist_order_reviews_dataset.csv": reviews.iloc[rng.permutation(len(reviews))],
        "olist_products_dataset.csv": products,
        "olist_sellers_dataset.csv": sellers,
        "olist_geolocation_dataset.csv": geo,
    }
    for name, frame in frames.items():
        _write(frame[list(OLIST_FILES[name])], out / name)
    used = sorted(set(products.product_category_name))
    pt_to_en = {pt: en for en, (pt, _) in ref.CATEGORIES.items()}
    rows = ["product_category_name,product_category_name_english", *(f"{c},{pt_to_en.get(c, c)}" for c in used)]
    with (out / "product_category_name_translation.csv").open("w", encoding="utf-8-sig", newline="") as handle:
        handle.write("\r\n".join(rows) + "\r\n")
    return out
