"""A simulated two-year order-line log at any size, written as gzip CSV and Parquet without holding it whole.

The shape follows issue 14's larger shop: about ten order lines per customer, 2,000 items with a long-tailed
popularity, 20 regions. Customers buy by a BG/NBD process (Fader, Hardie and Lee 2005: Poisson purchases while
alive, a coin flip after each purchase decides dropout), each first purchase uniform over the two years, so the log
has the one-time buyers, the regulars and the lapsed that a real shop has. Everything is drawn in blocks of
customers, so memory stays bounded at any size and the same seed gives the same file.

    python bench/scale_log.py --customers 1000000 --out /tmp/clvlens-scale
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

START = np.datetime64("2023-01-01T00:00:00", "s")
DAYS = 730
ITEMS = 2_000
REGIONS = 20
BLOCK = 100_000


@dataclass(frozen=True)
class Catalogue:
    popularity: np.ndarray  # probability of each item on an order line
    price: np.ndarray  # unit price of each item
    region_share: np.ndarray


def catalogue(rng: np.random.Generator) -> Catalogue:
    ranks = np.arange(1, ITEMS + 1)
    popularity = 1.0 / ranks**1.05
    price = np.round(np.exp(rng.normal(3.3, 0.8, ITEMS)) + 0.99, 2)
    share = rng.dirichlet(np.full(REGIONS, 1.5))
    return Catalogue(popularity / popularity.sum(), price, np.sort(share)[::-1])


def purchase_days(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(customer index, day) of every order of `n` customers, drawn by a BG/NBD process inside the window."""
    rate = rng.gamma(0.9, 1 / 45.0, n)  # orders per day while alive
    dropout = rng.beta(1.1, 3.5, n)
    day = rng.uniform(0, DAYS, n)
    owners, days = [np.arange(n)], [day.copy()]
    alive = np.arange(n)
    for _ in range(400):  # at most 400 repeat orders per customer: bounded whatever the draws
        alive = alive[rng.random(alive.size) >= dropout[alive]]
        day[alive] += rng.exponential(1.0 / rate[alive])
        alive = alive[day[alive] < DAYS]
        if alive.size == 0:
            break
        owners.append(alive)
        days.append(day[alive].copy())
    return np.concatenate(owners), np.concatenate(days)


def block_table(rng: np.random.Generator, cat: Catalogue, first_customer: int, n: int, first_order: int) -> pa.Table:
    owner, day = purchase_days(rng, n)
    orders = owner.size
    region = rng.choice(REGIONS, size=n, p=cat.region_share)
    lines = 1 + rng.poisson(1.9, orders)
    order_of_line = np.repeat(np.arange(orders), lines)
    item = rng.choice(ITEMS, size=order_of_line.size, p=cat.popularity)
    quantity = 1 + rng.poisson(0.3, order_of_line.size)
    price = cat.price[item]
    stamp = START + (day * 86_400).astype("int64").astype("timedelta64[s]")
    customer = owner[order_of_line]
    return pa.table({
        "customer_id": pa.array(np.char.add("C", (first_customer + customer).astype("U9"))),
        "order_id": pa.array(first_order + order_of_line),
        "timestamp": pa.array(stamp[order_of_line]),
        "item_id": pa.array(np.char.add("SKU", item.astype("U5"))),
        "quantity": pa.array(quantity),
        "unit_price": pa.array(price),
        "amount": pa.array(np.round(quantity * price, 2)),
        "region": pa.array(np.char.add("R", (1 + region[customer]).astype("U2"))),
    })


def write_log(customers: int, folder: Path, seed: int = 14) -> tuple[Path, Path, int]:
    """Write `scale_<customers>.parquet` and `.csv.gz` into `folder` (reused when present); returns paths and rows."""
    folder.mkdir(parents=True, exist_ok=True)
    parquet = folder / f"scale_{customers}.parquet"
    csv = folder / f"scale_{customers}.csv.gz"
    if parquet.exists() and csv.exists():
        return parquet, csv, pq.ParquetFile(parquet).metadata.num_rows
    rng = np.random.default_rng(seed)
    cat = catalogue(rng)
    rows, next_order = 0, 1
    parquet_part, csv_part = parquet.with_suffix(".part"), csv.with_suffix(".part")
    with pa.CompressedOutputStream(str(csv_part), "gzip") as csv_stream:
        parquet_writer: pq.ParquetWriter | None = None
        csv_writer: pacsv.CSVWriter | None = None
        for first in range(0, customers, BLOCK):
            table = block_table(rng, cat, first, min(BLOCK, customers - first), next_order)
            next_order = int(table.column("order_id")[-1].as_py()) + 1
            if parquet_writer is None:
                parquet_writer = pq.ParquetWriter(str(parquet_part), table.schema)
                csv_writer = pacsv.CSVWriter(csv_stream, table.schema)
            parquet_writer.write_table(table, row_group_size=1_000_000)
            assert csv_writer is not None
            csv_writer.write_table(table)
            rows += table.num_rows
        if parquet_writer is not None:
            parquet_writer.close()
        if csv_writer is not None:
            csv_writer.close()
    parquet_part.rename(parquet)
    csv_part.rename(csv)
    return parquet, csv, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=Path("/tmp/clvlens-scale"))
    args = parser.parse_args()
    parquet, csv, rows = write_log(args.customers, args.out)
    print(f"{rows:,} order lines from {args.customers:,} customers: {parquet} and {csv}")


if __name__ == "__main__":
    main()
