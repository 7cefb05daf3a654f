"""Cleaning rules and the row accounting invariant: input rows = kept + quarantined, on every data set."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from clvlens.data import CleaningRules, load_cdnow, load_transactions
from clvlens.errors import ClvlensError


def _assert_accounting(result) -> None:
    report = result.report
    assert report.input_rows == result.transactions.height + result.quarantine.height
    assert report.kept_rows == result.transactions.height
    assert report.quarantined_rows == result.quarantine.height
    counts = result.quarantine.group_by("reason").len()
    assert dict(counts.iter_rows()) == {reason: rows for reason, (rows, _) in report.by_reason.items()}
    # every input row appears exactly once, kept or quarantined
    rows = pl.concat([result.transactions.get_column("source_row"), result.quarantine.get_column("source_row")])
    assert rows.n_unique() == report.input_rows


LOG = """InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID
1001,A,2,2024-01-01 10:00:00,5.0,c1
1001,B,1,2024-01-01 10:00:00,3.0,c1
1002,A,4,2024-01-05 10:00:00,5.0,c2
C1003,A,-4,2024-01-06 10:00:00,5.0,c2
1004,A,1,2024-01-07 10:00:00,5.0,
1005,Z,1,2024-01-07 10:00:00,0.0,c3
1001,B,1,2024-01-01 10:00:00,3.0,c1
1006,A,1,2024-01-08 10:00:00,900.0,c3
C1007,Q,-1,2024-01-09 10:00:00,5.0,c1
"""


def test_every_rule_with_its_reason(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text(LOG)
    result = load_transactions(path, rules=CleaningRules(max_amount=500))
    reasons = dict(zip(result.quarantine["source_row"], result.quarantine["reason"], strict=True))
    assert reasons == {
        3: "cancelled_original",  # 1002 reversed by C1003 (same customer, item, quantity)
        4: "cancellation",
        5: "missing_customer",
        6: "nonpositive_amount",
        7: "duplicate",
        8: "outlier",
        9: "cancellation",  # cancels nothing we have: still not a purchase
    }
    assert result.transactions.get_column("source_row").to_list() == [1, 2]
    _assert_accounting(result)
    assert result.report.by_reason["cancellation"][1] == pytest.approx(-25.0)


def test_rules_can_be_switched_off(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text(LOG)
    lenient = CleaningRules(drop_duplicates=False, drop_cancelled_originals=False, drop_nonpositive=False)
    result = load_transactions(path, rules=lenient)
    assert set(result.quarantine["reason"]) == {"cancellation", "missing_customer"}
    _assert_accounting(result)


def test_outlier_quantile_cap(tmp_path: Path) -> None:
    lines = ["order_id,customer_id,timestamp,amount"]
    lines += [f"{i},c{i % 7},2024-01-{1 + i % 28:02d},{10 + i % 5}" for i in range(200)]
    lines.append("999,c1,2024-01-03,100000")
    path = tmp_path / "log.csv"
    path.write_text("\n".join(lines) + "\n")
    result = load_transactions(path, rules=CleaningRules(outlier_quantile=0.99))
    assert 201 in result.quarantine.filter(pl.col("reason") == "outlier")["source_row"].to_list()
    _assert_accounting(result)


def test_rule_settings_are_validated() -> None:
    with pytest.raises(ClvlensError, match="outlier_quantile"):
        CleaningRules(outlier_quantile=1.5)
    with pytest.raises(ClvlensError, match="max_amount"):
        CleaningRules(max_amount=-1)


def test_online_retail_accounting_and_published_counts(online_retail) -> None:
    _assert_accounting(online_retail)
    report = online_retail.report
    assert report.input_rows == 541_909
    assert report.by_reason["missing_customer"][0] == 135_080
    # all 9,288 cancellation lines are removed: those with a customer id as "cancellation",
    # the rest already as "missing_customer"
    quarantine = online_retail.quarantine
    c_lines = quarantine.filter(pl.col("order_id").str.starts_with("C"))
    assert c_lines.height + online_retail.transactions.filter(pl.col("order_id").str.starts_with("C")).height == 9_288
    assert online_retail.transactions.filter(pl.col("order_id").str.starts_with("C")).is_empty()
    kept = online_retail.transactions
    everyone = pl.concat([kept.get_column("customer_id"), quarantine.get_column("customer_id")]).drop_nulls()
    assert everyone.n_unique() == 4_372
    assert (kept.get_column("amount") > 0).all()
    assert kept.get_column("region").n_unique() == 37
    # the published total of Quantity x UnitPrice splits exactly into kept and quarantined amounts
    total = report.kept_amount + sum(amount for _, amount in report.by_reason.values())
    assert total == pytest.approx(9_747_747.93, abs=0.05)


def test_online_retail_customers_with_purchases(online_retail_csv: Path) -> None:
    from clvlens.data import load_online_retail

    # with the reversed purchases kept, the customers are exactly those with a line of positive quantity and
    # price (4,338; the often-quoted 4,339 also counts a customer whose only purchases were free)
    result = load_online_retail(online_retail_csv, rules=CleaningRules(drop_cancelled_originals=False))
    assert result.transactions.get_column("customer_id").n_unique() == 4_338
    _assert_accounting(result)


def test_cdnow_accounting(cdnow_sample: Path, cdnow_master: Path) -> None:
    sample = load_cdnow(cdnow_sample)
    _assert_accounting(sample)
    assert sample.report.input_rows == 6_919
    assert sample.transactions.get_column("customer_id").n_unique() == 2_357
    master = load_cdnow(cdnow_master)
    _assert_accounting(master)
    assert master.report.input_rows == 69_659
    assert master.transactions.get_column("customer_id").n_unique() == 23_570


def test_cdnow_malformed_line_is_quarantined_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "cdnow.txt"
    path.write_text(" 00001 19970101  1   11.77\n 00002 19970112  1\n 00003 19970113  2   5.00\n")
    result = load_cdnow(path)
    _assert_accounting(result)
    assert result.transactions.height == 2
    bad = result.quarantine.row(0, named=True)
    assert (bad["source_row"], bad["reason"]) == (2, "malformed_row")
    assert bad["detail"].startswith("line 2: 3 fields")
    path.write_text(" 00001 19970101  1   11.77 x y\n")
    with pytest.raises(ClvlensError, match=r"cdnow.txt, line 1: expected 4 \(master\) or 5"):
        load_cdnow(path)


def test_demo_store_accounting_and_exact_recovery() -> None:
    from clvlens.data.demo import generate_demo_store

    store = generate_demo_store(n_customers=3000, seed=5)
    result = load_transactions(store.transactions)
    _assert_accounting(result)
    dirt = store.truth.dirt
    assert result.report.by_reason["cancellation"][0] == dirt["cancellations"]
    assert result.report.by_reason["cancelled_original"][0] == dirt["cancelled_originals"]
    assert result.report.by_reason["missing_customer"][0] == dirt["missing_customer"]
    assert result.report.by_reason["duplicate"][0] == dirt["duplicates"]
    # removing the dirt gives back exactly the generated clean log
    columns = ["customer_id", "order_id", "timestamp", "amount", "item_id"]
    kept = result.transactions.select(columns).sort(columns)
    clean = pl.from_pandas(store.clean).select(columns).with_columns(pl.col("timestamp").cast(pl.Datetime("us")))
    assert kept.equals(clean.sort(columns))


def test_cleaning_a_released_table_gives_the_same_rows_and_empties_it(online_retail_csv: Path) -> None:
    """`clean(..., release=True)` copies the kept rows a column at a time from a table the caller gave up: the
    same kept rows, quarantine and report as cleaning a table the caller keeps, which is left as it was."""
    from clvlens.data.canonical import to_canonical
    from clvlens.data.cleaning import clean
    from clvlens.data.readers import read_table

    canonical, _ = to_canonical(read_table(online_retail_csv), None)
    kept_by_caller = canonical.clone()
    held = clean(kept_by_caller, None)
    released = clean(canonical, None, release=True)
    assert canonical.width == 0  # given up: the caller's frame holds nothing any more
    assert kept_by_caller.width > 10 and kept_by_caller.height == held.report.input_rows
    assert released.transactions.equals(held.transactions)
    assert released.quarantine.equals(held.quarantine)
    assert released.report.to_frame().equals(held.report.to_frame())
    assert held.quarantine.height > 100_000 and held.transactions.height > 300_000
