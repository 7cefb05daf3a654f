"""One customer's charts: P(alive) over time from the saved model, with the purchases marked."""

from __future__ import annotations

from typing import Any

import polars as pl

from clvlens.charts.theme import Formatter, empty_figure, style


def alive_history(history: pl.DataFrame | None, orders: pl.DataFrame | None, fmt: Formatter,
                  customer_id: str) -> Any:
    """P(alive) of one customer over time (`views.alive_history`) with their orders as markers on a second axis."""
    import plotly.graph_objects as go

    title = f"Customer {customer_id}: P(alive) over time and orders"
    if history is None or history.is_empty():
        return empty_figure(title, "no fitted model or no purchases for this customer")
    fig = go.Figure()
    fig.add_scatter(x=history.get_column("date").to_list(), y=history.get_column("p_alive").to_list(),
                    mode="lines", name="P(alive)", line={"color": "#2a9d8f", "shape": "hv"},
                    hovertemplate="%{x|%Y-%m-%d}: P(alive) %{y:.2f}<extra></extra>")
    if orders is not None and not orders.is_empty():
        fig.add_bar(x=orders.get_column("timestamp").to_list(), y=orders.get_column("amount").to_list(),
                    name="order value", yaxis="y2", marker_color="#e9c46a", opacity=0.7,
                    hovertemplate="%{x|%Y-%m-%d}: " + fmt.symbol + "%{y:,.2f}<extra></extra>")
    fig.update_layout(yaxis={"title": "P(alive)", "range": [0, 1.05]},
                      yaxis2={"title": f"order value ({fmt.code or 'currency'})", "overlaying": "y", "side": "right",
                              "showgrid": False, "tickprefix": fmt.symbol})
    return style(fig, title, height=380)
