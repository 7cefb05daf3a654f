"""Generate the bad-input corpus: transaction logs broken in every way a real export breaks, plus bombs and garbage.

    python tests/reliability/generate_corpus.py DIR

writes one file per case into DIR and `manifest.json` (file -> expected outcome: "ok" for a run that must
succeed, "refused" for one that must stop with one line and exit code 2, "either" where both are honest; and the
number of input rows when the file's records are known, so that a row dropped before the accounting shows). Files
are small (the bombs are small compressed and large only once inflated) and the output is deterministic.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

HEADER = ["order_id", "customer_id", "timestamp", "amount", "item_id"]


def base_rows(count: int = 160, seed: int = 7) -> list[list[str]]:
    """A plausible small log: 30 customers, repeat purchases over 2023-2024, amounts with two decimals."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        month, day = rng.randint(1, 12), rng.randint(1, 28)
        year = 2023 + (i % 2)
        stamp = f"{year}-{month:02d}-{day:02d} {rng.randint(8, 20):02d}:15:00"
        rows.append([f"o{1000 + i}", f"c{rng.randint(1, 30)}", stamp, f"{rng.uniform(5, 120):.2f}",
                     f"i{rng.randint(1, 12)}"])
    return rows


def table(rows: list[list[str]], header: list[str] | None = HEADER, sep: str = ",", end: str = "\n") -> str:
    lines = ([sep.join(header)] if header else []) + [sep.join(r) for r in rows]
    return end.join(lines) + end


def with_column(rows: list[list[str]], index: int, values: Callable[[int, str], str]) -> list[list[str]]:
    return [[values(i, v) if j == index else v for j, v in enumerate(r)] for i, r in enumerate(rows)]


def _gzip_bomb() -> bytes:
    out = io.BytesIO()
    line = b"o1,c1,2024-01-05 10:00:00,1.00,i1\n" * 4096
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9) as handle:
        handle.write(",".join(HEADER).encode() + b"\n")
        for _ in range(900):  # ~125 MB inflated from ~0.4 MB
            handle.write(line)
    return out.getvalue()


def _xlsx_bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        archive.writestr("xl/worksheets/sheet1.xml", "<c><v>0</v></c>" * 4_000_000)
    return out.getvalue()


def _xlsx(rows: list[list[object]], header: list[str] = HEADER) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _parquet(columns: dict[str, list[object]]) -> bytes:
    import polars as pl

    out = io.BytesIO()
    pl.DataFrame(columns, strict=False).write_parquet(out)
    return out.getvalue()


def _zip(members: dict[str, str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return out.getvalue()


def cases() -> dict[str, tuple[bytes, str, int | None]]:
    """File name -> (content, expected outcome, expected input rows when the file's records are known)."""
    rows = base_rows()
    text = table(rows)
    c: dict[str, tuple[bytes, str, int | None]] = {}

    def add(name: str, data: str | bytes, expect: str = "either", encoding: str = "utf-8", rows: int | None = None
            ) -> None:
        if rows is None and expect == "ok":
            rows = len(base_rows())  # most readable cases keep the base log's 160 records
        c[name] = (data.encode(encoding) if isinstance(data, str) else data, expect, rows)

    # encodings and line ends
    add("enc_utf8_bom.csv", "\ufeff" + text, "ok")
    add("enc_utf16.csv", text, "ok", encoding="utf-16")
    named = with_column(rows, 1, lambda i, v: ("Zoë", "Bjørn", "Ångström", "Müller")[i % 4])
    add("enc_cp1252.csv", table(named), "ok", encoding="cp1252")
    add("enc_latin1_euro.csv", table(with_column(rows, 4, lambda i, v: "café" if i % 3 else v)), "ok",
        encoding="latin-1")
    add("enc_invalid_utf8.csv", text.encode() + b"o9,c\xff\xfe,2024-01-01,3.00,i1\n", "either")
    add("eol_crlf.csv", table(rows, end="\r\n"), "ok")
    add("eol_cr_only.csv", table(rows, end="\r"), "ok")
    add("eol_mixed.csv", text.replace("\n", "\r\n", 40), "ok")
    # delimiters
    add("delim_semicolon_decimal_comma.csv", table(with_column(rows, 3, lambda i, v: v.replace(".", ",")), sep=";"),
        "ok")
    add("delim_tab.tsv", table(rows, sep="\t"), "ok")
    add("delim_pipe.txt", table(rows, sep="|"), "ok")
    add("delim_mixed.csv", table(rows[:80]) + table(rows[80:], header=None, sep=";"), "either")
    add("delim_none_single_column.csv", "\n".join(["customer"] + [r[1] for r in rows]) + "\n", "refused")
    # truncation
    add("cut_mid_row.csv", text[: len(text) - 20], "ok")
    add("cut_mid_amount.csv", text[: len(text) - 6], "ok")
    add("cut_gzip.csv.gz", gzip.compress(text.encode())[:-200] if len(text) > 2000 else b"", "either")
    add("cut_inside_quote.csv", text + 'o9,c1,2024-02-02 10:00:00,"12', "ok", rows=161)
    # quoting
    broken = text.splitlines(keepends=True)
    broken[30] = broken[30].replace(",c", ',"c', 1)
    add("quote_unbalanced_mid.csv", "".join(broken), "ok")
    add("quote_newline_in_field.csv", table(rows) + 'o9,c2,2024-03-03 10:00:00,9.99,"line one\nline two"\n', "ok",
        rows=161)
    add("quote_escaped.csv", table(with_column(rows, 4, lambda i, v: f'"{v} ""best"" , ok"')), "ok")
    add("quote_ragged_rows.csv", text + "o9,c1,2024-01-01,1.00,i1,extra,more\no10,c1\n", "ok", rows=162)
    # headers
    add("header_only.csv", ",".join(HEADER) + "\n", "refused")
    add("header_missing.csv", table(rows, header=None), "refused")
    add("header_duplicate.csv", table(rows, header=["order_id", "customer_id", "timestamp", "amount", "amount"]),
        "refused")
    add("header_empty_name.csv", table(rows, header=["order_id", "customer_id", "timestamp", "amount", ""]), "ok")
    add("header_odd_case_spaces.csv", table(rows, header=[" Order ID ", "CUSTOMER_ID", "Time Stamp", "Amount ", "SKU"]),
        "ok")
    numbered = [[str(i + 500), *r] for i, r in enumerate(rows)]
    add("header_source_row.csv", table(numbered, header=["source_row", *HEADER]), "ok")
    add("header_blank_lines_before.csv", "\n\n" + text, "ok")
    add("tsv_numeric_header_not_cdnow.tsv",
        table([[str(100 + i), str(i % 20), f"2024{1 + i % 12:02d}{1 + i % 28:02d}", f"{i % 50}.5"]
               for i in range(200)], header=["order_id", "customer_id", "timestamp", "amount"], sep="\t"),
        "ok", rows=200)
    # types
    add("type_amount_text.csv", table(with_column(rows, 3, lambda i, v: "abc" if i % 5 == 0 else v)), "ok")
    add("type_amount_currency.csv", table(with_column(rows, 3, lambda i, v: f'"${float(v) * 30:,.2f}"')), "ok")
    add("type_amount_european.csv", table(with_column(rows, 3, lambda i, v: f"1.{v.replace('.', ',')}0"), sep=";"),
        "ok")
    add("type_negative_zero_amounts.csv", table(with_column(rows, 3, lambda i, v: ("-5.00", "0", v)[i % 3])), "ok")
    add("type_float_ids.csv", table(with_column(rows, 1, lambda i, v: f"{v[1:]}.0" if i % 2 else v[1:])), "ok")
    add("type_bool_and_null_words.csv", table(with_column(rows, 1, lambda i, v: ("NULL", "None", "true", v)[i % 4])),
        "ok")
    # dates
    add("date_dayfirst_late_proof.csv",
        table(with_column(rows, 2, lambda i, v: f"{(i % 12) + 1:02d}/{(i % 12) + 1 if i < 150 else 1:02d}/2023"
                          if i < 150 else f"{13 + i % 15}/0{1 + i % 9}/2024")), "ok")
    add("date_ambiguous.csv", table(with_column(rows, 2, lambda i, v: f"0{1 + i % 9}/{1 + (i * 7) % 12:02d}/2023")),
        "refused")
    add("date_iso_z.csv", table(with_column(rows, 2, lambda i, v: v.replace(" ", "T") + "Z")), "ok")
    add("date_iso_offset.csv", table(with_column(rows, 2, lambda i, v: v.replace(" ", "T") + "+02:00")), "ok")
    add("date_mixed_date_and_datetime.csv", table(with_column(rows, 2, lambda i, v: v[:10] if i % 2 else v)), "ok")
    add("date_epoch_seconds.csv", table(with_column(rows, 2, lambda i, v: str(1_700_000_000 + i * 86_400))), "either")
    add("date_two_digit_year.csv", table(with_column(rows, 2, lambda i, v: f"{v[5:7]}/{v[8:10]}/{v[2:4]}")),
        "either")
    add("date_far_future_and_past.csv",
        table(with_column(rows, 2, lambda i, v: ("2099-01-01 10:00:00", "1900-01-01", v, v)[i % 4])), "ok")
    add("date_empty_values.csv", table(with_column(rows, 2, lambda i, v: "" if i % 4 == 0 else v)), "ok")
    add("date_excel_serial.csv", table(with_column(rows, 2, lambda i, v: str(45000 + i))), "either")
    add("date_dotted_german.csv", table(with_column(rows, 2, lambda i, v: f"{v[8:10]}.{v[5:7]}.{v[:4]}")), "ok")
    # extreme and non-finite numbers
    add("num_1e308.csv", table(with_column(rows, 3, lambda i, v: "1e308" if i % 10 == 0 else v)), "ok")
    add("num_inf_nan.csv", table(with_column(rows, 3, lambda i, v: ("inf", "-inf", "NaN", v, v)[i % 5])), "ok")
    add("num_tiny.csv", table(with_column(rows, 3, lambda i, v: "1e-300" if i % 7 == 0 else v)), "ok")
    add("num_long_digits.csv", table(with_column(rows, 3, lambda i, v: "9" * 400 if i % 9 == 0 else v)), "ok")
    add("num_huge_quantity.csv",
        table([[*r[:4], "1e300", "2.5"] for r in rows], header=["order_id", "customer_id", "timestamp", "x",
                                                              "quantity", "unit_price"]), "either")
    # empty and degenerate
    add("empty.csv", b"", "refused")
    add("whitespace_only.csv", "   \n\n \t \n", "refused")
    add("one_row.csv", table(rows[:1]), "either")
    add("one_customer.csv", table(with_column(rows, 1, lambda i, v: "c1")), "either")
    add("everyone_buys_once.csv", table(with_column(rows, 1, lambda i, v: f"c{i}")), "either")
    add("all_duplicates.csv", table([rows[0]] * 50), "either")
    add("all_rejected.csv", table(with_column(rows, 2, lambda i, v: "not a date")), "refused")
    add("blank_lines_everywhere.csv", text.replace("\n", "\n\n"), "ok")
    # huge fields
    add("huge_field_2mb.csv", text + f"o9,c1,2024-01-01 10:00:00,5.00,{'x' * 2_000_000}\n", "ok", rows=161)
    add("huge_line_no_delimiter.csv", text + "y" * 3_000_000 + "\n", "ok", rows=161)
    # bombs
    add("bomb.csv.gz", _gzip_bomb(), "refused")
    add("bomb.xlsx", _xlsx_bomb(), "refused")
    # garbage
    rng = random.Random(3)
    add("garbage_random.csv", bytes(rng.randrange(256) for _ in range(20_000)), "refused")
    add("garbage_png.csv", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20, "refused")
    add("garbage_json.csv", json.dumps([{"a": 1, "b": [1, 2]}] * 50), "refused")
    add("garbage_html.csv", "<html><body><table><tr><td>1</td></tr></table></body></html>\n" * 20, "refused")
    add("garbage_nul_bytes_mid.csv", text.encode()[:2000] + b"\x00" * 50 + text.encode()[2000:], "either")
    add("garbage_fake.parquet", b"PAR1 not really parquet", "refused")
    add("garbage_fake.xlsx", b"PK\x03\x04 not really a workbook", "refused")
    # formula cells
    formulas = ('=HYPERLINK("x")', "+1+1", "@SUM(A1)")
    add("formula_cells.csv", table(with_column(rows, 1, lambda i, v: (*formulas, v)[i % 4])), "ok")
    # other containers
    add("zip_one_member.zip", _zip({"log.csv": text}), "ok")
    add("zip_two_members.zip", _zip({"a.csv": text, "b.csv": text}), "refused")
    xrows: list[list[object]] = [[r[0], float(r[1][1:]), r[2], float(r[3]), r[4]] for r in rows]
    add("excel_float_ids.xlsx", _xlsx(xrows), "ok")
    add("excel_formula_cells.xlsx", _xlsx([[r[0], "=1+1" if i % 5 == 0 else r[1], r[2], r[3], r[4]]
                                           for i, r in enumerate(rows)]), "ok")
    add("parquet_nan_amounts.parquet",
        _parquet({"order_id": [r[0] for r in rows], "customer_id": [r[1] for r in rows],
                  "timestamp": [r[2] for r in rows],
                  "amount": [float("nan") if i % 6 == 0 else float(r[3]) for i, r in enumerate(rows)]}), "ok")
    add("parquet_float_ids.parquet",
        _parquet({"order_id": [r[0] for r in rows], "customer_id": [float(r[1][1:]) for r in rows],
                  "timestamp": [r[2] for r in rows], "amount": [float(r[3]) for r in rows]}), "ok")
    return c


def generate(folder: Path) -> dict[str, dict[str, object]]:
    """Write every case into `folder` with its manifest; returns file name -> expected outcome."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {}
    for name, (data, expect, rows) in cases().items():
        (folder / name).write_bytes(data)
        manifest[name] = {"expect": expect, "input_rows": rows}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return manifest


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/reliability/generate_corpus.py DIR")
    written = generate(Path(sys.argv[1]))
    print(f"{len(written)} files written to {sys.argv[1]}")
