"""Headline KPIs with definitions and insight sentences, written from a workspace's own numbers.

Each `Insight` keeps the raw workspace values its sentence quotes (`numbers`), and the sentence writes them with
the workspace's `Formatter`, so a test can check that every number read equals the workspace's, rounded as shown.
Nothing here computes a new figure: the numbers are KPIs, segment, region, cohort, bundle and scorecard rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import polars as pl

from clvlens.analytics.kpis import ValueBasis
from clvlens.charts.theme import Formatter, formatter_for

if TYPE_CHECKING:
    from clvlens.workspace import Workspace

# (KPI name, label, kind) in the order the report and the CLI show them; the value KPIs' labels and definitions
# name the run's horizon and whether a margin was applied (see `_value_words`)
HEADLINE: tuple[tuple[str, str, str], ...] = (
    ("customers", "Customers", "count"),
    ("historical_revenue", "Historical revenue", "money"),
    ("projected_revenue", "Projected {noun} over {horizon} (CLV)", "money"),
    ("revenue_at_risk", "{Noun} at risk over {horizon}", "money"),
    ("opportunity_gap", "Opportunity gap", "money"),
    ("top_10pct_share", "Top 10% of customers hold", "percent"),
    ("one_time_buyer_share", "One-time buyers", "percent"),
    ("average_order_value", "Average order value", "money"),
)
PLAIN_DEFINITIONS: dict[str, str] = {
    "customers": "distinct customers with at least one kept purchase",
    "historical_revenue": "what the customers spent up to the observation end",
    "projected_revenue": "what the customers are expected to spend over the next {horizon}{margin} (the sum of "
    "CLV)",
    "revenue_at_risk": "{noun} the fading customers (At-Risk and Critical Churn) are expected to stop bringing over "
    "the next {horizon} if nothing is done, from what they used to spend and their chance of fading; at most the "
    "projected {noun}",
    "opportunity_gap": "extra value if every Growth customer reached the typical High-Value customer",
    "top_10pct_share": "share of projected value held by the 10% most valuable customers",
    "one_time_buyer_share": "customers who bought on a single day only",
    "average_order_value": "historical revenue divided by orders",
}


@dataclass(frozen=True)
class Kpi:
    name: str
    label: str
    value: float
    shown: str
    definition: str


@dataclass(frozen=True)
class Insight:
    key: str
    text: str
    numbers: dict[str, float] = field(default_factory=dict)


def format_value(fmt: Formatter, kind: str, value: float) -> str:
    if kind == "money":
        return fmt.money(value)
    if kind == "percent":
        return fmt.percent(value)
    return fmt.count(value)


def headline(workspace: Workspace) -> list[Kpi]:
    """The headline KPIs present in the workspace, formatted, each with a plain one-line definition."""
    fmt = formatter_for(workspace.currency)
    kpis = workspace.kpis()
    if kpis is None:
        totals = workspace.customer_totals()
        return [Kpi("customers", "Customers", totals["customers"], fmt.count(totals["customers"]),
                    PLAIN_DEFINITIONS["customers"]),
                Kpi("historical_revenue", "Historical revenue", totals["historical_revenue"],
                    fmt.money(totals["historical_revenue"]), PLAIN_DEFINITIONS["historical_revenue"])]
    values = dict(zip(kpis.get_column("name").to_list(), kpis.get_column("value").to_list(), strict=True))
    words = _value_words(workspace)
    return [Kpi(name, label.format(**words), float(values[name]), format_value(fmt, kind, float(values[name])),
                PLAIN_DEFINITIONS[name].format(**words))
            for name, label, kind in HEADLINE if values.get(name) is not None]


def _value_words(workspace: Workspace) -> dict[str, str]:
    """The words that state the projected values' basis: the horizon, and 'margin' where one was applied (the
    value KPIs are on the basis of CLV, analytics.kpis.ValueBasis)."""
    info = workspace.run_info
    margin = 1.0 if info.margin is None else info.margin
    noun = ValueBasis(horizon=info.horizon, margin=margin).noun
    margin_words = "" if margin == 1 else f", times the margin {margin:g}"
    return {"noun": noun, "Noun": noun.capitalize(), "horizon": info.horizon, "margin": margin_words}


def insights(workspace: Workspace) -> list[Insight]:
    """Every insight the workspace has the numbers for, in reading order."""
    fmt = formatter_for(workspace.currency)
    horizon = workspace.run_info.horizon
    found: list[Insight | None] = [
        _concentration(workspace, fmt, horizon), _risk(workspace, fmt), _opportunity(workspace, fmt),
        _regions(workspace, fmt), _cliff(workspace, fmt), _bundles(workspace), _model(workspace, fmt),
    ]
    return [insight for insight in found if insight is not None]


def _concentration(ws: Workspace, fmt: Formatter, horizon: str) -> Insight | None:
    share, projected = ws.kpi("top_10pct_share"), ws.kpi("projected_revenue")
    if share is None or projected is None:
        return None
    return Insight("concentration", f"The top 10% of customers hold {fmt.percent(share)} of the "
                   f"{fmt.money(projected)} projected over the next {horizon}: losing one of them costs as much "
                   "as losing many ordinary customers.", {"top_10pct_share": share, "projected_revenue": projected})


def _segment(ws: Workspace, name: str) -> dict[str, float] | None:
    segments = ws.segments("value")
    if segments is None:
        return None
    row = segments.filter(pl.col("segment") == name)
    return None if row.is_empty() else row.row(0, named=True)


def _risk(ws: Workspace, fmt: Formatter) -> Insight | None:
    at_risk, value = ws.kpi("revenue_at_risk"), ws.kpi("at_risk_projected_value")
    segment = _segment(ws, "At-Risk")
    if at_risk is None or value is None or segment is None:
        return None
    words = _value_words(ws)
    fading = (f"Capital at risk: {fmt.money(at_risk)} of {words['noun']} over the next {words['horizon']} is "
              "expected to fade")
    projected = ws.kpi("projected_revenue")
    if projected is not None and projected > 0 and at_risk >= projected:
        # the KPI is capped at the projected value (analytics.kpis): say so rather than let it read as a forecast
        fading += (f", the whole projected {words['noun']} (the most it can be: what the fading customers used to "
                   f"spend in {words['horizon']}, weighted by their chance of fading, is more than the whole base is "
                   "projected to spend)")
    customers = segment["customers"]
    if customers == 0:
        return Insight("risk", f"{fading}. No high-value customer is currently below the health cut (At-Risk is "
                       "empty).", {"revenue_at_risk": at_risk})
    return Insight("risk", f"{fading}. {fmt.count(customers)} valuable customers whose activity is dropping "
                   f"(At-Risk) hold {fmt.money(value)} of projected value: win them back first.",
                   {"revenue_at_risk": at_risk, "at_risk_customers": customers, "at_risk_projected_value": value})


def _opportunity(ws: Workspace, fmt: Formatter) -> Insight | None:
    gap, segment = ws.kpi("opportunity_gap"), _segment(ws, "Growth")
    if gap is None or segment is None:
        return None
    return Insight("opportunity", f"Opportunity gap: {fmt.money(gap)} more projected value if the "
                   f"{fmt.count(segment['customers'])} healthy but low-value Growth customers reached the "
                   "High-Value median.", {"opportunity_gap": gap, "growth_customers": segment["customers"]})


def _regions(ws: Workspace, fmt: Formatter) -> Insight | None:
    regions = ws.regions()
    if regions is None or regions.is_empty():
        return None
    top = regions.head(3).iter_rows(named=True)
    parts, numbers = [], {}
    for row in top:
        parts.append(f"{row['region']} ({fmt.percent(row['share_revenue'])} of revenue, "
                     f"{fmt.money(row['projected_clv'])} projected)")
        numbers[f"share_revenue[{row['region']}]"] = row["share_revenue"]
        numbers[f"projected_clv[{row['region']}]"] = row["projected_clv"]
    return Insight("regions", "Leading regions: " + "; ".join(parts) + ".", numbers)


def _cliff(ws: Workspace, fmt: Formatter) -> Insight | None:
    cliff = ws.month2_cliff()
    if cliff is None:
        return None
    return Insight("cliff", f"Month-2 cliff: {fmt.percent(cliff['month2_cliff'])} of a cohort's customers do not "
                   f"buy again in their second month (customer-weighted over {cliff['cohorts']} cohorts): the first "
                   "weeks after a first order decide most of the value.",
                   {"month2_cliff": cliff["month2_cliff"], "cohorts": cliff["cohorts"]})


def _bundles(ws: Workspace) -> Insight | None:
    bundles = ws.bundles(limit=2)
    if bundles is None or bundles.is_empty():
        return None
    parts, numbers = [], {}
    for row in bundles.iter_rows(named=True):
        parts.append(f"{row['label']} (bought together {row['lift']:.1f} times as often as by chance, in "
                     f"{row['support']:.2%} of baskets)")
        numbers[f"lift[{row['label']}]"] = row["lift"]
        numbers[f"support[{row['label']}]"] = row["support"]
    return Insight("bundles", "Strongest bundles: " + "; ".join(parts) + ".", numbers)


def _model(ws: Workspace, fmt: Formatter) -> Insight | None:
    info = ws.run_info
    if info.model is None:
        return None
    criterion = {"bic": "BIC (fit penalised for size)", "holdout_mae": "its error on a holdout"}.get(
        info.model_criterion or "", (info.model_criterion or "its criterion").replace("_", " "))
    text = f"Model: {info.model} was chosen by {criterion}."
    numbers: dict[str, float] = {}
    card = ws.scorecard()
    if card is not None and "mae_value" in card.columns:
        ok = card.filter(pl.col("mae_value").is_not_null())
        chosen = ok.filter(pl.col("model") == info.model)
        if not chosen.is_empty():
            row = chosen.row(0, named=True)
            best = ok.sort("mae_value").row(0, named=True)
            holdout = info.raw.get("scorecard_holdout", "")
            text += (f" On the holdout {holdout} it was off by {fmt.money(row['mae_value'])} per customer on"
                     " average (MAE), and the 20% of customers it ranked highest brought "
                     f"{fmt.percent(row['top20_share'])} of the holdout revenue.")
            numbers.update(mae_value=row["mae_value"], top20_share=row["top20_share"])
            if best["model"] != info.model:
                text += f" The lowest error was {best['model']}'s ({fmt.money(best['mae_value'])})."
                numbers["best_mae_value"] = best["mae_value"]
    return Insight("model", text, numbers)
