"""The `clvlens` command line: run a pipeline into a workspace, write an RFM summary, or try it all on demo data.

Errors are printed as one line on stderr with a non-zero exit code; set CLVLENS_DEBUG=1 to see the traceback.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from clvlens import __version__
from clvlens.cli_output import print_models, print_run, print_scorecard, print_top_customers
from clvlens.errors import ClvlensError
from clvlens.resources import StepCost, StepMeter, megabytes

app = typer.Typer(
    name="clvlens",
    help="Customer-value intelligence from raw e-commerce transactions.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
def _console(stderr: bool = False) -> Console:
    """A terminal console, or a wide one that never wraps lines when the output is piped or redirected."""
    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr) if stream.isatty() else Console(stderr=stderr, width=400, soft_wrap=True)


console = _console()
errors = _console(stderr=True)

FormatOption = Annotated[
    str, typer.Option("--format", "-f", help="auto, olist, online_retail, cdnow, csv, parquet or excel.")
]
TimeUnitOption = Annotated[str, typer.Option("--time-unit", help="Unit of recency and T: D, W or M.")]
EndOption = Annotated[
    str | None, typer.Option("--observation-end", help="Last date observed (YYYY-MM-DD); default: last purchase.")
]
HorizonOption = Annotated[str, typer.Option("--horizon", help="CLV horizon: 6M, 12M, 52W, 365D...")]
DiscountOption = Annotated[float, typer.Option("--discount-rate", help="Annual discount rate, e.g. 0.10.")]
MarginOption = Annotated[float, typer.Option("--margin", help="Profit margin applied to spend (1 = revenue).")]
HoldoutOption = Annotated[
    str | None,
    typer.Option(
        "--holdout",
        help="Choose the model by its error on this last stretch (e.g. 26W); default auto: a quarter of the span, "
        "at most the horizon (BIC where the data are too short); 'bic' for BIC alone.",
    ),
]
FROM_WORKSPACE = " Default: the workspace's setting."
StepHorizon = Annotated[str | None, typer.Option("--horizon", help="CLV horizon: 6M, 12M, 52W..." + FROM_WORKSPACE)]
StepDiscount = Annotated[float | None, typer.Option("--discount-rate", help="Annual discount rate." + FROM_WORKSPACE)]
StepMargin = Annotated[float | None, typer.Option("--margin", help="Profit margin on spend." + FROM_WORKSPACE)]
StepHoldout = Annotated[str | None, typer.Option("--holdout", help="Holdout length, auto or bic." + FROM_WORKSPACE)]
StepModels = Annotated[str | None, typer.Option("--models", help="Comma-separated candidates." + FROM_WORKSPACE)]
ModelsOption = Annotated[
    str, typer.Option("--models", help="Comma-separated candidates among bgnbd, mbgnbd, paretonbd.")
]
SkipOption = Annotated[
    str | None, typer.Option("--skip", help="Stages to leave out, comma-separated: ml, basket, scorecard, report.")
]
CurrencyOption = Annotated[
    str | None, typer.Option("--currency", help="ISO code of the money (BRL, GBP, USD...); default: from the source.")
]
MapOption = Annotated[
    list[str] | None, typer.Option("--map", help="Column mapping canonical=source, e.g. --map customer_id=Kunde.")
]
DateFormatOption = Annotated[
    str | None, typer.Option("--date-format", help="Format of the timestamps, e.g. %d/%m/%Y %H:%M (default: detect).")
]
DayFirstOption = Annotated[
    bool | None,
    typer.Option("--dayfirst/--monthfirst", help="Read 03/04/2024 as 3 April (day first) or 4 March (month first)."),
]


@contextmanager
def steps_progress(steps: tuple[str, ...], timings: list[StepCost] | None = None) -> Iterator[Callable[[str], None]]:
    """A rich progress bar over named steps; yields the callback the pipeline calls as each step starts.

    Each finished step is printed with its wall time, CPU time and the process's peak memory while it ran: a ticked
    line above the bar in a terminal, a plain unwrapped line on stdout when piped. `timings` collects the costs.
    """
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
    record = timings if timings is not None else []

    def show(cost: StepCost | None) -> None:
        if cost is None:
            return
        record.append(cost)
        usage = f"cpu {cost.cpu_seconds:.1f} s, peak {megabytes(cost.peak_bytes)}"
        if errors.is_terminal:
            progress.console.print(f"[green]✓[/green] {cost.name:<26} {cost.seconds:7.1f} s   ({usage})",
                                   highlight=False)
        else:  # on stdout, with the run's other output: stderr stays the one line of an error
            console.print(f"[{len(record)}/{len(steps)}] {cost.name}: {cost.seconds:.1f} s ({usage})",
                          highlight=False, soft_wrap=True)

    with StepMeter() as meter, progress:
        def advance(step: str) -> None:
            ended = meter.start(step)
            if ended is not None:
                show(ended)
                progress.advance(task)
            progress.update(task, description=step)

        yield advance
        show(meter.finish())
        progress.update(task, completed=len(steps))


@app.command()
def run(
    source: Annotated[str, typer.Argument(help="A file, an Olist folder, or a CDNOW file.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Workspace folder to write.")] = Path("clvlens-workspace"),
    format: FormatOption = "auto",
    time_unit: TimeUnitOption = "W",
    observation_end: EndOption = None,
    map: MapOption = None,
    horizon: HorizonOption = "12M",
    discount_rate: DiscountOption = 0.10,
    margin: MarginOption = 1.0,
    holdout: HoldoutOption = None,
    models: ModelsOption = "bgnbd,mbgnbd,paretonbd",
    date_format: DateFormatOption = None,
    dayfirst: DayFirstOption = None,
    health_window: Annotated[
        str | None,
        typer.Option("--health-window", help="Health = P(a purchase in this window): 13W, 6M...; default the horizon."),
    ] = None,
    skip: SkipOption = None,
    currency: CurrencyOption = None,
    scorecard_sample: Annotated[
        int,
        typer.Option("--scorecard-sample", min=0,
                     help="Customers the scorecard scores (a reproducible sample); 0 = every customer."),
    ] = 25_000,
) -> None:
    """Clean a transaction log, fit the models, build the strategy tables, write the workspace and its report."""
    from clvlens.data.schema import parse_mapping_option
    from clvlens.pipeline import RunSettings

    settings = RunSettings(
        source,
        out,
        format,
        time_unit.upper(),
        observation_end,
        parse_mapping_option(map or []),
        models=_model_settings(horizon, discount_rate, margin, holdout, models),
        date_format=date_format,
        dayfirst=dayfirst,
        health_window=health_window,
        skip=_skip_option(skip),
        currency=currency,
        scorecard_sample=scorecard_sample or None,
    )
    _run_and_report(settings)


def _run_and_report(settings: Any, before: tuple[str, ...] = (), prepare: Callable[[Callable[[str], None]], Any]
                    | None = None) -> None:
    """Run the pipeline (after the `before` steps that `prepare` performs), write the report unless skipped,
    then print the detailed tables, the plain-words summary and the stage timings."""
    from clvlens.pipeline import run_pipeline
    from clvlens.pipeline.run import STEPS

    if _as_program:
        # the program's own process: what its imports built (modules, classes, functions) lives to its end, so it
        # is set beyond the cyclic garbage collector's reach; each of a run's full collections, during which every
        # thread waits, then walks only what the run itself made (bench/bench_run_threads.py --as-program)
        gc.freeze()
    with_report = "report" not in settings.skip
    timings: list[StepCost] = []
    report, note = None, "left out by --skip" if not with_report else None
    with steps_progress((*before, *STEPS, *(("write report",) if with_report else ())), timings) as progress:
        if prepare is not None:
            settings = prepare(progress)
        result = run_pipeline(settings, progress)
        if with_report:
            progress("write report")
            report, note = _write_report(result.workspace.parent)
    print_run(console, result)
    from clvlens.cli_summary import print_summary, print_timings

    print_summary(console, result.workspace.parent, report, note)
    print_timings(console, timings)


def _write_report(folder: Path) -> tuple[Path | None, str | None]:
    """The run's report; a failure is reported in one line and does not undo the written workspace."""
    from clvlens.pipeline.workspace import fault_point, workspace_lock
    from clvlens.report import write_report

    try:
        with workspace_lock(folder):  # another run may have taken the folder since ours was written
            fault_point("write report")
            return write_report(folder), None
    except ClvlensError as exc:
        return None, str(exc)
    except Exception as exc:  # the workspace is written; the report must not turn the run into a failure
        return None, f"unexpected {type(exc).__name__}: {' '.join(str(exc).split())[:200]}"


def _skip_option(skip: str | None) -> frozenset[str]:
    from clvlens.pipeline.run import SKIPPABLE

    stages = frozenset(part.strip().lower() for part in (skip or "").split(",") if part.strip())
    unknown = sorted(stages - set(SKIPPABLE))
    if unknown:
        raise ClvlensError(f"--skip: unknown stage {', '.join(unknown)} (choose among {', '.join(SKIPPABLE)})")
    return stages


@app.command()
def report(
    workspace: Annotated[Path, typer.Argument(help="A workspace folder written by clvlens run.")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="HTML file to write; default DIR/report.html.")]
    = None,
    pdf: Annotated[bool, typer.Option("--pdf", help="Also print the report to PDF with headless Chromium.")] = False,
    currency: CurrencyOption = None,
) -> None:
    """Write the executive report (one self-contained HTML file that opens offline), and optionally its PDF."""
    from clvlens.report import print_pdf, write_report

    timings: list[StepCost] = []
    with steps_progress(("write report", *(("print PDF",) if pdf else ())), timings) as progress:
        progress("write report")
        html = write_report(workspace, out, currency=currency)
        if pdf:
            progress("print PDF")
            document = print_pdf(html, html.with_suffix(".pdf"))
    console.print(f"report: [bold]{html}[/bold]", highlight=False, soft_wrap=True)
    if pdf:
        console.print(f"PDF:    [bold]{document}[/bold]", highlight=False, soft_wrap=True)


@app.command()
def export(
    workspace: Annotated[Path, typer.Argument(help="A workspace folder written by clvlens run.")],
    to: Annotated[str, typer.Option("--to", help="parquet, csv or xlsx.")] = "parquet",
    dest: Annotated[Path | None, typer.Option("--dest", help="Folder to write; default DIR/export.")] = None,
    currency: CurrencyOption = None,
) -> None:
    """Export the workspace as a BI star schema (facts, dimensions, rules, offers) with a README of its keys."""
    from clvlens.export import export_workspace

    with steps_progress((f"export {to}",)) as progress:
        progress(f"export {to}")
        result = export_workspace(workspace, to, dest, currency=currency)
    rows = ", ".join(f"{name} {count:,}" for name, count in result.rows.items())
    console.print(f"export: [bold]{result.folder}[/bold] ({rows}); keys and measures in "
                  f"{result.folder / 'README.md'}", highlight=False, soft_wrap=True)


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
    date_format: DateFormatOption = None,
    dayfirst: DayFirstOption = None,
) -> None:
    """Write the RFM summary (frequency, recency, T, monetary value) of a transaction log."""
    import polars as pl

    from clvlens.data import load_source
    from clvlens.data.formula_safety import neutralise_formulas
    from clvlens.data.schema import parse_mapping_option
    from clvlens.summary import rfm_summary
    from clvlens.summary.rfm import sort_by_customer

    suffix = out.suffix.lower()
    if suffix not in {".csv", ".parquet"}:
        raise ClvlensError(f"{out}: the output must end in .csv or .parquet")
    with steps_progress(("load and clean", "summarise", "write")) as progress:
        progress("load and clean")
        cleaned = load_source(
            source, format=format, mapping=parse_mapping_option(map or []), date_format=date_format,
            dayfirst=dayfirst,
        )
        cleaned.require_transactions()
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
            neutralise_formulas(table).write_csv(out, datetime_format="%Y-%m-%d %H:%M:%S")
        else:
            table.write_parquet(out)
    console.print(
        f"{table.height:,} customers -> {out} "
        f"({cleaned.report.kept_rows:,} of {cleaned.report.input_rows:,} rows kept)"
    )


@app.command()
def fit(
    workspace: Annotated[Path, typer.Argument(help="A workspace folder written by clvlens run.")],
    horizon: StepHorizon = None,
    discount_rate: StepDiscount = None,
    margin: StepMargin = None,
    holdout: StepHoldout = None,
    models: StepModels = None,
) -> None:
    """Fit and select the BTYD and spend models on a workspace; write DIR/models/*.json and refresh its values."""
    from clvlens.pipeline.steps import fit_workspace

    with steps_progress(("fit models",)) as progress:
        progress("fit models")
        fitted = fit_workspace(workspace, horizon=horizon, discount_rate=discount_rate, margin=margin,
                               holdout=holdout, models=models)
    print_models(console, fitted)
    _print_basis(workspace)
    console.print(f"models: [bold]{workspace / 'models'}[/bold]")


@app.command()
def score(
    workspace: Annotated[Path, typer.Argument(help="A workspace folder with fitted models (clvlens fit).")],
    horizon: StepHorizon = None,
    discount_rate: StepDiscount = None,
    margin: StepMargin = None,
) -> None:
    """Score every customer with the saved models: p_alive, expected purchases, spend and CLV with its interval."""
    from clvlens.pipeline.steps import run_settings, score_workspace

    with steps_progress(("score customers",)) as progress:
        progress("score customers")
        customers = score_workspace(workspace, horizon=horizon, discount_rate=discount_rate, margin=margin)
    horizon = run_settings(workspace).get("horizon", "12M")
    print_top_customers(console, customers, horizon)
    _print_basis(workspace)
    console.print(f"{customers.height:,} customers scored in [bold]{workspace}[/bold]")


@app.command()
def evaluate(
    workspace: Annotated[Path, typer.Argument(help="A workspace folder written by clvlens run.")],
    holdout: Annotated[
        str | None,
        typer.Option("--holdout", help="Holdout length, e.g. 13W; default the workspace's, else a quarter of span."),
    ] = None,
) -> None:
    """Score every model (BTYD, ML, naive) on the same holdout customers and store the scorecard."""
    from clvlens.models import parse_horizon
    from clvlens.pipeline.steps import evaluate_workspace

    if holdout is not None:
        parse_horizon(holdout, "D")
    with steps_progress(("scorecard",)) as progress:
        progress("scorecard")
        card = evaluate_workspace(workspace, holdout)
    print_scorecard(console, card)


ml_app = typer.Typer(help="Machine-learned LTV: train or apply the gradient-boosting model.", no_args_is_help=True)
app.add_typer(ml_app, name="ml")


@ml_app.command("train")
def ml_train(
    workspace: Annotated[Path, typer.Argument(help="A workspace folder written by clvlens run.")],
    model: Annotated[str, typer.Option(help="lightgbm, two_part or baseline_gbr.")] = "lightgbm",
    horizon: StepHorizon = None,
) -> None:
    """Train the LTV model (label window = the horizon before the last date) and store ltv_ml on customers."""
    from clvlens.ml.api import MODELS
    from clvlens.models import parse_horizon
    from clvlens.pipeline.steps import train_workspace_ltv

    if model not in MODELS:
        raise ClvlensError(f"--model: {model!r} is not one of {', '.join(MODELS)}")
    parse_horizon(horizon, "D")
    with steps_progress(("train LTV model",)) as progress:
        progress("train LTV model")
        customers = train_workspace_ltv(workspace, model=model, horizon=horizon)
    _print_basis(workspace)
    console.print(
        f"{model} trained; ltv_ml for {customers.height:,} customers, total {customers['ltv_ml'].sum():,.0f}; "
        f"model in [bold]{workspace / 'models' / 'ltv_ml'}[/bold]",
        highlight=False,
    )


@ml_app.command("predict")
def ml_predict(workspace: Annotated[Path, typer.Argument(help="A workspace with a trained LTV model.")]) -> None:
    """Score every customer with the saved LTV model and store ltv_ml on customers."""
    from clvlens.pipeline.steps import predict_workspace_ltv

    with steps_progress(("predict LTV",)) as progress:
        progress("predict LTV")
        customers = predict_workspace_ltv(workspace)
    console.print(f"ltv_ml for {customers.height:,} customers, total {customers['ltv_ml'].sum():,.0f}", highlight=False)


def _print_basis(workspace: Path) -> None:
    """The basis every value of the workspace is now on (horizon, discounting, margin) and how ltv_ml was checked."""
    from clvlens.pipeline.steps import run_settings

    info = run_settings(workspace)
    for key in ("value_basis", "ltv_ml_basis", "ml_calibration", "seasonality"):
        if info.get(key):
            console.print(f"[dim]{key}: {info[key]}[/dim]", highlight=False)


def _model_settings(horizon: str, discount_rate: float, margin: float, holdout: str | None, models: str) -> Any:
    from clvlens.pipeline.modeling import ModelSettings

    names = tuple(name.strip() for name in models.split(",") if name.strip())
    return ModelSettings(horizon=horizon, discount_rate=discount_rate, margin=margin, holdout=holdout, models=names)


@app.command()
def dashboard(
    workspace: Annotated[Path, typer.Argument(help="A workspace folder written by clvlens run.")],
    port: Annotated[int, typer.Option("--port", help="Port to serve on.")] = 8501,
    host: Annotated[str, typer.Option("--host", help="Address to listen on (loopback by default).")] = "127.0.0.1",
) -> None:
    """Serve the interactive dashboard of a workspace (Streamlit) until Ctrl-C."""
    _serve_dashboard(workspace, port, host)


def _serve_dashboard(workspace: Path, port: int, host: str) -> None:
    from clvlens.dashboard import launch

    server = launch(workspace, port=port, host=host)
    console.print(f"dashboard: [bold]http://{host}:{port}[/bold] (Ctrl-C to stop)", highlight=False, soft_wrap=True)
    try:
        code = server.wait()
    except KeyboardInterrupt:  # Ctrl-C is how a served dashboard is meant to end
        code = 0
        console.print("dashboard: stopped", highlight=False)
    finally:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except Exception:  # still running after 10 s: stop it for good
                server.kill()
    if code:
        raise ClvlensError(f"the dashboard server stopped with exit code {code}")


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the demo data and workspace.")] = Path(
        "clvlens-demo"
    ),
    customers: Annotated[int, typer.Option(help="Number of demo customers.")] = 5000,
    seed: Annotated[int, typer.Option(help="Random seed of the demo store.")] = 7,
    no_dashboard: Annotated[
        bool, typer.Option("--no-dashboard", help="Stop after the run instead of opening the dashboard.")
    ] = False,
    port: Annotated[int, typer.Option("--port", help="Port of the dashboard.")] = 8501,
) -> None:
    """Generate the demo store, run the whole pipeline on it, write the report and open the dashboard."""
    from clvlens.data.demo import generate_demo_store, write_flat_log
    from clvlens.pipeline import RunSettings
    from clvlens.pipeline.checks import FREE_SPACE_FLOOR, check_output_folder
    from clvlens.pipeline.workspace import workspace_lock

    if customers < 1:
        raise ClvlensError(f"--customers must be at least 1, got {customers}")
    # the demo log takes about 300 bytes per customer, the workspace a few times that
    check_output_folder(out, FREE_SPACE_FLOOR + 2_000 * customers)

    def prepare(progress: Callable[[str], None]) -> Any:
        progress("generate demo store")
        store = generate_demo_store(n_customers=customers, seed=seed)
        log = write_flat_log(store, Path(out) / "demo_transactions.csv")
        console.print(f"demo store: {customers:,} customers, {len(store.transactions):,} log rows -> {log}",
                      highlight=False, soft_wrap=True)
        return RunSettings(str(log), out, "auto", store.truth.time_unit, currency="BRL")

    # the lock covers the demo log too, which is written into the same folder before the run starts
    with workspace_lock(out):
        _run_and_report(RunSettings("", out), ("generate demo store",), prepare)
    if no_dashboard:
        return
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        # not run by a person at a terminal (a script, CI, a pipe): serving until Ctrl-C would never end
        console.print(f"dashboard: not started (no terminal); open it with: clvlens dashboard {out}",
                      highlight=False, soft_wrap=True)
        return
    _serve_dashboard(out, port, "127.0.0.1")


@app.callback(invoke_without_command=True)
def _version(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        console.print(f"clvlens {__version__}")
        raise typer.Exit()


def _click_exception_type() -> type[Exception]:
    """Click's base exception as typer raises it: typer 0.29+ bundles its own click, older ones use the package."""
    for base in typer.BadParameter.__mro__:
        if base.__name__ == "ClickException":
            return base
    return typer.BadParameter


class _Terminated(BaseException):
    """SIGTERM, raised where the run is so that it unwinds like Ctrl-C (temporary files removed, lock released).

    Not an ``Exception``, as KeyboardInterrupt is not: the handlers that keep a run going past an optional part's
    failure (``except Exception``: the BTYD features, the learned health score, a scorecard contender, the report)
    would otherwise take it for that part's error, and the run would go on to the end as if never asked to stop.
    """


#: a signal's exit code and the line that says it
INTERRUPTED = (130, "interrupted (Ctrl-C); no partial workspace was written")
TERMINATED = (143, "terminated (SIGTERM); no partial workspace was written")


def signal_exit(error: BaseException) -> tuple[int, str] | None:
    """INTERRUPTED or TERMINATED when ``error`` is Ctrl-C or SIGTERM, or was raised because of one (its cause or
    context is), else None.

    A library may turn the exception a signal handler raised into its own: a pybind11 extension module (SciPy's
    optimisers import several) that Ctrl-C interrupts while it initialises raises "ImportError: initialization
    failed" from the KeyboardInterrupt. That is still the user's Ctrl-C, not an unexpected error.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, KeyboardInterrupt | typer.Abort):
            return INTERRUPTED
        if isinstance(current, _Terminated):
            return TERMINATED
        current = current.__cause__ or current.__context__
    return None


class _RaiseOnce:
    """A signal handler that raises ``error`` the first time only: Polars checks for signals inside its work as
    well, so one Ctrl-C or SIGTERM can reach the handler twice, and a second exception would cut short the clean-up
    the first one started (the temporary workspace would stay behind)."""

    def __init__(self, error: type[BaseException]) -> None:
        self.error = error
        self.raised = False

    def __call__(self, signum: int, frame: object) -> None:
        if not self.raised:
            self.raised = True
            raise self.error()


_as_program = False  # set by entry(): this process is the clvlens program, running no one else's code


def entry() -> None:
    """The ``clvlens`` program: :func:`main` on the command line's arguments, then :func:`exit_now`. Its process
    runs no one else's code, so LightGBM loads without the scikit-learn interface clvlens never uses
    (:mod:`clvlens.ml._lightgbm_import`), and a run sets what the imports built beyond the garbage collector's
    reach (see :func:`_run_and_report`)."""
    global _as_program
    from clvlens.ml._lightgbm_import import without_sklearn_interface

    _as_program = True
    without_sklearn_interface()
    exit_now(main())


def exit_now(code: int) -> None:
    """End the program with ``code`` once its exit handlers have run and its output is flushed, without
    tearing down every imported module one by one: with SciPy, scikit-learn, LightGBM and plotly loaded that
    teardown alone took half a second of every run (measured), and frees nothing the system does not free.
    For the program only (``python -m clvlens`` and the ``clvlens`` command), never for a caller of main()."""
    import atexit
    from contextlib import suppress

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):  # a closed pipe (clvlens ... | head) or stream: nothing more to say
            stream.flush()
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turning every error into one line on stderr and a non-zero exit code."""
    import signal

    try:
        previous_term = signal.signal(signal.SIGTERM, _RaiseOnce(_Terminated))
        previous_int = signal.getsignal(signal.SIGINT)
        if previous_int is signal.default_int_handler:  # a SIGINT the caller ignores stays ignored
            signal.signal(signal.SIGINT, _RaiseOnce(KeyboardInterrupt))
        else:
            previous_int = None
    except ValueError:  # not the main thread (an embedding application): leave its signal handling alone
        previous_term = previous_int = None
    try:
        outcome = app(args=argv, standalone_mode=False)
    except ClvlensError as exc:
        signalled = signal_exit(exc)  # an error met while the run unwound from a signal: the signal is the news
        if signalled is not None:
            return _signalled(signalled)
        errors.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        return 2
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except (typer.Abort, KeyboardInterrupt, _Terminated) as exc:
        return _signalled(signal_exit(exc) or INTERRUPTED)
    except _click_exception_type() as exc:
        errors.print(f"[red]error:[/red] {exc.format_message()}", highlight=False, soft_wrap=True)
        return 2 if exc.exit_code in (None, 0, 1) else exc.exit_code
    except Exception as exc:  # the promise is one line, never a traceback, whatever went wrong
        signalled = signal_exit(exc)
        if signalled is not None:
            return _signalled(signalled)
        if os.environ.get("CLVLENS_DEBUG"):
            raise
        message = " ".join(str(exc).split()) or type(exc).__name__
        errors.print(
            f"[red]error:[/red] unexpected {type(exc).__name__}: {message[:300]} (set CLVLENS_DEBUG=1 for details)",
            highlight=False,
            soft_wrap=True,
        )
        return 3
    finally:
        if previous_term is not None:
            signal.signal(signal.SIGTERM, previous_term)
        if previous_int is not None:
            signal.signal(signal.SIGINT, previous_int)
    # click answers Ctrl-C (and typer.Exit raised inside a command) by returning the exit code when not standalone
    if isinstance(outcome, int) and not isinstance(outcome, bool) and outcome != 0:
        return _signalled(INTERRUPTED) if outcome == INTERRUPTED[0] else outcome
    return 0


def _signalled(outcome: tuple[int, str]) -> int:
    code, line = outcome
    errors.print(f"[red]error:[/red] {line}", highlight=False)
    return code


if __name__ == "__main__":
    sys.exit(main())
