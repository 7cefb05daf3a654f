"""The end-of-run summary in plain words: headline KPIs with one-line definitions, where each result lives and the
next commands; and the stage timings. Reads the workspace through `clvlens.workspace` (formatting only)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from clvlens.charts import headline, insights
from clvlens.resources import StepCost, megabytes
from clvlens.workspace import Workspace


def print_timings(console: Console, timings: Sequence[StepCost]) -> None:
    if timings:
        total = sum(cost.seconds for cost in timings)
        cpu = sum(cost.cpu_seconds for cost in timings)
        steps = ", ".join(f"{cost.name} {cost.seconds:.1f} s" for cost in timings)
        peak = megabytes(max(cost.peak_bytes for cost in timings))
        console.print(f"time: {total:.1f} s ({steps}); cpu {cpu:.1f} s; peak memory {peak}", highlight=False,
                      soft_wrap=True)


def print_summary(console: Console, folder: Path, report: Path | None, report_note: str | None = None) -> None:
    """What the run found and where it is, for someone who has not read the docs."""
    with Workspace.open(folder) as workspace:
        info = workspace.run_info
        console.print()
        console.print(f"[bold]What the run found[/bold] (money in {info.currency.code or 'the source currency'}, "
                      f"projections over {info.horizon})", highlight=False, soft_wrap=True)
        for kpi in headline(workspace):
            console.print(f"  {kpi.label}: [bold]{kpi.shown}[/bold] - {kpi.definition}", highlight=False,
                          soft_wrap=True)
        found = insights(workspace)
        if found:
            console.print("[bold]In a sentence or two[/bold]")
            for insight in found[:4]:
                console.print(f"  - {insight.text}", highlight=False, soft_wrap=True)
        tables = ", ".join(sorted(workspace.tables))
    console.print("[bold]Where the results are[/bold]")
    if report is not None:
        console.print(f"  report:  {report}  (open it in a browser; works offline)", highlight=False, soft_wrap=True)
    elif report_note:
        console.print(f"  report:  not written ({report_note})", highlight=False, soft_wrap=True)
    console.print(f"  tables:  {folder / 'clvlens.duckdb'}  ({tables})", highlight=False, soft_wrap=True)
    console.print(f"  models:  {folder / 'models'}", highlight=False, soft_wrap=True)
    console.print(f"  export:  {folder / 'export'}  (after clvlens export)", highlight=False, soft_wrap=True)
    console.print("[bold]Next[/bold]")
    for command, why in (
        (f"clvlens dashboard {folder}", "the interactive dashboard in your browser (localhost)"),
        (f"clvlens export {folder} --to xlsx", "star schema for Power BI, Tableau or Excel (also parquet, csv)"),
        (f"clvlens report {folder} --pdf", "the report as PDF"),
        (f"clvlens evaluate {folder}", "score every model on a holdout"),
        (f"python -c \"from clvlens.workspace import Workspace; print(Workspace.open('{folder}').kpis())\"",
         "read the workspace from Python"),
    ):
        console.print(f"  {command}   # {why}", highlight=False, soft_wrap=True)
