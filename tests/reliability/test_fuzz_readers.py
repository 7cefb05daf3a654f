"""Property-based fuzzing of the readers and the cleaning rules (bounded: few examples, a deadline per example).

Whatever bytes a text file holds, reading it either succeeds with exact row accounting (input rows = kept +
quarantined, `source_row` covering 1..n, no inf or NaN in the quarantine) or raises one one-line ClvlensError.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clvlens.data import CleaningRules, load_transactions
from clvlens.errors import ClvlensError

HEADER = "order_id,customer_id,timestamp,amount\n"
FIELD = st.one_of(
    st.sampled_from(["", "c1", "12345.0", "12345", '"q,uoted"', '"open', "1e308", "inf", "NaN", "-3", "0",
                     "2024-01-05", "05/01/2024", "13/01/2024", "2024-01-05T10:00:00Z", "2099-01-01", "1900-01-01",
                     "=HYPERLINK(1)", "€12,50", "1.234,56", " ", "\t"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12),
)
ROW = st.lists(FIELD, min_size=2, max_size=6).map(lambda fields: ",".join(fields))
FUZZ = settings(max_examples=60, deadline=3000, suppress_health_check=[HealthCheck.too_slow])


def _check(path: Path) -> None:
    try:
        result = load_transactions(path)
    except ClvlensError as exc:
        assert "\n" not in str(exc) and str(exc)
        return
    n = result.report.input_rows
    assert n == result.transactions.height + result.quarantine.height
    rows = pl.concat([result.transactions["source_row"], result.quarantine["source_row"]]).sort().to_list()
    assert rows == list(range(1, n + 1))
    for column in ("amount", "quantity", "unit_price"):
        assert result.quarantine[column].drop_nulls().is_finite().all()
        assert result.transactions[column].drop_nulls().is_finite().all()
    assert result.report.to_frame()["amount"].drop_nulls().is_finite().all()


@FUZZ
@given(rows=st.lists(ROW, min_size=0, max_size=25), newline=st.sampled_from(["\n", "\r\n"]),
       final_break=st.booleans())
def test_fuzzed_text_rows(rows: list[str], newline: str, final_break: bool) -> None:
    text = HEADER.replace("\n", newline) + newline.join(rows) + (newline if final_break else "")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.csv"
        path.write_text(text, encoding="utf-8", newline="")
        _check(path)


@FUZZ
@given(data=st.binary(max_size=400))
def test_fuzzed_bytes_after_a_header(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bytes.csv"
        path.write_bytes(HEADER.encode() + data)
        _check(path)


@FUZZ
@given(amounts=st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=30),
       max_abs=st.one_of(st.none(), st.floats(min_value=1, max_value=1e15)))
def test_fuzzed_cleaning_of_numbers(amounts: list[float], max_abs: float | None) -> None:
    frame = pl.DataFrame({"customer_id": [f"c{i % 4}" for i in range(len(amounts))],
                          "timestamp": ["2024-01-05"] * len(amounts), "amount": amounts})
    result = load_transactions(frame, rules=CleaningRules(max_abs_value=max_abs))
    assert result.report.input_rows == len(amounts)
    assert result.transactions.height + result.quarantine.height == len(amounts)
    assert result.quarantine["amount"].drop_nulls().is_finite().all()
    kept = result.transactions["amount"]
    assert kept.is_finite().all() and (kept > 0).all()
    if max_abs is not None:  # the cap is what keeps per-customer sums finite
        assert abs(kept.sum()) < float("inf")
