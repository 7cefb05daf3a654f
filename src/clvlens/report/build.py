"""The executive report: one self-contained HTML file (plotly.js and the map geometry inlined, so it opens with no
network) built from a workspace through `clvlens.workspace` and drawn with `clvlens.charts`.

Sections (the PDF has the same): headline, insights, value and segments, concentration, cohorts, regions, basket,
models, data quality.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import polars as pl

from clvlens import charts
from clvlens.report._html import chart, esc, page, table
from clvlens.workspace import Workspace, model_diagnostics

REPORT_FILE = "report.html"
SECTIONS: tuple[tuple[str, str], ...] = (
    ("headline", "Headline"),
    ("insights", "What the numbers say"),
    ("value", "Customer value and segments"),
    ("concentration", "Concentration"),
    ("cohorts", "Cohorts"),
    ("regions", "Regions"),
    ("basket", "Bundles and next-best offers"),
    ("models", "Models"),
    ("quality", "Data quality"),
)
MAX_ASSET_POINTS = 4000
NBO_EXAMPLES = 12


def build_report(workspace: Workspace) -> str:
    """The report of an open workspace as one HTML string."""
    from plotly.offline import get_plotlyjs

    fmt = charts.formatter_for(workspace.currency)
    info = workspace.run_info
    parts = [_header(workspace), _nav()]
    parts += _headline(workspace)
    parts += _insights(workspace)
    parts += _value(workspace, fmt)
    parts += _concentration(workspace, fmt)
    parts += _cohorts(workspace, fmt)
    parts += _regions(workspace, fmt)
    parts += _basket(workspace, fmt)
    parts += _models(workspace, fmt)
    parts += _quality(workspace)
    parts.append('<footer>Written by clvlens ' + esc(info.version or "") + " from " + esc(workspace.folder)
                 + ". Maps: Made with Natural Earth. Free vector and raster map data @ naturalearthdata.com.</footer>")
    scripts = charts.OFFLINE_GEO_STUB + f'<script type="text/javascript">{get_plotlyjs()}</script>'
    return page(f"clvlens report: {Path(info.source).name or workspace.folder.name}", scripts, "".join(parts))


def write_report(folder: str | Path, out: str | Path | None = None, *, currency: str | None = None) -> Path:
    """Write DIR/report.html (or `out`) atomically and return its path."""
    with Workspace.open(folder, currency=currency) as workspace:
        text = build_report(workspace)
    target = Path(out) if out is not None else Path(folder) / REPORT_FILE
    temporary = target.with_name(f"{target.name}.{os.getpid()}.tmp")  # unique: never another writer's file
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, target)
    return target


def _section(key: str) -> str:
    title = dict(SECTIONS)[key]
    first = ' class="first"' if key == SECTIONS[0][0] else ""
    return f'<h2 id="{key}"{first}>{esc(title)}</h2>'


def _nav() -> str:
    return "<nav>" + "".join(f'<a href="#{k}">{esc(t)}</a>' for k, t in SECTIONS) + "</nav>"


def _header(ws: Workspace) -> str:
    info = ws.run_info
    currency = ws.currency
    money = f"{currency.code} ({currency.decided_by})" if currency.known else currency.decided_by
    margin = "revenue (no margin applied)" if not info.margin_applied else f"profit at a {info.margin:.0%} margin"
    end = info.observation_end.isoformat() if info.observation_end else "n/a"
    return (f"<h1>Customer value report</h1><p class=\"meta\">Source: {esc(info.source)} · observed to {esc(end)} · "
            f"projections over {esc(info.horizon)} ({esc(margin)}) · time unit {esc(info.time_unit)} · "
            f"currency: {esc(money)} · written {esc(info.created_at or '')}</p>")


def _headline(ws: Workspace) -> list[str]:
    cards = "".join(
        f'<div class="card" data-kpi="{esc(k.name)}"><div class="label">{esc(k.label)}</div>'
        f'<div class="value">{esc(k.shown)}</div><div class="definition">{esc(k.definition)}</div></div>'
        for k in charts.headline(ws)
    )
    return [_section("headline"), f'<div class="cards">{cards}</div>']


def _insights(ws: Workspace) -> list[str]:
    found = charts.insights(ws)
    items = "".join(f'<li data-insight="{esc(i.key)}">{esc(i.text)}</li>' for i in found)
    skipped = "".join(f'<p class="skipped">Stage <b>{esc(stage)}</b> did not run: {esc(reason)}</p>'
                      for stage, reason in ws.run_info.skipped.items())
    body = f'<ul class="insights">{items}</ul>' if items else "<p>No insights: the strategy stage did not run.</p>"
    return [_section("insights"), body, skipped]


def _value(ws: Workspace, fmt: charts.Formatter) -> list[str]:
    health = ws.health_column or "p_alive"
    label = "health score" if health == "health" else "P(alive)"
    out = [_section("value"),
           "<p class=\"note\">Each customer is placed by projected value and health; the quadrant decides the play: "
           "retain High-Value, grow Growth, win back At-Risk, let Critical Churn go.</p>",
           chart(charts.asset_matrix(ws.asset_points(MAX_ASSET_POINTS), fmt, health_label=label), "asset-matrix"),
           chart(charts.segment_roadmap(ws.segments(), fmt, "value"), "roadmap-value"),
           chart(charts.segment_roadmap(ws.segments(), fmt, "rfm"), "roadmap-rfm")]
    segments = ws.segments()
    if segments is not None and not segments.is_empty():
        rows = [(r["segment_type"], r["segment"], f"{r['customers']:,}", fmt.money(r["projected_revenue"]),
                 r["action"], fmt.money(r["money_at_stake"]), r["rationale"]) for r in segments.iter_rows(named=True)]
        out.append("<h3>Playbook</h3>" + table(
            ("type", "segment", "customers", "projected value", "action", "money at stake", "why"), rows, (2, 3, 5)))
    return out


def _concentration(ws: Workspace, fmt: charts.Formatter) -> list[str]:
    return [_section("concentration"), chart(charts.lorenz(ws.lorenz(), fmt, ws.kpi("top_10pct_share")), "lorenz")]


def _cohorts(ws: Workspace, fmt: charts.Formatter) -> list[str]:
    cohorts = ws.cohorts()
    return [_section("cohorts"), chart(charts.retention_heatmap(cohorts), "retention"),
            chart(charts.revenue_per_cohort_customer(cohorts, fmt), "cohort-revenue")]


def _regions(ws: Workspace, fmt: charts.Formatter) -> list[str]:
    regions = ws.regions()
    out = [_section("regions"), chart(charts.region_map(regions, fmt), "region-map")]
    if regions is not None and not regions.is_empty():
        rows = [(r["region"], f"{r['customers']:,}", fmt.money(r["historical_revenue"]),
                 fmt.percent(r["share_revenue"]), fmt.money(r["projected_clv"]))
                for r in regions.head(15).iter_rows(named=True)]
        out.append(table(("region", "customers", "historical revenue", "share of revenue", "projected value"), rows,
                         (1, 2, 3, 4)))
    return out


def _basket(ws: Workspace, fmt: charts.Formatter) -> list[str]:
    out = [_section("basket"), chart(charts.bundles_bar(ws.bundles()), "bundles")]
    offers = ws.next_best_offer(limit=NBO_EXAMPLES)
    if offers is not None and not offers.is_empty():
        name = "item_name" if "item_name" in offers.columns else "item"
        rows = [(r["customer_id"], r[name] or r["item"], r.get("rule") or "", f"{r['confidence']:.0%}",
                 f"{r['lift']:.1f}", fmt.money(r["item_value"])) for r in offers.iter_rows(named=True)]
        out.append("<h3>Next-best offer: examples with the highest scores</h3>" + table(
            ("customer", "offer", "because of the rule", "confidence", "lift", "item value"), rows, (3, 4, 5)))
    return out


def _models(ws: Workspace, fmt: charts.Formatter) -> list[str]:
    out = [_section("models")]
    selection = ws.model_selection()
    if selection is not None and not selection.is_empty():
        rows = [(r["model"] + (" (chosen)" if r["chosen"] else ""), _num(r.get("log_likelihood"), ",.1f"),
                 _num(r.get("bic"), ",.1f"), (r.get("error") or "")[:140]) for r in selection.iter_rows(named=True)]
        out.append("<h3>Model selection</h3>" + table(("model", "log-likelihood", "BIC", "note"), rows, (1, 2)))
    diagnostics = model_diagnostics(ws)
    out += [chart(charts.frequency_histogram(diagnostics), "frequency"),
            chart(charts.tracking(diagnostics), "tracking")]
    card = ws.scorecard()
    out += [chart(charts.holdout_calibration(card, fmt), "holdout"),
            chart(charts.gains(ws.scorecard_gains()), "gains")]
    rows = charts.scorecard_rows(card, fmt)
    if rows:
        out.append(f"<h3>Scorecard (holdout {esc(ws.run_info.raw.get('scorecard_holdout', ''))})</h3>"
                   + table(rows[0], rows[1:], range(2, len(rows[0]))))
    validation = ws.health_validation()
    if validation is not None and not validation.is_empty():
        out.append("<h3>Health score validation</h3>" + _frame_table(validation))
    return out


def _quality(ws: Workspace) -> list[str]:
    report = ws.cleaning_report()
    out = [_section("quality"), chart(charts.cleaning_report(report), "cleaning")]
    info = ws.run_info
    if info.input_rows is not None:
        out.append(f"<p>{info.input_rows:,} input rows = {info.kept_rows or 0:,} kept + "
                   f"{info.quarantined_rows or 0:,} quarantined (every rejected row is in the workspace's quarantine "
                   "table with its reason).</p>")
    if report is not None and not report.is_empty():
        out.append(_frame_table(report))
    return out


def _frame_table(frame: pl.DataFrame, limit: int = 50) -> str:
    rows = [[_cell(v) for v in row] for row in frame.head(limit).iter_rows()]
    numeric = [i for i, dtype in enumerate(frame.dtypes) if dtype.is_numeric()]
    return table(frame.columns, rows, numeric)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "" if value is None else str(value)


def _num(value: Any, spec: str) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    return format(value, spec)
