"""`clvlens export`: the workspace as a BI star schema in Parquet, CSV or XLSX, with a README of keys,
relationships and measures. Tables are streamed from DuckDB in batches (bounded memory); files are written into
a staging folder and moved into place when every table is written."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clvlens.errors import ClvlensError
from clvlens.export.readme import export_readme
from clvlens.export.writers import XLSX_MAX_ROWS, write_csv, write_parquet, write_sheet
from clvlens.workspace import Workspace

FORMATS = ("parquet", "csv", "xlsx")
WORKBOOK = "clvlens_export.xlsx"


@dataclass(frozen=True)
class ExportResult:
    folder: Path
    files: list[Path]
    rows: dict[str, int]


def export_workspace(folder: str | Path, to: str = "parquet", dest: str | Path | None = None, *,
                     currency: str | None = None) -> ExportResult:
    """Write the star schema of the workspace in `folder` to `dest` (default DIR/export)."""
    to = to.lower().strip()
    if to not in FORMATS:
        raise ClvlensError(f"export --to: expected one of {', '.join(FORMATS)}, got {to!r}")
    target = Path(dest) if dest is not None else Path(folder) / "export"
    staging = target.parent / f".{target.name}.staging"
    with Workspace.open(folder, currency=currency) as workspace:
        names = workspace.star_tables()
        if to == "xlsx":
            for name in names:  # refuse before writing anything
                rows = _count(workspace.star(name))
                if rows + 1 > XLSX_MAX_ROWS:
                    write_sheet(None, name, None, rows)
        shutil.rmtree(staging, ignore_errors=True)
        try:
            staging.mkdir(parents=True)
        except OSError as exc:
            raise ClvlensError(f"{target}: cannot create the export folder ({exc.strerror})") from None
        try:
            rows = _write(workspace, names, to, staging)
            (staging / "README.md").write_text(
                export_readme(rows, workspace.run_info, workspace.currency, to), encoding="utf-8")
            target.mkdir(parents=True, exist_ok=True)
            files = []
            for produced in sorted(staging.iterdir()):
                os.replace(produced, target / produced.name)
                files.append(target / produced.name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return ExportResult(target, files, rows)


def _write(workspace: Workspace, names: list[str], to: str, staging: Path) -> dict[str, int]:
    rows: dict[str, int] = {}
    if to == "xlsx":
        from clvlens.export._xlsx import XlsxWriter

        with XlsxWriter(staging / WORKBOOK) as workbook:
            for name in names:
                relation = workspace.star(name)
                rows[name] = write_sheet(workbook, name, relation, _count(relation))
        return rows
    for name in names:
        relation = workspace.star(name)
        path = staging / f"{name}.{to}"
        rows[name] = write_parquet(relation, path) if to == "parquet" else write_csv(relation, path)
    return rows


def _count(relation: Any) -> int:
    return int(relation.aggregate("count(*)").fetchall()[0][0])
