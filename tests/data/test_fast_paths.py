"""The fast paths of the canonical conversion give the same answers as the careful readings they short-cut."""

from __future__ import annotations

import random
from datetime import datetime

import polars as pl
import pytest

from clvlens.data.canonical import _number, _text, duplicate_rows, lenient_number
from clvlens.data.dates import YEAR_FIRST, _parse, choose_formats, parse_with
from clvlens.data.readers import read_table
from clvlens.errors import ClvlensError

TRICKY_NUMBERS = [
    "12.5", " 12.5", "12.5 ", "+4", "-0.5", ".5", "5.", "1e3", "1E-2", "inf", "-inf", "NaN", "nan", "1,234.50",
    "1.234,56", "12,5", "12,50", "1,5", "£12.00", "$ 3", "€4,5", "R$ 10,00", "1 000", "abc", "", "  ", "-", "0x10",
    "1_000", "١٢", None, "12.5.1", "1,2,3", "--1", "+-1", "3R",
]


def test_numbers_cast_directly_only_where_the_lenient_reading_agrees() -> None:
    values = pl.Series("v", TRICKY_NUMBERS * 3, dtype=pl.String)
    lenient = values.to_frame().select(lenient_number(pl.col("v"))).to_series()
    fast = _number(values)
    for raw, expected, got in zip(values, lenient, fast, strict=True):
        same = (expected is None and got is None) or (expected == got) or (expected != expected and got != got)
        assert same, f"{raw!r}: lenient {expected!r}, fast {got!r}"


def test_ids_are_normalised_whichever_path_runs() -> None:
    plain = pl.Series(["17850", "A1", "x"])
    assert _text(plain, numeric_id=True).to_list() == ["17850", "A1", "x"]
    spreadsheet = pl.Series([" 17850.0 ", "A1.0", "", None, "12.00", "-3.0", "1.05"])
    assert _text(spreadsheet, numeric_id=True).to_list() == ["17850", "A1.0", None, None, "12", "-3", "1.05"]
    assert _text(pl.Series(["  ", "b "]), numeric_id=False).to_list() == [None, "b"]


@pytest.mark.parametrize("seed", range(20))
def test_duplicates_by_hash_match_the_exact_comparison(seed: int) -> None:
    rng = random.Random(seed)
    size = rng.randint(2, 400)
    frame = pl.DataFrame(
        {
            "x": [rng.choice([0.0, -0.0, float("nan"), None, 1.5, 2.0]) for _ in range(size)],
            "s": [rng.choice(["a", "", None, "b", "a "]) for _ in range(size)],
            "i": [rng.choice([1, 2, None]) for _ in range(size)],
            "t": [rng.choice([datetime(2024, 1, 1), None]) for _ in range(size)],
        },
        schema={"x": pl.Float64, "s": pl.String, "i": pl.Int64, "t": pl.Datetime("us")},
    )
    columns = frame.columns
    exact = frame.select(~pl.struct(columns).is_first_distinct()).to_series()
    assert duplicate_rows(frame, columns).to_list() == exact.to_list()


def test_duplicates_by_hash_match_on_real_data(online_retail_csv) -> None:
    frame = read_table(online_retail_csv).frame.drop("source_row")
    columns = frame.columns
    exact = frame.select(~pl.struct(columns).is_first_distinct()).to_series()
    fast = duplicate_rows(frame, columns)
    assert fast.sum() == exact.sum() > 0  # UCI holds about five thousand repeated lines
    assert fast.to_list() == exact.to_list()


def test_formats_after_the_first_read_only_what_is_left() -> None:
    values = pl.Series(["2024-01-05 10:00:00", "2024-01-05", None, "2024/01/06", "", "bad", "2024-01-05T10:30"] * 5)
    got = parse_with(values, YEAR_FIRST)
    for index, value in enumerate(values):
        expected = None
        if value is not None:
            for fmt in YEAR_FIRST:
                parsed = _parse(pl.Series([value]), fmt)[0]
                if parsed is not None:
                    expected = parsed
                    break
        assert got[index] == expected, value


def test_the_format_choice_is_the_same_on_padded_and_on_stripped_text() -> None:
    # day-first and month-first read these alike except where the padded copies are merged with their twins: the
    # ambiguity (03/04 with nothing to settle it) must be found whether or not the caller stripped the text first
    ambiguous = pl.Series(["03/04/2024", " 03/04/2024", "05/06/2024 ", "05/06/2024", None, "  "])
    for text in (ambiguous, ambiguous.str.strip_chars()):
        with pytest.raises(ClvlensError, match="day-first or month-first"):
            choose_formats(text)
    settled = pl.Series(["13/04/2024", " 03/04/2024", "05/06/2024 ", "", None])  # day 13: day-first
    assert choose_formats(settled) == choose_formats(settled.str.strip_chars())
    assert choose_formats(settled)[0].startswith("%d/%m/%Y")
    assert choose_formats(pl.Series(["  ", "", None])) == ()
    # values that differ only by spaces count once when the families are weighed: one day-first value (spelled
    # twice) against one month-first value is a tie, not a win for day-first
    twins = pl.Series(["13/04/2024", " 13/04/2024", "04/13/2024"])
    assert choose_formats(twins) == choose_formats(pl.Series(["13/04/2024", "04/13/2024"]))


def test_the_cleaning_report_says_which_path_read_the_file(tmp_path) -> None:
    from clvlens.data import load_transactions

    header = "order_id,customer_id,timestamp,amount\n"
    rows = "".join(f"o{i},c{i % 3},2024-01-{i + 1:02d},{10 + i}.5\n" for i in range(9))
    good = tmp_path / "good.csv"
    good.write_text(header + rows)
    report = load_transactions(good).report
    assert report.reading is not None and report.reading.startswith("fast path")
    assert "fast path" in str(report)

    bad = tmp_path / "bad.csv"
    bad.write_text(header + rows + 'o9,c1,"2024-01-10,3\no10,c1,2024-01-11,4,extra\n')
    result = load_transactions(bad)
    assert result.report.reading is not None and result.report.reading.startswith("careful path")
    assert "2 malformed records" in result.report.reading
    assert result.report.by_reason["malformed_row"][0] == 2
    assert result.report.input_rows == result.transactions.height + result.quarantine.height == 11

    parquet = tmp_path / "good.parquet"
    pl.read_csv(good).write_parquet(parquet)
    assert load_transactions(parquet).report.reading == "Parquet read in batches by Polars"
