"""Bounded reading of compressed inputs: decompression budgets and zip-directory checks.

A compressed file is never decompressed into memory as a whole. gzip and single-member zip files are inflated in
chunks into a temporary file, with a running count of bytes in and out: the read stops with a one-line error as
soon as the output passes `max_decompressed_bytes`, or as soon as the output over the input passes
`max_expansion_ratio` once more than `ratio_grace_bytes` have come out (real logs compress 5-20x; a bomb 1000x).
Excel workbooks are zip files: their members' declared sizes are checked from the zip directory before the
workbook is opened (Python's zipfile never inflates a member past its declared size, so the check is a bound).

The defaults let a genuine multi-gigabyte log through; raise them with the `limits` parameter of the readers or
with the environment variables CLVLENS_MAX_DECOMPRESSED (bytes, or with a unit: 40GB) and CLVLENS_MAX_RATIO.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from clvlens.errors import ClvlensError

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
_CHUNK = 1 << 20
_PARQUET_BATCH_ROWS = 262_144
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(text: str, *, name: str = "size") -> int:
    """Parse `123`, `64MB`, `16 GB` (binary units) into bytes; a one-line error otherwise."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)B?\s*", str(text).upper())
    if not match:
        raise ClvlensError(f"{name}: '{text}' is not a size (e.g. 500MB, 20GB)")
    return int(float(match.group(1)) * _UNITS[match.group(2)])


@dataclass(frozen=True)
class ReadLimits:
    """Bounds on what reading one input may cost; every limit is named in the error that enforces it."""

    max_decompressed_bytes: int = 16 << 30
    max_expansion_ratio: float = 100.0
    ratio_grace_bytes: int = 64 << 20
    max_excel_bytes: int = 1 << 30
    max_field_bytes: int = 1 << 20

    @classmethod
    def from_environment(cls) -> ReadLimits:
        """The defaults, overridden by CLVLENS_MAX_DECOMPRESSED and CLVLENS_MAX_RATIO when set."""
        size = os.environ.get("CLVLENS_MAX_DECOMPRESSED")
        ratio = os.environ.get("CLVLENS_MAX_RATIO")
        values: dict[str, float | int] = {}
        if size:
            values["max_decompressed_bytes"] = parse_size(size, name="CLVLENS_MAX_DECOMPRESSED")
            values["max_excel_bytes"] = values["max_decompressed_bytes"]
        if ratio:
            try:
                values["max_expansion_ratio"] = float(ratio)
            except ValueError:
                raise ClvlensError(f"CLVLENS_MAX_RATIO: '{ratio}' is not a number") from None
        return cls(**values)  # type: ignore[arg-type]


def human_size(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024:
            return f"{size:.0f} {unit}"
        size /= 1024
    return f"{size:.0f} TB"


def compression_of(path: Path) -> str | None:
    """'gzip', 'zip' or None from the file's first bytes (not its name)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
    except OSError as exc:
        raise ClvlensError(f"{path}: cannot read ({exc.strerror})") from None
    if head[:2] == GZIP_MAGIC:
        return "gzip"
    if head == ZIP_MAGIC:
        return "zip"
    return None


class _Budget:
    """Counts bytes in and out of a decompressor and stops at the first limit passed."""

    def __init__(self, path: Path, limits: ReadLimits) -> None:
        self.path, self.limits = path, limits
        self.read = 0
        self.written = 0

    def account(self, consumed: int, produced: int) -> None:
        self.read += consumed
        self.written += produced
        if self.written > self.limits.max_decompressed_bytes:
            raise ClvlensError(
                f"{self.path}: decompresses to more than {human_size(self.limits.max_decompressed_bytes)} "
                "(limit max_decompressed_bytes; raise it with CLVLENS_MAX_DECOMPRESSED=SIZE if the file is genuine)"
            )
        if self.written > self.limits.ratio_grace_bytes and self.written > self.limits.max_expansion_ratio * max(
            self.read, 1
        ):
            raise ClvlensError(
                f"{self.path}: expands more than {self.limits.max_expansion_ratio:g} times when decompressed "
                "(limit max_expansion_ratio, a decompression bomb?; raise it with CLVLENS_MAX_RATIO=N if genuine)"
            )


def _inflate_gzip(path: Path, source: BinaryIO, target: BinaryIO, budget: _Budget) -> bool:
    """Inflate every gzip member of `source` into `target`; False when the stream is cut short."""
    decompressor = zlib.decompressobj(wbits=31)
    in_member = False
    while chunk := source.read(_CHUNK):
        data = chunk
        while data:
            if not in_member:
                if not data.strip(b"\x00"):
                    break  # zero padding after the last member
                decompressor = zlib.decompressobj(wbits=31)
                in_member = True
            try:
                out = decompressor.decompress(data, _CHUNK)
            except zlib.error as exc:
                raise ClvlensError(f"{path}: damaged gzip data ({exc})") from None
            left = decompressor.unused_data if decompressor.eof else decompressor.unconsumed_tail
            budget.account(len(data) - len(left), len(out))
            target.write(out)
            if decompressor.eof:
                in_member = False
            data = left
    if in_member:
        try:
            out = decompressor.flush()
        except zlib.error:
            out = b""
        budget.account(0, len(out))
        target.write(out)
        in_member = not decompressor.eof
    return not in_member


def decompress_to_file(path: Path, limits: ReadLimits, folder: Path) -> tuple[Path, bool]:
    """Inflate a gzip or single-member zip file into `folder`; returns the file and whether it was complete."""
    kind = compression_of(path)
    target_path = folder / "decompressed"
    budget = _Budget(path, limits)
    with open(target_path, "wb") as target:
        if kind == "gzip":
            with open(path, "rb") as source:
                complete = _inflate_gzip(path, source, target, budget)
        else:
            complete = _extract_zip_member(path, target, limits, budget)
    return target_path, complete


def _extract_zip_member(path: Path, target: BinaryIO, limits: ReadLimits, budget: _Budget) -> bool:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ClvlensError(f"{path}: damaged zip file ({exc})") from None
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir() and not m.filename.startswith("__MACOSX")]
        if len(members) != 1:
            raise ClvlensError(f"{path}: a zip input must hold exactly one file, this one holds {len(members)}")
        member = members[0]
        check_member_sizes(path, [member], limits, limits.max_decompressed_bytes)
        try:
            with archive.open(member) as source:
                while chunk := source.read(_CHUNK):
                    budget.account(0, len(chunk))
                    target.write(chunk)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            if budget.written == 0:
                raise ClvlensError(f"{path}: damaged zip file ({exc})") from None
            return False
        budget.read = member.compress_size
        return True


def check_member_sizes(path: Path, members: list[zipfile.ZipInfo], limits: ReadLimits, cap: int) -> None:
    """Refuse a zip whose members declare more than `cap` bytes in total or expand past the ratio limit."""
    total = sum(m.file_size for m in members)
    if total > cap:
        raise ClvlensError(
            f"{path}: its zip members hold {human_size(total)} uncompressed, more than the limit of {human_size(cap)} "
            "(raise it with CLVLENS_MAX_DECOMPRESSED=SIZE if the file is genuine)"
        )
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > limits.ratio_grace_bytes / 16 and ratio > limits.max_expansion_ratio:
            raise ClvlensError(
                f"{path}: member {member.filename} expands {ratio:.0f} times (limit max_expansion_ratio "
                f"{limits.max_expansion_ratio:g}, a decompression bomb?; raise it with CLVLENS_MAX_RATIO=N if genuine)"
            )


def check_excel(path: Path, limits: ReadLimits) -> None:
    """Check an xlsx/xlsm workbook's zip directory before any XML is parsed (legacy .xls is not a zip)."""
    if compression_of(path) != "zip":
        return
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise ClvlensError(f"{path}: not a readable Excel workbook ({exc})") from None
    check_member_sizes(path, members, limits, limits.max_excel_bytes)


class TemporaryFolder:
    """A private temporary folder removed on exit, even after an error."""

    def __enter__(self) -> Path:
        self.path = Path(tempfile.mkdtemp(prefix="clvlens-read-"))
        return self.path

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.path, ignore_errors=True)



def read_parquet_bounded(path: Path, limits: ReadLimits) -> Any:
    """A Parquet file read batch by batch into a Polars frame, stopping at the size and ratio limits.

    The footer's sizes understate dictionary-encoded columns (one stored value may stand for millions), so the
    decoded batches themselves are counted. Polars decodes the batches (several columns and row groups at once);
    they are joined without a copy.
    """
    import polars as pl

    budget = _Budget(path, limits)
    budget.read = path.stat().st_size
    batches = []
    try:
        for batch in pl.scan_parquet(path).collect_batches(chunk_size=_PARQUET_BATCH_ROWS):
            budget.account(0, batch.estimated_size())
            batches.append(batch)
        if not batches:
            return pl.scan_parquet(path).head(0).collect()
        return pl.concat(batches, rechunk=False)
    except ClvlensError:
        raise
    except Exception as exc:  # Polars raises several unrelated types for damaged files
        text = str(exc).strip().splitlines()
        raise ClvlensError(f"{path}: not a readable Parquet file ({text[0][:200] if text else type(exc).__name__})"
                           ) from None
