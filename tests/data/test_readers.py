"""Readers and column mapping: delimiters, encodings, BOM, CRLF, in-memory frames, and malformed files."""

from __future__ import annotations

import gzip
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pytest

from clvlens.data import load_transactions
from clvlens.data.readers import sniff_delimiter
from clvlens.data.schema import resolve_columns
from clvlens.errors import ClvlensError

ROWS = [
    ("A1", "c1", "2024-01-05 10:00:00", "10.50"),
    ("A2", "c2", "2024-01-06 11:30:00", "20.00"),
    ("A3", "c1", "2024-02-01 09:15:00", "5.25"),
]


def _write(path: Path, delimiter: str = ",", encoding: str = "utf-8", newline: str = "\n", header=None) -> Path:
    header = header or ("order_id", "customer_id", "timestamp", "amount")
    lines = [delimiter.join(header)] + [delimiter.join(row) for row in ROWS]
    path.write_bytes((newline.join(lines) + newline).encode(encoding))
    return path


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiters_are_detected(tmp_path: Path, delimiter: str) -> None:
    result = load_transactions(_write(tmp_path / "log.csv", delimiter))
    assert result.transactions.height == 3
    assert result.transactions.get_column("amount").sum() == pytest.approx(35.75)


@pytest.mark.parametrize(("encoding", "newline"), [("utf-8-sig", "\r\n"), ("utf-8", "\r\n"), ("cp1252", "\n")])
def test_bom_crlf_and_legacy_encodings(tmp_path: Path, encoding: str, newline: str) -> None:
    path = tmp_path / "log.csv"
    header = ("order_id", "customer_id", "timestamp", "amount")
    text = newline.join([",".join(header), "A1,Zoë,2024-01-05,10.00", "A2,Bjørn,2024-01-06,3.00"]) + newline
    path.write_bytes(text.encode(encoding))
    result = load_transactions(path)
    assert result.transactions.columns[1] == "customer_id"
    assert sorted(result.transactions.get_column("customer_id").to_list()) == ["Bjørn", "Zoë"]


def test_gzip_csv(tmp_path: Path) -> None:
    plain = _write(tmp_path / "log.csv")
    packed = tmp_path / "log.csv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert load_transactions(packed).transactions.height == 3


def test_automatic_mapping_of_uci_names(tmp_path: Path) -> None:
    path = tmp_path / "uci.csv"
    path.write_text(
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "536365,85123A,HEART,6,12/1/2010 8:26,2.55,17850,United Kingdom\n"
        "536366,71053,LANTERN,2,12/13/2010 9:00,3.39,17850,United Kingdom\n"
    )
    frame = load_transactions(path).transactions
    assert frame.get_column("amount").to_list() == pytest.approx([15.3, 6.78])
    assert frame.get_column("region").to_list() == ["United Kingdom"] * 2
    # month-first dates, as in the UCI workbook: 12/13 can only be December 13th
    assert frame.get_column("timestamp").dt.month().to_list() == [12, 12]
    assert frame.get_column("timestamp").dt.day().to_list() == [1, 13]


def test_explicit_mapping_wins(tmp_path: Path) -> None:
    path = _write(tmp_path / "log.csv", header=("Beleg", "Kunde", "Datum", "Betrag"))
    result = load_transactions(
        path, mapping={"order_id": "Beleg", "customer_id": "Kunde", "timestamp": "Datum", "amount": "Betrag"}
    )
    assert result.transactions.height == 3


def test_mapping_to_absent_column_names_it() -> None:
    with pytest.raises(ClvlensError, match="mapped column 'Kunde'"):
        resolve_columns(["a", "b"], {"customer_id": "Kunde"})


@pytest.mark.parametrize(
    "kind",
    ["pandas", "polars", "polars_lazy", "arrow", "duckdb"],
)
def test_in_memory_frames(kind: str) -> None:
    base = pl.DataFrame(
        {
            "customer_id": ["c1", "c2", "c1"],
            "order_id": ["o1", "o2", "o3"],
            "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-03-01"]),
            "amount": [1.0, 2.0, 3.0],
        }
    )
    frames = {
        "pandas": base.to_pandas(),
        "polars": base,
        "polars_lazy": base.lazy(),
        "arrow": base.to_arrow(),
        "duckdb": duckdb.from_arrow(base.to_arrow()),
    }
    result = load_transactions(frames[kind])
    assert result.transactions.height == 3
    assert result.transactions.get_column("amount").sum() == 6.0


def test_parquet_and_excel(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "CustomerID": [17850.0, None, 13047.0],
            "InvoiceNo": ["1", "2", "3"],
            "InvoiceDate": pd.to_datetime(["2024-01-01 10:00", "2024-01-02 11:00", "2024-01-03 12:00"]),
            "Quantity": [2, 1, 3],
            "UnitPrice": [1.5, 2.0, 4.0],
        }
    )
    frame.to_parquet(tmp_path / "log.parquet")
    frame.to_excel(tmp_path / "log.xlsx", index=False)
    for name in ("log.parquet", "log.xlsx"):
        result = load_transactions(tmp_path / name)
        # pandas stored the ids as floats; they must come back as "17850", not "17850.0"
        assert result.transactions.get_column("customer_id").to_list() == ["17850", "13047"], name
        assert result.report.by_reason["missing_customer"][0] == 1
        assert result.transactions.get_column("amount").to_list() == [3.0, 12.0]


def test_sniffer_prefers_consistent_delimiter() -> None:
    assert sniff_delimiter("a;b;c\n1;2,5;3\n4;5,1;6\n") == ";"


# ---- malformed input: one clear line naming the file, never a traceback ----


def _single_line(exc: pytest.ExceptionInfo[ClvlensError]) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(ClvlensError) as exc:
        load_transactions(path)
    assert "empty.csv: empty file" in _single_line(exc)


def test_binary_garbage(tmp_path: Path) -> None:
    path = tmp_path / "garbage.csv"
    path.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(ClvlensError) as exc:
        load_transactions(path)
    assert "garbage.csv: binary data" in _single_line(exc)


def test_missing_column_names_field_and_candidates(tmp_path: Path) -> None:
    path = tmp_path / "nocust.csv"
    path.write_text("order_id,timestamp,amount\n1,2024-01-01,3\n")
    with pytest.raises(ClvlensError) as exc:
        load_transactions(path)
    message = _single_line(exc)
    assert "nocust.csv" in message and "'customer_id'" in message and "--map customer_id=" in message


def test_wrong_delimiter_is_explained(tmp_path: Path) -> None:
    path = _write(tmp_path / "semi.csv", ";")
    with pytest.raises(ClvlensError) as exc:
        load_transactions(path, delimiter=",")
    assert "delimiter" in _single_line(exc)


def test_bad_dates_are_quarantined_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "dates.csv"
    path.write_text(
        "order_id,customer_id,timestamp,amount\n1,c1,2024-01-01,3\n2,c1,not a date,4\n3,c2,,5\n4,c2,2024-02-30,1\n"
    )
    result = load_transactions(path)
    assert result.transactions.height == 1
    reasons = dict(zip(result.quarantine["source_row"], result.quarantine["reason"], strict=True))
    assert reasons == {2: "unparseable_timestamp", 3: "missing_timestamp", 4: "unparseable_timestamp"}


def test_unreadable_parquet_and_excel(tmp_path: Path) -> None:
    for name in ("bad.parquet", "bad.xlsx"):
        path = tmp_path / name
        path.write_bytes(b"PAR1 this is not really a file")
        with pytest.raises(ClvlensError) as exc:
            load_transactions(path)
        assert name in _single_line(exc)


def test_ragged_rows_are_quarantined_with_their_line(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("order_id,customer_id,timestamp,amount\n1,c1,2024-01-01,3\n2,c1,2024-01-02,4,extra,more\n")
    result = load_transactions(path)
    assert result.transactions.height == 1
    assert result.quarantine.select("source_row", "reason", "detail").row(0) == (
        2, "malformed_row", "line 3: 6 fields where the header has 4"
    )


def test_a_log_read_in_batches_arrives_in_one_chunk_per_column(tmp_path: Path, online_retail_csv: Path) -> None:
    """Polars copies every column an expression touches when a frame's columns are chunked differently (see
    clvlens.data._chunks): the cleaned tables must arrive with one chunk per column, whatever the read's batches."""
    from clvlens.data import load_online_retail

    raw = pl.read_csv(online_retail_csv, infer_schema_length=0)
    path = tmp_path / "retail.parquet"
    raw.write_parquet(path, row_group_size=50_000)  # several batches of the bounded Parquet reader
    result = load_online_retail(path)
    assert result.transactions.height + result.quarantine.height == raw.height
    for name, table in (("transactions", result.transactions), ("quarantine", result.quarantine)):
        assert set(table.n_chunks("all")) == {1}, name
    assert result.transactions.equals(load_online_retail(online_retail_csv).transactions)


def test_a_callers_chunked_frame_is_left_as_it_was() -> None:
    parts = [
        pl.DataFrame({"customer_id": [f"c{i}", f"c{i + 1}"], "order_id": [f"o{i}", f"o{i + 1}"],
                      "timestamp": ["2024-01-01", "2024-01-02"], "amount": [1.0, 2.0]})
        for i in range(0, 6, 2)
    ]
    frame = pl.concat(parts, rechunk=False)
    before = frame.n_chunks("all")
    result = load_transactions(frame)
    assert frame.n_chunks("all") == before == [3, 3, 3, 3]
    assert set(result.transactions.n_chunks("all")) == {1}
    assert result.transactions.get_column("amount").sum() == 9.0
