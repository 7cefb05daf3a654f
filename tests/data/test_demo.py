"""Tests for the synthetic demo store (clvlens.data.demo)."""

from __future__ import annotations

import gzip
import time
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import hyp2f1

from clvlens.data.demo import (
    OLIST_FILES,
    TRANSACTION_COLUMNS,
    DemoStore,
    generate_demo_store,
    write_flat_log,
    write_olist_folder,
)
from clvlens.errors import ClvlensError

REAL_OLIST = Path("/work/shared/datasets/olist")


@pytest.fixture(scope="module")
def store() -> DemoStore:
    return generate_demo_store()


@pytest.fixture(scope="module")
def olist_store() -> DemoStore:
    return generate_demo_store(olist_like=True)


@pytest.fixture(scope="module")
def olist_folder(store: DemoStore, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_olist_folder(store, tmp_path_factory.mktemp("olist"))


def _remove_dirt(log: pd.DataFrame) -> pd.DataFrame:
    """The documented cleaning recipe, applied from the data alone."""
    cancel = log.order_id.str.startswith("C")
    cancelled = set(log.order_id[cancel].str[1:])
    keep = ~cancel & ~log.order_id.isin(cancelled) & log.customer_id.notna() & (log.unit_price > 0)
    return log[keep].drop_duplicates().reset_index(drop=True)


def _expected_repeats(t: np.ndarray, r: float, alpha: float, a: float, b: float) -> np.ndarray:
    """BG/NBD E[X(t)], Fader, Hardie & Lee (2005) eq. 9."""
    z = t / (alpha + t)
    return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, z))


def _horizon_weeks(s: DemoStore) -> np.ndarray:
    return ((s.truth.observation_end - s.customers.first_purchase).dt.total_seconds() / 604800).to_numpy()


def test_same_seed_gives_identical_store() -> None:
    one, two = generate_demo_store(1500, seed=3), generate_demo_store(1500, seed=3)
    pd.testing.assert_frame_equal(one.transactions, two.transactions)
    pd.testing.assert_frame_equal(one.customers, two.customers)
    pd.testing.assert_frame_equal(one.catalogue, two.catalogue)
    assert one.truth == two.truth


def test_other_seed_changes_store() -> None:
    one, two = generate_demo_store(1500, seed=3), generate_demo_store(1500, seed=4)
    assert not one.transactions.equals(two.transactions)
    assert not np.allclose(one.customers["lambda"], two.customers["lambda"])


def test_canonical_columns_and_types(store: DemoStore) -> None:
    log = store.transactions
    assert tuple(log.columns) == TRANSACTION_COLUMNS
    assert str(log.timestamp.dtype).startswith("datetime64") and log.timestamp.dt.tz is None
    assert pd.api.types.is_integer_dtype(log.quantity)
    assert pd.api.types.is_float_dtype(log.amount) and pd.api.types.is_float_dtype(log.unit_price)
    for column in ("customer_id", "order_id", "item_id", "item_name", "category", "region", "channel"):
        assert pd.api.types.is_string_dtype(log[column]), column
    assert set(log.channel) == {"web", "app", "marketplace"}
    assert log.timestamp.min() >= store.truth.start
    assert log.timestamp.max() <= store.truth.observation_end
    assert (log.timestamp.dt.hour.nunique()) == 24
    assert set(store.catalogue.columns) >= {"item_id", "item_name", "category", "unit_price"}
    assert 180 <= len(store.catalogue) <= 220 and store.catalogue.category.nunique() == 12


def test_default_shop_shape(store: DemoStore) -> None:
    t = store.truth
    assert t.time_unit == "W" and t.n_customers == 5000 == len(store.customers)
    assert set(t.bgnbd) == {"r", "alpha", "a", "b"} and set(t.gamma_gamma) == {"p", "q", "gamma"}
    assert 0.30 <= (store.customers.n_repeat > 0).mean() <= 0.40
    assert store.clean.order_id.nunique() == t.n_orders == len(store.customers) + store.customers.n_repeat.sum()
    first = store.clean.groupby("customer_id").timestamp.min()
    pd.testing.assert_series_equal(
        first.sort_index(), store.customers.set_index("customer_id").first_purchase.sort_index(),
        check_names=False)
    per_month = store.clean.groupby(store.clean.timestamp.dt.to_period("M")).customer_id.nunique()
    assert len(per_month) == 24


def test_olist_like_shop(olist_store: DemoStore) -> None:
    t = olist_store.truth
    assert t.start == pd.Timestamp("2016-09-04") and t.observation_end.normalize() == pd.Timestamp("2018-10-17")
    assert 0.02 <= (olist_store.customers.n_repeat > 0).mean() <= 0.045
    assert olist_store.clean.customer_id.str.fullmatch(r"[0-9a-f]{32}").all()
    assert olist_store.clean.order_id.str.fullmatch(r"[0-9a-f]{32}").all()


def test_regions(store: DemoStore) -> None:
    revenue = store.clean.groupby("region").amount.sum().sort_values(ascending=False)
    assert revenue.index[0] == "SP" == store.truth.strongest_region
    assert revenue[["SP", "RJ", "MG"]].sum() / revenue.sum() > 0.5
    assert revenue.size >= 20


def test_planted_pairs_lift(store: DemoStore) -> None:
    baskets = store.clean.groupby("order_id").item_id.agg(frozenset)
    n = len(baskets)
    assert 3 <= len(store.truth.planted_pairs) <= 5
    for a, b in store.truth.planted_pairs:
        has_a = baskets.map(lambda s, a=a: a in s)
        has_b = baskets.map(lambda s, b=b: b in s)
        both = (has_a & has_b).sum()
        assert has_a.sum() >= 30, (a, has_a.sum())
        lift = both * n / (has_a.sum() * has_b.sum())
        assert lift > 3, (a, b, lift)
    # an ordinary pair of frequent items shows no such lift
    counts = store.clean.item_id.value_counts()
    planted = {x for pair in store.truth.planted_pairs for x in pair}
    frequent = [i for i in counts.index if i not in planted][:6]
    lifts = []
    for a, b in combinations(frequent, 2):
        has_a = baskets.map(lambda s, a=a: a in s)
        has_b = baskets.map(lambda s, b=b: b in s)
        lifts.append((has_a & has_b).sum() * n / (has_a.sum() * has_b.sum()))
    assert np.median(lifts) < 3


def test_order_totals_are_gamma_gamma_draws(store: DemoStore) -> None:
    clean = store.clean
    assert (clean.quantity > 0).all() and (clean.unit_price > 0).all()
    assert np.allclose(clean.amount, (clean.quantity * clean.unit_price).round(2), atol=1e-9)
    cents = np.rint(clean.unit_price * 100) * clean.quantity
    assert np.allclose(cents / 100, clean.amount)
    sizes = clean.groupby("order_id").size()
    assert sizes.between(1, 4).all() and (sizes > 1).mean() > 0.2
    assert not clean.duplicated(["order_id", "item_id"]).any()
    totals = clean.groupby("order_id").amount.sum()
    assert (totals > 0).all()
    gg = store.truth.gamma_gamma
    expected = gg["p"] * gg["gamma"] / (gg["q"] - 1)
    assert abs(totals.mean() / expected - 1) < 0.08
    assert 120 <= totals.median() <= 250


def test_dirt_counts_match_rows(store: DemoStore) -> None:
    log, dirt = store.transactions, store.truth.dirt
    cancel = log.order_id.str.startswith("C")
    assert dirt["cancellations"] == cancel.sum() > 0
    assert dirt["cancelled_originals"] == log.order_id.isin(set(log.order_id[cancel].str[1:])).sum() > 0
    assert dirt["missing_customer"] == log.customer_id.isna().sum() > 0
    assert dirt["duplicates"] == log.duplicated().sum() > 0
    assert dirt["zero_price"] == (log.unit_price == 0).sum() > 0
    assert len(log) == len(store.clean) + sum(dirt.values())
    assert 0.01 <= sum(dirt.values()) / len(log) <= 0.03
    cancellations = log[cancel]
    assert (cancellations.quantity < 0).all() and (cancellations.amount < 0).all()
    assert (cancellations.unit_price > 0).all()
    original_time = log.groupby("order_id").timestamp.first()
    assert (cancellations.timestamp.to_numpy() > original_time[cancellations.order_id.str[1:]].to_numpy()).all()


def test_removing_dirt_gives_back_clean(store: DemoStore) -> None:
    pd.testing.assert_frame_equal(_remove_dirt(store.transactions), store.clean)
    no_dirt = generate_demo_store(800, seed=11, dirt=False)
    assert sum(no_dirt.truth.dirt.values()) == 0
    pd.testing.assert_frame_equal(no_dirt.transactions, no_dirt.clean)


def test_bgnbd_moments_match_truth() -> None:
    s = generate_demo_store(20000, seed=5)
    t, x, bg = _horizon_weeks(s), s.customers.n_repeat.to_numpy(), s.truth.bgnbd
    p_zero = np.mean((bg["alpha"] / (bg["alpha"] + t)) ** bg["r"])
    share_zero = np.mean(x == 0)
    assert abs(share_zero - p_zero) < 4 * np.sqrt(p_zero * (1 - p_zero) / x.size)
    expected = np.mean(_expected_repeats(t, **bg))
    assert abs(x.mean() - expected) < 4 * x.std() / np.sqrt(x.size)
    long = t > 80
    assert abs(x[long].mean() / np.mean(_expected_repeats(t[long], **bg)) - 1) < 0.1
    # latent values follow their priors
    c = s.customers
    assert abs(c["lambda"].mean() / (bg["r"] / bg["alpha"]) - 1) < 0.08
    assert abs(c["p"].mean() / (bg["a"] / (bg["a"] + bg["b"])) - 1) < 0.05
    # dropout only follows a repeat purchase, so customers without one are still alive
    assert ((c.n_repeat > 0) | c.alive).all()


def test_flat_log_round_trip(store: DemoStore, tmp_path: Path) -> None:
    csv_path = write_flat_log(store, tmp_path / "log.csv")
    back = pd.read_csv(csv_path, dtype={"customer_id": "str", "order_id": "str"}, parse_dates=["timestamp"])
    assert list(back.columns) == list(TRANSACTION_COLUMNS) and len(back) == len(store.transactions)
    assert back.customer_id.isna().sum() == store.truth.dirt["missing_customer"]
    assert np.allclose(back.amount, store.transactions.amount)
    pq = write_flat_log(store, tmp_path / "sub" / "log.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(pq), store.transactions, check_dtype=False)
    with pytest.raises(ClvlensError, match="suffix"):
        write_flat_log(store, tmp_path / "log.xlsx")


def test_olist_folder_files_and_columns(olist_folder: Path) -> None:
    assert sorted(p.name for p in olist_folder.iterdir()) == sorted(OLIST_FILES)
    for name, columns in OLIST_FILES.items():
        header = pd.read_csv(olist_folder / name, nrows=0, encoding="utf-8-sig")
        assert tuple(header.columns) == columns, name
    raw = (olist_folder / "product_category_name_translation.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw.count(b"\r\n") == raw.count(b"\n") > 10


def test_olist_columns_match_real_files(olist_folder: Path) -> None:
    if not REAL_OLIST.is_dir():
        pytest.skip(f"real Olist sample not available at {REAL_OLIST}")
    real = sorted(REAL_OLIST.glob("*.csv.gz"))
    if not real:
        pytest.skip(f"no *.csv.gz in {REAL_OLIST}")
    for path in real:
        name = path.name.removesuffix(".gz")
        with gzip.open(path, "rb") as handle:
            real_head = handle.read(4096)
        ours = (olist_folder / name).read_bytes()[:4096]
        real_cols = list(pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns)
        our_cols = list(pd.read_csv(olist_folder / name, nrows=0, encoding="utf-8-sig").columns)
        assert our_cols == real_cols, name
        assert real_head.startswith(b"\xef\xbb\xbf") == ours.startswith(b"\xef\xbb\xbf"), name
        assert (b"\r\n" in real_head) == (b"\r\n" in ours), name


def test_olist_folder_content(store: DemoStore, olist_folder: Path) -> None:
    read = {name: pd.read_csv(olist_folder / name, dtype=str, keep_default_na=False) for name in OLIST_FILES
            if not name.startswith("product_category")}
    orders = read["olist_orders_dataset.csv"]
    items = read["olist_order_items_dataset.csv"].astype({"price": float, "freight_value": float})
    payments = read["olist_order_payments_dataset.csv"].astype({"payment_value": float})
    customers = read["olist_customers_dataset.csv"]
    for frame in read.values():
        for column in frame.columns:
            if column.endswith("_id") and column != "order_item_id":
                assert frame[column].str.fullmatch(r"[0-9a-f]{32}").all(), column
    assert orders.order_id.is_unique and orders.customer_id.is_unique
    assert set(orders.customer_id) == set(customers.customer_id)
    assert 0.95 <= (orders.order_status == "delivered").mean() <= 0.99
    assert {"shipped", "canceled", "unavailable"} <= set(orders.order_status)
    assert (orders.order_delivered_customer_date[orders.order_status != "delivered"] == "").all()
    assert orders.order_purchase_timestamp.str.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d").all()
    paid = payments.groupby("order_id").payment_value.sum()
    item_total = (items.price + items.freight_value).groupby(items.order_id).sum()
    assert np.allclose(paid[item_total.index], item_total, atol=1e-6)
    assert (items.price > 0).all() and (items.freight_value >= 0).all()
    assert payments.payment_sequential.astype(int).max() == 2
    # keeping delivered orders gives back the generative order totals and customers
    delivered = orders.order_id[orders.order_status == "delivered"]
    ours = np.sort(paid[delivered].round(2).to_numpy())
    truth = np.sort(store.clean.groupby("order_id").amount.sum().round(2).to_numpy())
    assert np.allclose(ours, truth, atol=1e-6)
    people = customers.merge(orders[orders.order_status == "delivered"], on="customer_id")
    assert people.customer_unique_id.nunique() == store.clean.customer_id.nunique()
    assert people.groupby("customer_unique_id").customer_state.nunique().max() == 1
    state_share = people.customer_state.value_counts(normalize=True)
    assert state_share.index[0] == "SP"
    products = read["olist_products_dataset.csv"]
    assert set(items.product_id) <= set(products.product_id)
    assert "cama_mesa_banho" in set(products.product_category_name)
    assert set(items.seller_id) <= set(read["olist_sellers_dataset.csv"].seller_id)
    reviews = read["olist_order_reviews_dataset.csv"]
    assert set(reviews.review_score.astype(int)) <= {1, 2, 3, 4, 5} and len(reviews) > 0.95 * len(orders)


def test_olist_folder_is_deterministic(store: DemoStore, olist_folder: Path, tmp_path: Path) -> None:
    again = write_olist_folder(store, tmp_path / "again")
    for name in OLIST_FILES:
        assert (again / name).read_bytes() == (olist_folder / name).read_bytes(), name


def test_bad_arguments() -> None:
    with pytest.raises(ClvlensError, match="n_customers"):
        generate_demo_store(10)
    with pytest.raises(ClvlensError, match="n_customers"):
        generate_demo_store(100.5)  # type: ignore[arg-type]
    with pytest.raises(ClvlensError, match="unknown"):
        generate_demo_store(100, bgnbd={"beta": 1.0})
    with pytest.raises(ClvlensError, match="positive"):
        generate_demo_store(100, gamma_gamma={"p": -1.0})
    custom = generate_demo_store(300, bgnbd={"r": 1.0})
    assert custom.truth.bgnbd["r"] == 1.0 and custom.truth.bgnbd["alpha"] == 25.0


def test_default_generation_is_fast() -> None:
    t0 = time.perf_counter()
    generate_demo_store()
    assert time.perf_counter() - t0 < 2.0
