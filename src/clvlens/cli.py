"""The `clvlens` command line: run a pipeline into a workspace, write an RFM summary, or try it all on demo data.

Errors are printed as one line on stderr with a non-zero exit code; set CLVLENS_DEBUG=1 to see the traceback.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from clvlens import __version__
from clvlens.errors import ClvlensError

app = typer.Typer(
    name="clvlens",
    help="Customer-value intelligence from raw e-commerce transactions.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
errors = Console(stderr=True)

FormatOption = Annotated[
    str, typer.Option("--format", "-f", help="auto, olist, online_retail, cdnow, csv, parquet or excel.")
]
TimeUnitOption = Annotated[str, typer.Option("--time-unit", help="Unit of recency and T: D, W or M.")]
EndOption = Annotated[
    str | None, typer.Option("--observation-end", help="Last date observed (YYYY-MM-DD); default: last purchase.")
]
MapOption = Annotated[
    list[str] | None, typer.Option("--map", help="Column mapping canonical=source, e.g. --map customer_id=Kunde.")
]


@contextmanager
def steps_progress(steps: tuple[str, ...]) -> Iterator[Callable[[str], None]]:
    """A rich progress bar over named steps; yields the callback the pipeline calls as each step starts."""
    progress = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
        disable=not errors.is_terminal,
    )
    task = progress.add_task("starting", total=len(steps))
    started = False

    def advance(step: str) -> None:
        nonlocal started
        if started:
            progress.advance(task)
        started = True
        progress.update(task, description=step)

    with progress:
        yield advance
        progress.update(task, completed=len(steps))


@app.command()
def run(
    source: Annotated[str, typer.Argument(help="A file, an Olist folder, or a CDNOW file.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Workspace folder to write.")] = Path("clvlens-workspace"),
    format: FormatOption = "auto",
    time_unit: TimeUnitOption = "W",
    observation_end: EndOption = None,
    map: MapOption = None,
) -> None:
    """Clean a transaction log and write the workspace (DIR/clvlens.duckdb)."""
    from clvlens.data.schema import parse_mapping_option
    from clvlens.pipeline import RunSettings, run_pipeline
    from clvlens.pipeline.run import STEPS

    settings = RunSettings(
        source, out, format, time_unit.upper(), observation_end, parse_mapping_option(map or [])
    )
    with steps_progress(STEPS) as progress:
        result = run_pipeline(settings, progress)
    _print_run(result)


@app.command()
def summary(
    source: Annotated[str, typer.Argument(help="A file, an Olist folder, or a CDNOW file.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file: .csv or .parquet.")],
    format: FormatOption = "auto",
    time_unit: TimeUnitOption = "D",
    observation_end: EndOption = None,
    calibration_end: Annotated[
        str | None, typer.Option("--calibration-end", help="End of calibration (YYYY-MM-DD): adds holdout columns.")
    ] = None,
    decimals: Annotated[int | None, typer.Option(help="Round recency, T and values to this many decimals.")] = None,
    map: MapOption = None,
) -> None:
    """Write the RFM summary (frequency, recency, T, monetary value) of a transaction log."""
    import polars as pl

    from clvlens.data import load_source
    from clvlens.data.schema import parse_mapping_option
    from clvlens.summary import rfm_summary
    from clvlens.summary.rfm import sort_by_customer

    suffix = out.suffix.lower()
    if suffix not in {".csv", ".parquet"}:
        raise ClvlensError(f"{out}: the output must end in .csv or .parquet")
    with steps_progress(("load and clean", "summarise", "write")) as progress:
        progress("load and clean")
        cleaned = load_source(source, format=format, mapping=parse_mapping_option(map or []))
        progress("summarise")
        table = rfm_summary(
            cleaned.transactions,
            time_unit=time_unit,
            observation_end=observation_end,
            calibration_end=calibration_end,
        )
        table = sort_by_customer(table)
        if decimals is not None:
            table = table.with_columns(pl.col(pl.Float64).round(decimals))
        progress("write")
        out.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".csv":
            table.write_csv(out, datetime_format="%Y-%m-%d %H:%M:%S")
        else:
            table.write_parquet(out)
    console.print(
        f"{table.height:,} customers -> {out} "
        f"({cleaned.report.kept_rows:,} of {cleaned.report.input_rows:,} rows kept)"
    )


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the demo data and workspace.")] = Path(
        "clvlens-demo"
    ),
    customers: Annotated[int, typer.Option(help="Number of demo customers.")] = 5000,
    seed: Annotated[int, typer.Option(help="Random seed of the demo store.")] = 7,
    no_dashboard: Annotated[
        bool, typer.Option("--no-dashboard", help="Do not open the dashboard (it does not exist yet).")
    ] = False,
) -> None:
    """Generate the demo store and run the whole pipeline on it."""
    from clvlens.data.demo import generate_demo_store, write_flat_log
    from clvlens.pipeline import RunSettings, run_pipeline
    from clvlens.pipeline.run import STEPS

    started = time.perf_counter()
    with steps_progress(("generate demo store", *STEPS)) as progress:
        progress("generate demo store")
        store = generate_demo_store(n_customers=customers, seed=seed)
        log = write_flat_log(store, Path(out) / "demo_transactions.csv")
        result = run_pipeline(RunSettings(str(log), out, "auto", store.truth.time_unit), progress)
    console.print(f"demo store: {customers:,} customers, {len(store.transactions):,} log rows -> {log}")
    _print_run(result)
    console.print(f"[dim]done in {time.perf_counter() - started:.1f} s[/dim]")


def _print_run(result: Any) -> None:
    report = result.cleaned.report
    table = Table(title="Cleaning report", show_lines=False)
    for column in ("outcome", "rows", "amount", "share"):
        table.add_column(column, justify="left" if column == "outcome" else "right")
    for outcome, rows, amount, share, _ in report.to_frame().iter_rows():
        table.add_row(outcome, f"{rows:,}", f"{amount:,.2f}", f"{share:.1%}")
    console.print(table)
    customers = result.customers
    repeaters = int((customers.get_column("frequency") > 0).sum())
    console.print(
        f"{customers.height:,} customers ({repeaters / max(customers.height, 1):.1%} bought again), "
        f"time unit {result.info['time_unit']}, observed to {result.info['observation_end']}"
    )
    top = customers.sort("total_value", descending=True).head(5)
    if top.height:
        best = Table(title="Top customers by historical value")
        for column in ("customer_id", "frequency", "recency", "T", "total_value", "region"):
            best.add_column(column, justify="left" if column in {"customer_id", "region"} else "right")
        for row in top.iter_rows(named=True):
            best.add_row(
                str(row["customer_id"]),
                str(row["frequency"]),
                f"{row['recency']:.1f}",
                f"{row['T']:.1f}",
                f"{row['total_value']:,.2f}",
                str(row.get("region") or ""),
            )
        console.print(best)
    console.print(f"workspace: [bold]{result.workspace}[/bold]")


@app.callback(invoke_without_command=True)
def _version(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        console.print(f"clvlens {__version__}")
        raise typer.Exit()


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turning every error into one line on stderr and a non-zero exit code."""
    try:
        app(args=argv, standalone_mode=False)
    except ClvlensError as exc:
        errors.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        return 2
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except (typer.Abort, KeyboardInterrupt):
        errors.print("[red]error:[/red] interrupted", highlight=False)
        return 130
    except Exception as exc:  # the promise is one line, never a traceback, whatever went wrong
        import click

        if isinstance(exc, click.ClickException):
            errors.print(f"[red]error:[/red] {exc.format_message()}", highlight=False, soft_wrap=True)
            return exc.exit_code
        if os.environ.get("CLVLENS_DEBUG"):
            raise
        message = " ".join(str(exc).split()) or type(exc).__name__
        errors.print(
            f"[red]error:[/red] unexpected {type(exc).__name__}: {message[:300]} (set CLVLENS_DEBUG=1 for details)",
            highlight=False,
            soft_wrap=True,
        )
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
