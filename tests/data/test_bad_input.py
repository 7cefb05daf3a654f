"""Regression tests for issue 10's data-layer defects: bombs, malformed rows, dates, ids, extreme values."""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

import polars as pl
import pytest

from clvlens.data import CleaningRules, detect_format, load_source, load_transactions
from clvlens.data._limits import ReadLimits, parse_size
from clvlens.data.formula_safety import neutralise_formulas
from clvlens.errors import ClvlensError

HEADER = "order_id,customer_id,timestamp,amount\n"


def _accounting(result) -> None:
    assert result.report.input_rows == result.transactions.height + result.quarantine.height
    rows = pl.concat([result.transactions["source_row"], result.quarantine["source_row"]]).sort()
    assert rows.to_list() == list(range(1, result.report.input_rows + 1))


def _one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


def _rows(count: int, day: int = 5) -> str:
    return "".join(f"o{i},c{i % 7},2024-01-{day:02d} 10:00:00,{10 + i}.50\n" for i in range(count))


def test_gzip_bomb_is_refused_by_ratio(tmp_path: Path) -> None:
    path = tmp_path / "bomb.csv.gz"
    with gzip.open(path, "wb", compresslevel=9) as handle:
        handle.write(HEADER.encode())
        block = b"o1,c1,2024-01-05,1.00\n" * 50_000
        for _ in range(100):  # 110 MB of text in ~0.2 MB
            handle.write(block)
    with pytest.raises(ClvlensError) as exc:
        load_transactions(path)
    assert "bomb.csv.gz" in _one_line(exc) and "max_expansion_ratio" in str(exc.value)


def test_gzip_size_limit_is_a_parameter(tmp_path: Path) -> None:
    path = tmp_path / "log.csv.gz"
    path.write_bytes(gzip.compress((HEADER + _rows(2000)).encode()))
    with pytest.raises(ClvlensError, match=r"log.csv.gz: decompresses to more than 10 KB"):
        load_transactions(path, limits=ReadLimits(max_decompressed_bytes=10 * 1024))
    assert load_transactions(path).transactions.height == 2000
    assert parse_size("16GB") == 16 << 30 and parse_size("500") == 500


def test_zip_input_is_streamed_and_bounded(tmp_path: Path) -> None:
    path = tmp_path / "log.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("log.csv", HEADER + _rows(50))
    assert load_transactions(path).transactions.height == 50
    with pytest.raises(ClvlensError, match=r"log.zip: its zip members hold"):
        load_transactions(path, limits=ReadLimits(max_decompressed_bytes=100))


def test_excel_bomb_is_refused_before_opening(tmp_path: Path) -> None:
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", "<row/>" * 5_000_000)  # 30 MB in ~30 KB
    with pytest.raises(ClvlensError) as exc:
        load_transactions(path)
    assert "bomb.xlsx" in _one_line(exc) and "expands" in str(exc.value)


def test_truncated_gzip_keeps_complete_rows_and_quarantines_the_cut_one(tmp_path: Path) -> None:
    data = gzip.compress((HEADER + _rows(3000)).encode())
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(data[: len(data) * 2 // 3])
    result = load_transactions(path)
    _accounting(result)
    last = result.quarantine.filter(pl.col("reason") == "malformed_row")
    assert last.height == 1 and "ends early" in last["detail"][0]
    assert 0 < result.transactions.height < 3000


def test_unbalanced_quote_costs_one_row(tmp_path: Path) -> None:
    body = _rows(10).splitlines(keepends=True)
    body[3] = 'o3,"c3,2024-01-05 10:00:00,13.50\n'
    path = tmp_path / "quote.csv"
    path.write_text(HEADER + "".join(body) + 'o99,"c, with comma",2024-01-06 10:00:00,1.00\n')
    result = load_transactions(path)
    _accounting(result)
    assert result.transactions.height == 10
    bad = result.quarantine.row(0, named=True)
    assert (bad["source_row"], bad["reason"]) == (4, "malformed_row") and bad["detail"].startswith("line 5")
    assert "c, with comma" in result.transactions["customer_id"].to_list()


def test_truncated_last_row_is_not_kept_with_a_wrong_amount(tmp_path: Path) -> None:
    text = HEADER + _rows(30)
    path = tmp_path / "cut.csv"
    path.write_text(text[:-3])  # "o29,c1,2024-01-05 10:00:00,39.50" loses "50\n": amount would read 39.
    result = load_transactions(path)
    _accounting(result)
    assert result.transactions.height == 29
    assert result.quarantine["reason"].to_list() == ["malformed_row"]
    # a genuine file without a final line break keeps its last row
    path.write_text(text[:-1])
    assert load_transactions(path).transactions.height == 30


def test_header_only_and_all_rejected_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_text(HEADER)
    with pytest.raises(ClvlensError, match=r"header.csv: header only, no data rows"):
        load_transactions(path)
    path = tmp_path / "rejected.csv"
    path.write_text(HEADER + "o1,c1,not a date,1\no2,c2,2024-01-01,abc\n")
    result = load_transactions(path)
    with pytest.raises(ClvlensError) as exc:
        result.require_transactions()
    assert "rejected.csv" in _one_line(exc) and "unparseable_timestamp 1" in str(exc.value)


def test_day_first_is_proved_by_any_value_in_the_column(tmp_path: Path) -> None:
    # the first 2,000 rows all have day <= 12; row 2,500 has day 25: the whole column is day-first
    lines = [f"o{i},c{i % 50},{1 + i % 12:02d}/03/2023,5.00\n" for i in range(2500)]
    lines.append("o9999,c1,25/03/2023,5.00\n")
    path = tmp_path / "dayfirst.csv"
    path.write_text(HEADER + "".join(lines))
    result = load_transactions(path)
    _accounting(result)
    assert result.quarantine.height == 0
    assert result.transactions["timestamp"].dt.month().unique().to_list() == [3]


def test_ambiguous_dates_are_refused_unless_settled(tmp_path: Path) -> None:
    path = tmp_path / "ambiguous.csv"
    path.write_text(HEADER + "o1,c1,03/04/2023,5\no2,c2,05/06/2023,5\n")
    with pytest.raises(ClvlensError) as exc:
        load_transactions(path)
    assert "ambiguous.csv" in _one_line(exc) and "--dayfirst" in str(exc.value) and "timestamp" in str(exc.value)
    assert load_transactions(path, dayfirst=True).transactions["timestamp"].dt.month().to_list() == [4, 6]
    assert load_transactions(path, dayfirst=False).transactions["timestamp"].dt.month().to_list() == [3, 5]
    assert load_transactions(path, date_format="%d/%m/%Y").transactions["timestamp"].dt.month().to_list() == [4, 6]
    # day == month everywhere: both orders give the same dates, nothing to ask
    path.write_text(HEADER + "o1,c1,03/03/2023,5\n")
    assert load_transactions(path).transactions.height == 1


def test_iso_timestamps_with_zones_become_utc(tmp_path: Path) -> None:
    path = tmp_path / "zones.csv"
    path.write_text(
        HEADER + "o1,c1,2024-01-05T10:00:00Z,5\no2,c1,2024-01-05T10:00:00+02:00,5\no3,c2,2024-01-05 10:00:00,5\n"
        "o4,c2,2024-01-05T10:00:00.250+0100,5\n"
    )
    result = load_transactions(path)
    assert result.quarantine.height == 0
    hours = result.transactions.sort("source_row")["timestamp"].dt.hour().to_list()
    assert hours == [10, 8, 10, 9]


def test_implausible_dates_are_quarantined(tmp_path: Path) -> None:
    path = tmp_path / "dates.csv"
    path.write_text(HEADER + "o1,c1,2024-01-05,5\no2,c1,2099-01-05,5\no3,c2,1900-01-01,5\n")
    result = load_transactions(path)
    _accounting(result)
    assert result.quarantine["reason"].to_list() == ["implausible_timestamp"] * 2
    relaxed = load_transactions(path, rules=CleaningRules(earliest_timestamp=None, future_days=None))
    assert relaxed.transactions.height == 3


def test_non_finite_and_huge_amounts_are_quarantined(tmp_path: Path) -> None:
    path = tmp_path / "amounts.csv"
    path.write_text(HEADER + "o1,c1,2024-01-05,5\no2,c1,2024-01-06,1e308\no3,c2,2024-01-06,inf\no4,c2,2024-01-07,NaN\n")
    result = load_transactions(path)
    _accounting(result)
    reasons = dict(zip(result.quarantine["source_row"], result.quarantine["reason"], strict=True))
    assert reasons == {2: "implausible_amount", 3: "nonfinite_amount", 4: "nonfinite_amount"}
    assert result.quarantine["amount"].is_finite().fill_null(True).all()
    report = result.report.to_frame()
    assert report["amount"].is_finite().all()


def test_numeric_tsv_with_header_is_not_cdnow(tmp_path: Path) -> None:
    path = tmp_path / "numbers.tsv"
    rows = "".join(f"{1000 + i}\t{i % 30}\t20240105\t{i}.5\n" for i in range(300))
    path.write_text("order_id\tcustomer_id\ttimestamp\tamount\n" + rows)
    assert detect_format(path) == "csv"
    result = load_source(path)
    assert result.transactions["customer_id"].n_unique() == 30
    cdnow = tmp_path / "cdnow.txt"
    cdnow.write_text(" 00001 19970101  1   11.77\n 00002 19970112  1   12.00\n")
    assert detect_format(cdnow) == "cdnow"


def test_source_row_column_of_the_input_is_renamed(tmp_path: Path) -> None:
    path = tmp_path / "ours.csv"
    path.write_text("source_row,order_id,customer_id,timestamp,amount\n77,o1,c1,2024-01-05,5\n78,o2,c1,2024-01-06,5\n")
    result = load_transactions(path)
    assert result.transactions["source_row"].to_list() == [1, 2]
    frame = pl.DataFrame({"source_row": [9, 9], "customer_id": ["a", "b"], "timestamp": ["2024-01-01"] * 2,
                          "amount": [1.0, 2.0]})
    assert load_transactions(frame).transactions["source_row"].to_list() == [1, 2]


def test_float_looking_ids_are_one_customer(tmp_path: Path) -> None:
    path = tmp_path / "ids.csv"
    path.write_text(HEADER + "o1,12345.0,2024-01-05,5\no2,12345,2024-01-06,5\no3.0,12346.50,2024-01-06,5\n")
    result = load_transactions(path)
    assert result.transactions["customer_id"].to_list() == ["12345", "12345", "12346.50"]
    assert result.transactions["order_id"].to_list() == ["o1", "o2", "o3.0"]
    parquet = tmp_path / "ids.parquet"
    pl.DataFrame({"customer_id": [12345.0, 12345.0], "timestamp": ["2024-01-05"] * 2, "amount": [1.0, 2.0]}
                 ).write_parquet(parquet)
    assert load_transactions(parquet).transactions["customer_id"].unique().to_list() == ["12345"]


def test_formula_cells_are_neutralised_and_numbers_untouched() -> None:
    frame = pl.DataFrame({"customer_id": ["=HYPERLINK(1)", "+1+2", "-3", "@SUM(A1)", "\tx", "ok", "-2+3", None],
                          "spend": [1.0, -2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]})
    safe = neutralise_formulas(frame)
    assert safe["customer_id"].to_list() == ["'=HYPERLINK(1)", "'+1+2", "-3", "'@SUM(A1)", "'\tx", "ok", "'-2+3",
                                             None]
    assert safe["spend"].to_list() == frame["spend"].to_list() and safe.schema == frame.schema
    out = io.StringIO()
    safe.write_csv(out)
    assert "\n=" not in out.getvalue() and ",=" not in out.getvalue()


def test_duplicate_header_names_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text("order_id,customer_id,timestamp,amount,amount\no1,c1,2024-01-05,5,6\n")
    with pytest.raises(ClvlensError, match=r"dup.csv: column 'amount' appears twice"):
        load_transactions(path)


def test_parquet_bomb_is_refused_from_its_footer(tmp_path: Path) -> None:
    path = tmp_path / "bomb.parquet"
    pl.DataFrame({"customer_id": ["c" * 1000] * 20_000, "timestamp": ["2024-01-05"] * 20_000,
                  "amount": [1.0] * 20_000}).write_parquet(path, compression="zstd", use_pyarrow=True)
    limits = ReadLimits(max_expansion_ratio=10, ratio_grace_bytes=1 << 20)
    with pytest.raises(ClvlensError) as exc:
        load_transactions(path, limits=limits)
    assert "bomb.parquet" in _one_line(exc) and "max_expansion_ratio" in str(exc.value)


def test_blank_lines_before_the_header_lose_no_row(tmp_path: Path) -> None:
    path = tmp_path / "blank.csv"
    path.write_text("\n\n" + HEADER + _rows(20) + "\n\n")
    result = load_transactions(path)
    _accounting(result)
    assert result.transactions.height == 20


def test_last_line_without_break_is_judged_on_evidence(tmp_path: Path) -> None:
    header = "order_id,customer_id,timestamp,amount,country\n"
    body = "".join(f"o{i},c{i % 5},2024-01-05,{10 + i}.00,{('United Kingdom', 'France')[i % 2]}\n" for i in range(20))
    path = tmp_path / "country.csv"
    path.write_text(header + body + "o99,c1,2024-01-06,5.00,United King")
    assert load_transactions(path).quarantine["reason"].to_list() == ["malformed_row"]
    path.write_text(header + body + "o99,c1,2024-01-06,5.00,France")  # genuine: a known value
    assert load_transactions(path).transactions.height == 21
    ids = "".join(f"o{i},c{i % 5},2024-01-05,5.00,i{i % 13}\n" for i in range(30))
    path.write_text(header.replace("country", "item_id") + ids + "o99,c1,2024-01-06,5.00,i1")  # i1 begins i10
    assert load_transactions(path).transactions.height == 31


def test_quoted_field_of_half_a_megabyte_is_a_field_not_a_fault(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    big = "x" * 500_000
    rows = f'o8,"{big}\n{big}",2024-01-05,3.00\n' + 'o9,"c\n2",2024-01-05,3.00\n' + "o10,c1,2024-01-05,3,x\n"
    path.write_text(HEADER + _rows(5) + rows)
    result = load_transactions(path)
    _accounting(result)
    assert result.transactions["customer_id"].to_list()[-2:] == [f"{big}\n{big}", "c\n2"]
    assert result.quarantine["detail"].to_list() == ["line 11: 5 fields where the header has 4"]
