"""The HTML shell of the report: page styles, escaping, tables, KPI cards and chart blocks."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

CSS = """
:root { --ink:#1d2b36; --muted:#5b6b78; --line:#e3e8ec; --accent:#2a9d8f; --warn:#e76f51; }
* { box-sizing: border-box; }
body { font-family: Inter, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif; color: var(--ink); margin: 0;
       background: #f6f8f9; line-height: 1.45; }
main { max-width: 1180px; margin: 0 auto; padding: 28px 32px 60px; background: white; }
h1 { font-size: 28px; margin: 0 0 4px; } h2 { font-size: 21px; margin: 38px 0 8px; padding-top: 10px;
     border-top: 2px solid var(--line); } h3 { font-size: 16px; margin: 22px 0 6px; }
p.meta, p.note, .muted { color: var(--muted); font-size: 13px; }
nav { font-size: 13px; margin: 14px 0 6px; } nav a { color: var(--accent); margin-right: 14px; text-decoration: none; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(250px, 1fr)); gap: 12px; margin: 14px 0; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; break-inside: avoid; }
.card .label { font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
.card .value { font-size: 26px; font-weight: 650; margin: 2px 0; }
.card .definition { font-size: 12px; color: var(--muted); }
ul.insights li { margin: 6px 0; }
.chart { margin: 10px 0 18px; break-inside: avoid; page-break-inside: avoid; }
table { border-collapse: collapse; font-size: 12.5px; margin: 8px 0 16px; width: 100%; break-inside: avoid; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 8px; text-align: left; vertical-align: top; }
th { background: #f1f4f6; font-weight: 600; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.skipped { border-left: 4px solid var(--warn); padding: 6px 12px; background: #fff5f1; font-size: 13px; }
footer { margin-top: 40px; font-size: 12px; color: var(--muted); }
@media print { body { background: white; } main { padding: 0 10px; max-width: none; } nav { display: none; }
  h2 { break-before: page; } h2.first { break-before: avoid; } }
"""


def esc(text: Any) -> str:
    return html.escape("" if text is None else str(text))


def table(header: Sequence[str], rows: Iterable[Sequence[Any]], numeric: Iterable[int] = ()) -> str:
    right = set(numeric)
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{esc(c)}</td>' if i in right else f"<td>{esc(c)}</td>"
                         for i, c in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def chart(fig: Any, chart_id: str) -> str:
    """One figure as a div (plotly.js is inlined once in the page head)."""
    block = fig.to_html(full_html=False, include_plotlyjs=False, div_id=chart_id,
                        config={"displaylogo": False, "responsive": True})
    return f'<div class="chart">{block}</div>'


def page(title: str, head_scripts: str, body: str) -> str:
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">{head_scripts}'
            f"<style>{CSS}</style></head><body><main>{body}</main></body></html>")
