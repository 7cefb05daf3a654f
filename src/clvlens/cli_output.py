"""How the CLI shows a run: rich tables of what the pipeline computed (formatting only, no computation)."""

from __future__ import annotations

from typing import Any

import polars as pl
from rich.console import Console
from rich.table import Table

TOP_CUSTOMERS = 10


def print_cleaning(console: Console, report: Any) -> None:
    table = Table(title="Cleaning report")
    for column in ("outcome", "rows", "amount", "share"):
        table.add_column(column, justify="left" if column == "outcome" else "right")
    for outcome, rows, amount, share, _ in report.to_frame().iter_rows():
        shown = f"{amount:,.2f}" if amount is not None else "-"  # null: the sum overflowed (implausible amounts)
        table.add_row(outcome, f"{rows:,}", shown, f"{share:.1%}")
    console.print(table)


def print_models(console: Console, fitted: Any) -> None:
    """The chosen model's parameters with standard errors, and how every candidate scored."""
    selection = fitted.selection
    model = fitted.transaction_model
    result = model.fit_result_
    params = Table(title=f"Chosen model: {selection.chosen} (by {selection.criterion.replace('_', ' ')})")
    for column in ("parameter", "estimate", "std. error"):
        params.add_column(column, justify="left" if column == "parameter" else "right")
    for name, value in model.params_.items():
        error = result.standard_errors.get(name)
        params.add_row(name, f"{value:.4g}", "-" if error is None else f"{error:.3g}")
    console.print(params)
    if selection.candidates:
        table = Table(title="Candidates")
        for column in ("model", "log-likelihood", "BIC", "holdout MAE", "note"):
            table.add_column(column, justify="left" if column in {"model", "note"} else "right")
        for row in selection.rows():
            table.add_row(
                row["model"] + (" *" if row["chosen"] else ""),
                _number(row["log_likelihood"], ",.2f"),
                _number(row["bic"], ",.1f"),
                _number(row["holdout_mae"], ".4f"),
                row["error"] or "",
            )
        console.print(table)
    converged = "converged" if result.converged else f"NOT converged ({result.message})"
    console.print(
        f"{result.optimizer}, {result.iterations} iterations, {converged}; gradient norm {result.gradient_norm:.2g}; "
        f"{fitted.spend_note}",
        highlight=False,
    )


def print_top_customers(console: Console, customers: pl.DataFrame, horizon: str) -> None:
    if "clv" not in customers.columns:
        top = customers.sort("total_value", descending=True).head(TOP_CUSTOMERS)
        columns = ("customer_id", "frequency", "recency", "T", "total_value", "region")
        title = "Top customers by historical value"
    else:
        top = customers.sort("clv", descending=True).head(TOP_CUSTOMERS)
        columns = ("customer_id", "frequency", "total_value", "p_alive", "expected_purchases", "clv", "clv_interval")
        title = f"Top customers by projected value over {horizon}"
    table = Table(title=title)
    for column in columns:
        table.add_column(column, justify="left" if column in {"customer_id", "region"} else "right")
    for row in top.iter_rows(named=True):
        cells = []
        for column in columns:
            if column == "clv_interval":
                absent = row["clv_lower"] is None or row["clv_upper"] is None  # no interval could be given
                cells.append("n/a" if absent else f"{row['clv_lower']:,.0f} - {row['clv_upper']:,.0f}")
            elif column in {"p_alive"}:
                cells.append(f"{row[column]:.2f}")
            elif column in {"recency", "T", "expected_purchases"}:
                cells.append(f"{row[column]:.1f}")
            elif column in {"total_value", "clv"}:
                cells.append(f"{row[column]:,.2f}")
            else:
                cells.append(str(row.get(column) if row.get(column) is not None else ""))
        table.add_row(*cells)
    console.print(table)


def print_headline(console: Console, strategy: Any) -> None:
    table = Table(title="Headline", show_header=False)
    table.add_column("figure")
    table.add_column("value", justify="right")
    for label, value in strategy.headline():
        table.add_row(label, value)
    console.print(table)


SCORECARD_COLUMNS = (
    ("mae_value", "MAE value", ",.2f"),
    ("bias_value", "bias value", ",.2f"),
    ("mae_purchases", "MAE purch.", ".3f"),
    ("top20_share", "top 20% share", ".1%"),
    ("gini_norm", "norm. Gini", ".3f"),
    ("spearman", "Spearman", ".3f"),
    ("health_auc", "health AUC", ".3f"),
)


def print_scorecard(console: Console, card: Any) -> None:
    """Every model's holdout figures, one row each, with their standard errors (the scorecard scores a sample
    of customers); failed models show their error."""
    sample = getattr(card, "sample", None)
    scored = f"; {sample.describe()}" if sample is not None and sample.population else ""
    table = Table(
        title=f"Scorecard: holdout {card.calibration_end.date()} to {card.observation_end.date()} "
        f"({card.holdout_length:.1f} {card.time_unit}){scored}",
        caption="figure ±standard error over the customers scored (random groups)",
    )
    table.add_column("model")
    present = [c for c in SCORECARD_COLUMNS if c[0] in card.table.columns]
    for _, label, _ in present:
        table.add_column(label, justify="right")
    for row in card.table.iter_rows(named=True):
        if row.get("error"):
            table.add_row(row["model"], f"[red]{row['error'][:60]}[/red]", *[""] * (len(present) - 1))
            continue
        table.add_row(row["model"], *(_with_error(row[key], row.get(f"{key}_se"), fmt) for key, _, fmt in present))
    console.print(table)


def _with_error(value: Any, error: Any, fmt: str) -> str:
    """``value ±error`` (the error alone dropped when missing)."""
    text = _number(value, fmt)
    if text == "-" or error is None or (isinstance(error, float) and error != error):
        return text
    return f"{text} ±{format(error, fmt.replace(',', ''))}"


def print_run(console: Console, result: Any) -> None:
    print_cleaning(console, result.cleaned.report)
    customers = result.customers
    repeaters = int((customers.get_column("frequency") > 0).sum())
    console.print(
        f"{customers.height:,} customers ({repeaters / max(customers.height, 1):.1%} bought again), "
        f"time unit {result.info['time_unit']}, observed to {result.info['observation_end']}",
        highlight=False,
    )
    if result.fitted is not None:
        print_models(console, result.fitted)
    print_top_customers(console, customers, result.info["horizon"])
    if result.strategy is not None:
        print_headline(console, result.strategy)
    if "health_score" in result.info:
        score = result.info["health_score"]
        meaning = "P(alive)" if score == "p_alive" else f"P(a purchase in the next {result.info['health_window']})"
        figures = f", AUC {result.info['health_auc']:.3f} on the internal split" if "health_auc" in result.info else ""
        console.print(
            f"health = {score} ({meaning}{figures}); it drives the asset matrix, segments and revenue at risk",
            highlight=False,
        )
    if result.scorecard is not None:
        print_scorecard(console, result.scorecard)
    if result.basket is not None:
        console.print(
            f"market basket: {result.basket.rules.height:,} rules, "
            f"{result.basket.next_best_offer.height:,} next-best offers",
            highlight=False,
        )
    for key in ("value_basis", "ltv_ml_basis", "ml_calibration", "ml_training_sample", "model_criterion",
                "seasonality"):
        if result.info.get(key):
            console.print(f"[dim]{key}: {result.info[key]}[/dim]", highlight=False)
    for stage, reason in result.skipped.items():
        console.print(f"[yellow]skipped {stage}:[/yellow] {reason}", highlight=False)
    console.print(f"workspace: [bold]{result.workspace}[/bold]")


def _number(value: Any, fmt: str) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    return format(value, fmt)
