"""One look and one number format for every chart and sentence: colours, fonts, money in the workspace's currency.

`Formatter.money` writes amounts compactly (R$1.61M, £845k, $12.40); `Formatter.percent` writes shares as whole
percents. The report's insight sentences use the same formatter, so a number read in a sentence is the number on
the chart, rounded the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

SEGMENT_COLOURS: dict[str, str] = {
    "High-Value": "#2a9d8f", "Growth": "#8ab17d", "At-Risk": "#f4a261", "Critical Churn": "#e76f51",
}
ACTION_COLOURS: dict[str, str] = {"retain": "#2a9d8f", "grow": "#8ab17d", "win back": "#f4a261", "let go": "#b0b0b0"}
SEQUENCE: tuple[str, ...] = ("#264653", "#2a9d8f", "#e9c46a", "#f4a261", "#e76f51", "#8ab17d", "#6d597a", "#b56576")
FONT = "Inter, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"


@dataclass(frozen=True)
class Formatter:
    """Numbers as one workspace writes them; `symbol` is the currency symbol ('' when unknown)."""

    symbol: str = ""
    code: str = ""

    def money(self, value: float | None) -> str:
        """Compact amount: 1.61M, 845k (three significant digits), 12.40 below a thousand."""
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            return "n/a"
        if value == 0:
            return f"{self.symbol}0"
        sign = "-" if value < 0 else ""
        magnitude = abs(value)
        units = ((1.0, ""), (1e3, "k"), (1e6, "M"), (1e9, "B"))
        index = max(i for i, (limit, _) in enumerate(units) if magnitude >= limit or i == 0)
        while True:
            limit, suffix = units[index]
            scaled = magnitude / limit
            digits = 2 if scaled < 10 or not suffix else 1 if scaled < 100 else 0
            if suffix and round(scaled, digits) >= (10 if digits == 2 else 100 if digits == 1 else 1000):
                digits = max(digits - 1, 0)  # 9,999 is written 10.0k, not 10.00k
            if round(scaled, digits) < 1000 or index == len(units) - 1:
                break
            index += 1  # 999,999 is written 1.00M, not 1000k
        text = f"{scaled:,.{digits}f}" if not suffix else f"{scaled:.{digits}f}"
        return f"{sign}{self.symbol}{text}{suffix}"

    def money_full(self, value: float | None) -> str:
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            return "n/a"
        return f"{'-' if value < 0 else ''}{self.symbol}{abs(value):,.0f}"

    @staticmethod
    def percent(share: float | None, digits: int = 0) -> str:
        if share is None or not math.isfinite(share):
            return "n/a"
        return f"{share * 100:.{digits}f}%"

    @staticmethod
    def count(value: float | None) -> str:
        return "n/a" if value is None else f"{value:,.0f}"

    @property
    def axis_prefix(self) -> str:
        return self.symbol

    def money_hover(self, field: str = "y") -> str:
        return f"{self.symbol}%{{{field}:,.0f}}"


def formatter_for(currency: Any) -> Formatter:
    """The formatter of a `clvlens.workspace.Currency` (or None: no symbol)."""
    if currency is None:
        return Formatter()
    return Formatter(getattr(currency, "symbol", ""), getattr(currency, "code", ""))


@lru_cache(maxsize=1)
def _base_template() -> Any:
    """Plotly's "plotly_white" template object: given as an object, a figure copies it; given by name, plotly
    first rebuilds and validates it from its registry (twice the time: a fifth of a report's build). The same
    template either way, so the same figure."""
    import plotly.io as pio

    return pio.templates["plotly_white"]


#: trace types whose template defaults every figure carries, so that a bar or line added after :func:`style` is
#: drawn as plotly_white draws it too
COMMON_TRACES = frozenset({"bar", "scatter"})


@lru_cache(maxsize=32)
def template_for(trace_types: frozenset[str]) -> Any:
    """plotly_white's layout with its trace defaults for ``trace_types`` alone.

    The whole template holds defaults for 24 trace types; a figure copies its template when it is set and again
    when it is written out, so carrying them all cost about 20 ms a figure (up to a quarter of a report's build)
    and 7 kB of page per chart. Defaults of a trace type apply only to traces of that type, so a figure drawn with
    the defaults of the types it holds looks exactly as with the whole template."""
    import plotly.graph_objects as go

    full = _base_template()
    return go.layout.Template(layout=full.layout, data={kind: full.data[kind] for kind in sorted(trace_types)})


def style(fig: Any, title: str, *, height: int = 420, legend: bool = True, subtitle: str | None = None) -> Any:
    """Apply the clvlens theme to a figure in place and return it."""
    text = title if not subtitle else f"{title}<br><sup>{subtitle}</sup>"
    fig.update_layout(
        template=template_for(COMMON_TRACES | {trace.type for trace in fig.data}),
        title={"text": text, "x": 0.01, "xanchor": "left", "font": {"size": 17}},
        font={"family": FONT, "size": 12, "color": "#222"},
        colorway=list(SEQUENCE),
        height=height,
        margin={"l": 60, "r": 30, "t": 70 if subtitle else 55, "b": 50},
        showlegend=legend,
        legend={"orientation": "h", "y": -0.18, "x": 0},
    )
    return fig


def empty_figure(title: str, reason: str) -> Any:
    """A figure that says why there is nothing to draw (a skipped stage, an empty table)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_annotation(text=reason, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False, font={"size": 14})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return style(fig, title, height=220, legend=False)
