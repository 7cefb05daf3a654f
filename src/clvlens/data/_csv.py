"""Delimited text files read in bounded memory, with malformed records kept as rows rather than failing the file.

Reading goes in three steps. (1) `prepare_text` turns the input into one UTF-8 file with no BOM: a compressed
file is inflated into a temporary file under the limits of `_limits`, and a file in another encoding (or with
old Mac CR line ends) is transcoded chunk by chunk; a plain UTF-8 file is read where it is. (2) Polars reads the
file (the fast path); it fails on extra fields and bad quoting, and when a last field is empty `scan_shape`
streams the file once to check that no line is short. (3) Otherwise the file is read record by record
(`read_records`) and each record with the wrong number of fields, an unbalanced quote, or a field longer than
the limit becomes a row of nulls with a `_malformed` note naming its line, so the cleaning can quarantine it
as `malformed_row`.

Input rows are the records after the header (a record is a line, or several when a quoted field holds line
breaks); blank lines are not records. A last line without a line break is quarantined as cut short when it
looks cut (see `looks_cut`), or when the compressed stream it came from ended early.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from pathlib import Path

import polars as pl

from clvlens.data._limits import ReadLimits, compression_of, decompress_to_file
from clvlens.errors import ClvlensError

MALFORMED = "_malformed"
DELIMITER_CANDIDATES = ",;\t|"
SNIFF_BYTES = 256 * 1024
_CHUNK = 1 << 20
_BLOCK = 8 << 20
_QUOTED = re.compile(rb'"[^"\n]*"')
_ROWS_PER_FRAME = 65_536
_MAX_RECORD_LINES = 200


def prepare_text(path: Path, limits: ReadLimits, folder: Path, encoding: str | None) -> tuple[Path, str, bool]:
    """A UTF-8 copy of `path` (or `path` itself when it already is one); returns it, the encoding and whether
    the input was complete (a gzip stream cut short is not)."""
    complete = True
    raw = path
    if compression_of(path) is not None:
        raw, complete = decompress_to_file(path, limits, folder)
    with open(raw, "rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if not head.strip():
        raise ClvlensError(f"{path}: empty file (no header and no rows)")
    has_utf16_bom = head.startswith((b"\xff\xfe", b"\xfe\xff"))
    if b"\x00" in head and not has_utf16_bom and encoding is None:
        offset = head.index(b"\x00")
        raise ClvlensError(f"{path}: binary data, not a text table (NUL byte at offset {offset})")
    if encoding is None:
        if has_utf16_bom:
            encoding = "utf-16"
        elif head.startswith(codecs.BOM_UTF8):
            encoding = "utf-8-sig"
        else:
            encoding = next((e for e in ("utf-8", "cp1252") if _decodes(raw, e)), "latin-1")
    try:
        sample = head.decode(encoding, errors="ignore")
    except LookupError:
        raise ClvlensError(f"{path}: unknown encoding '{encoding}'") from None
    if _looks_binary(sample):
        raise ClvlensError(f"{path}: binary data, not a text table (mostly unprintable characters)")
    lone_cr = b"\r" in head and b"\r\n" not in head
    if encoding == "utf-8" and not lone_cr:
        return raw, encoding, complete
    target = folder / "text.csv"
    _transcode(raw, target, encoding, lone_cr, path)
    return target, encoding, complete


def _decodes(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _transcode(source: Path, target: Path, encoding: str, lone_cr: bool, shown: Path) -> None:
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        with open(source, "rb") as reader, open(target, "w", encoding="utf-8", newline="") as writer:
            while chunk := reader.read(_CHUNK):
                text = decoder.decode(chunk)
                writer.write(text.replace("\r", "\n") if lone_cr else text)
            writer.write(decoder.decode(b"", final=True))
    except UnicodeDecodeError as exc:
        raise ClvlensError(f"{shown}: cannot decode the text as {encoding} ({exc.reason})") from None


def _looks_binary(text: str) -> bool:
    sample = text[:4096]
    if not sample:
        return False
    unprintable = sum(1 for ch in sample if (ord(ch) < 32 and ch not in "\r\n\t") or 0x7F <= ord(ch) < 0xA0)
    return unprintable / len(sample) > 0.05


def sniff_delimiter(text: str) -> str:
    """Guess the delimiter from the first lines: the candidate splitting every line into the same many fields."""
    sample = "\n".join(text[:SNIFF_BYTES].splitlines()[:50])
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITER_CANDIDATES).delimiter
    except csv.Error:
        pass
    lines = [line for line in sample.splitlines() if line.strip()][:20]
    best, best_score = ",", 0
    for candidate in DELIMITER_CANDIDATES:
        counts = [line.count(candidate) for line in lines]
        if counts and min(counts) > 0 and min(counts) == max(counts) and counts[0] > best_score:
            best, best_score = candidate, counts[0]
    return best


def head_text(path: Path) -> str:
    """The first complete lines of a UTF-8 file, for sniffing."""
    with open(path, "rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if len(head) == SNIFF_BYTES and b"\n" in head:
        head = head[: head.rindex(b"\n")]
    return head.decode("utf-8", errors="replace")


def header_names(fields: list[str], shown: Path) -> list[str]:
    """Stripped header names; empty ones become column_N; a repeated name is refused (its role would be a guess)."""
    names = [f.strip() or f"column_{i}" for i, f in enumerate(fields, start=1)]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ClvlensError(f"{shown}: column '{name}' appears twice in the header; rename one of them")
        seen.add(name)
    return names


class _Shape:
    """What one streaming pass learnt about a UTF-8 file."""

    def __init__(self) -> None:
        self.regular = True
        self.records = 0
        self.trailing_blank = 0


def scan_shape(path: Path, delimiter: str, fields: int, header_lines: int) -> _Shape:
    """One pass in blocks: does every data line have `fields` fields and no quoted line break?"""
    shape = _Shape()
    sep = delimiter.encode()
    expected = fields - 1
    skipped = 0
    pending = b""
    with open(path, "rb") as handle:
        while True:
            block = handle.read(_BLOCK)
            data = pending + block
            if not block:
                pending = b""
            elif b"\n" in data:
                cut = data.rindex(b"\n") + 1
                data, pending = data[:cut], data[cut:]
            else:
                pending = data
                continue
            if not data:
                break
            complete_lines = data.endswith(b"\n")
            if b'"' in data:
                data = _QUOTED.sub(b"", data)
                if b'"' in data:
                    shape.regular = False
                    return shape
            lines = data.split(b"\n")
            if complete_lines:
                lines.pop()
            for line in lines:
                if skipped < header_lines:
                    skipped += 1
                    continue
                if not line.strip():
                    shape.trailing_blank += 1
                    continue
                if shape.trailing_blank or line.count(sep) != expected:
                    shape.regular = False
                    return shape
                shape.records += 1
            if not block:
                break
    return shape


def read_fast(path: Path, delimiter: str, names: list[str], header_lines: int) -> pl.DataFrame | None:
    """Polars reads the file; None when it fails or when the rows may hide short or blank lines that the
    shape scan cannot vouch for (then the file is read record by record)."""
    if header_lines != 1:
        return None  # blank lines before the header (or a header over several lines): Polars counts them its own way
    try:
        frame = pl.read_csv(
            path, separator=delimiter, infer_schema=False, quote_char='"', has_header=True, new_columns=names,
            truncate_ragged_lines=False,
        )
    except pl.exceptions.PolarsError:
        return None
    if frame.width != len(names):
        return None
    if frame.get_column(names[-1]).null_count() == 0:
        return frame  # too many fields and bad quoting make Polars fail; too few would leave the last field null
    shape = scan_shape(path, delimiter, len(names), header_lines)
    if not shape.regular:
        return None
    if frame.height == shape.records + shape.trailing_blank:
        frame = frame.head(shape.records)
    return frame if frame.height == shape.records else None


def ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as handle:
        handle.seek(0, 2)
        if handle.tell() == 0:
            return True
        handle.seek(-1, 2)
        return handle.read(1) == b"\n"


def looks_cut(frame: pl.DataFrame, names: list[str]) -> bool:
    """Whether the last row of a file without a final line break looks cut short.

    Many genuine files lack the final line break, so the row is suspect only on evidence: its last field is empty
    where the column is never empty otherwise, or is a value seen nowhere else in the column that begins a longer
    one ("United King" / "United Kingdom"), or has fewer decimals than nine in ten values of the column.
    """
    if frame.height == 0 or (MALFORMED in frame.columns and frame[MALFORMED][-1] is not None):
        return False
    column = frame.get_column(names[-1])
    last = column[-1]
    others = column.head(frame.height - 1)
    if last is None or last == "":
        return others.len() > 0 and others.null_count() == 0
    others = others.drop_nulls()
    unseen = not (others == last).any()
    if unseen and (others.str.starts_with(last) & (others.str.len_chars() > len(last))).any():
        return True
    decimals = others.str.extract(r"^-?\d+\.(\d+)$").drop_nulls().str.len_chars()
    if decimals.len() >= 10:
        usual = decimals.mode().min()
        share = (decimals == usual).mean()
        written = re.fullmatch(r"-?\d+(?:\.(\d*))?", last)
        if written and share is not None and share >= 0.9 and len(written.group(1) or "") < usual:
            return True
    return False


def mark_last_row(frame: pl.DataFrame, names: list[str], note: str) -> pl.DataFrame:
    """Blank the last row and note why, so the cleaning quarantines it as `malformed_row`."""
    last = pl.int_range(pl.len()) == pl.len() - 1
    current = pl.col(MALFORMED) if MALFORMED in frame.columns else pl.lit(None, pl.String)
    frame = frame.with_columns(pl.when(last).then(pl.lit(note)).otherwise(current).alias(MALFORMED))
    return frame.with_columns(pl.when(last).then(None).otherwise(pl.col(n)).alias(n) for n in names)


def first_record(path: Path, delimiter: str) -> tuple[list[str], int]:
    """The header record and the number of physical lines it (and blank lines before it) takes."""
    with open(path, encoding="utf-8", errors="replace", newline="") as handle:
        lines = 0
        buffer = ""
        while line := handle.readline(SNIFF_BYTES):
            lines += 1
            if not buffer and not line.strip():
                continue
            buffer += line
            try:
                records = list(csv.reader(io.StringIO(buffer), delimiter=delimiter, strict=True))
            except csv.Error:
                if lines > _MAX_RECORD_LINES:
                    break
                continue
            return (records[0] if records else []), lines
    raise ClvlensError(f"{path}: no readable header line")


def read_records(
    path: Path, delimiter: str, names: list[str], header_lines: int, limits: ReadLimits
) -> pl.DataFrame:
    """Read record by record; malformed records become null rows carrying a `_malformed` note."""
    width = len(names)
    # the csv module refuses quoted fields over 128 KB by default; ours is the configured limit (process-wide)
    csv.field_size_limit(max(csv.field_size_limit(), limits.max_field_bytes + 1))
    frames: list[pl.DataFrame] = []
    rows: list[list[str | None]] = []
    notes: list[str | None] = []

    def emit(fields: list[str] | None, note: str | None) -> None:
        if fields is not None and len(fields) != width:
            note, fields = f"{note_line}: {len(fields)} fields where the header has {width}", None
        rows.append([f if f != "" else None for f in fields] if fields is not None else [None] * width)
        notes.append(note)
        if len(rows) >= _ROWS_PER_FRAME:
            flush()

    def flush() -> None:
        if rows:
            columns = list(zip(*rows, strict=True)) if rows else [()] * width
            data = {name: list(col) for name, col in zip(names, columns, strict=True)}
            data[MALFORMED] = list(notes)
            frames.append(pl.DataFrame(data, schema={**{n: pl.String for n in names}, MALFORMED: pl.String}))
            rows.clear()
            notes.clear()

    with open(path, encoding="utf-8", errors="replace", newline="") as handle:
        queue: list[tuple[int, str]] = []
        number = 0
        for _ in range(header_lines):
            handle.readline()
            number += 1
        exhausted = False
        while True:
            if not queue:
                if exhausted:
                    break
                line = handle.readline(limits.max_field_bytes + 1)
                if not line:
                    break
                number += 1
                if len(line) > limits.max_field_bytes and not line.endswith("\n"):
                    while (more := handle.readline(_CHUNK)) and not more.endswith("\n"):
                        pass
                    note_line = f"line {number}"
                    limit = f"{limits.max_field_bytes:,}"
                    emit(None, f"{note_line}: longer than {limit} characters (limit max_field_bytes)")
                    continue
                queue.append((number, line))
            start, line = queue[0]
            note_line = f"line {start}"
            if not line.strip():
                queue.pop(0)
                continue
            if '"' not in line:
                queue.pop(0)
                emit(line.rstrip("\r\n").split(delimiter), None)
                continue
            taken = 1
            while True:
                text = "".join(part for _, part in queue[:taken])
                try:
                    records = list(csv.reader(io.StringIO(text), delimiter=delimiter, strict=True))
                    error = None
                except csv.Error as exc:
                    records, error = [], str(exc)
                open_quote = error is not None and "unexpected end of data" in error
                if open_quote and taken < _MAX_RECORD_LINES and len(text) < limits.max_field_bytes:
                    if taken == len(queue):
                        more = handle.readline(limits.max_field_bytes + 1)
                        if more:
                            number += 1
                            queue.append((number, more))
                        else:
                            exhausted = True
                    if taken < len(queue):
                        taken += 1
                        continue
                break
            if error is None and len(records) == 1 and (
                taken == 1 or len(records[0]) == width
            ):
                del queue[:taken]
                emit(records[0], None)
            else:
                # unbalanced quote or bad quoting: only the first line is at fault; the lines after it are read again
                queue.pop(0)
                why = "unbalanced quote" if error and "end of data" in error else (
                    f"bad quoting ({error})" if error else "not one record")
                emit(None, f"{note_line}: {why}")
    flush()
    if not frames:
        return pl.DataFrame(schema={**{n: pl.String for n in names}, MALFORMED: pl.String})
    return pl.concat(frames)
