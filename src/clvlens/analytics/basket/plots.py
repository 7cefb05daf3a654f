"""Plotly figures for the basket tables (plotly is imported inside each function)."""

from __future__ import annotations

from typing import Any

import polars as pl

from clvlens.errors import ClvlensError


def _require(frame: pl.DataFrame, name: str, columns: tuple[str, ...]) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ClvlensError(f"{name}: missing column {', '.join(missing)}")


def rules_scatter(rules: pl.DataFrame, *, top: int | None = 500) -> Any:
    """Scatter of rules: support (x) vs confidence (y), coloured by lift; hover shows the rule with item names.

    `top` keeps the rules with the highest lift (None: all), so the figure stays light on large rule sets.
    """
    import plotly.graph_objects as go

    _require(rules, "rules", ("support", "confidence", "lift"))
    shown = rules.sort("lift", descending=True).head(top) if top else rules
    if {"antecedent_names", "consequent_names"} <= set(shown.columns):
        labels = shown.select(
            pl.concat_str(
                pl.col("antecedent_names").list.join(" + "), pl.lit(" → "), pl.col("consequent_names").list.join(" + ")
            )
        ).to_series()
    elif "rule" in shown.columns:
        labels = shown.get_column("rule")
    else:
        labels = pl.Series([""] * shown.height)
    figure = go.Figure(
        go.Scatter(
            x=shown.get_column("support").to_list(),
            y=shown.get_column("confidence").to_list(),
            mode="markers",
            text=labels.to_list(),
            marker={
                "color": shown.get_column("lift").to_list(),
                "colorscale": "Viridis",
                "showscale": True,
                "colorbar": {"title": {"text": "lift"}},
                "size": 8,
                "opacity": 0.8,
            },
            hovertemplate=(
                "%{text}<br>support %{x:.4f}<br>confidence %{y:.3f}<br>lift %{marker.color:.2f}<extra></extra>"
            ),
        )
    )
    figure.update_layout(
        title=f"Association rules ({shown.height} shown)", xaxis_title="support", yaxis_title="confidence"
    )
    return figure


def bundles_bar(bundles: pl.DataFrame, *, top: int = 15, size: int | None = None) -> Any:
    """Horizontal bar chart of the strongest bundles by lift (optionally only bundles of one `size`)."""
    import plotly.graph_objects as go

    _require(bundles, "bundles", ("label", "lift", "support"))
    shown = bundles if size is None or "size" not in bundles.columns else bundles.filter(pl.col("size") == size)
    shown = shown.sort("lift", descending=True).head(top).reverse()  # strongest at the top of the chart
    figure = go.Figure(
        go.Bar(
            x=shown.get_column("lift").to_list(),
            y=shown.get_column("label").to_list(),
            orientation="h",
            customdata=shown.get_column("support").to_list(),
            hovertemplate="%{y}<br>lift %{x:.2f}<br>support %{customdata:.4f}<extra></extra>",
        )
    )
    figure.update_layout(
        title="Top bundles by lift",
        xaxis_title="lift (observed / expected if independent)",
        height=max(300, 28 * shown.height + 120),
        margin={"l": 20},
    )
    figure.update_yaxes(automargin=True)
    return figure
