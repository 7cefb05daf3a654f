"""RFM scores (1-5) and the classic named RFM segments.

Scores
------
Each of recency (R), frequency (F) and monetary (M) gets a score from 1 (worst) to 5 (best):

    score = 1 + floor(5 * share of customers with a strictly worse value)

capped at 5. This is a quintile cut of the ranks with ties ranked by their *lowest* position ("min" rank), so:

- equal values always get the same score (a tie never straddles a quintile boundary);
- a score k means that at least (k - 1) x 20% of customers are strictly worse;
- when a tied block is larger than a quintile the quintiles it spans cannot be filled and those scores stay
  empty: with 65% one-time buyers (frequency 0) all of them get F = 1, the next frequency (1 repeat) gets
  F = 1 + floor(5 x 0.65) = 4, and F = 2 and 3 are unused. Scores therefore always keep their meaning
  ("how many customers are strictly worse") instead of splitting identical customers at random.

Inputs, in the customer table's own time unit: R uses the time since the last purchase at the observation end,
``T - recency`` (smaller = more recent = higher score; rounded to 1e-6 units so float noise never separates two
purchases at the same moment); F uses ``frequency`` (repeat purchase days); M uses ``total_value`` (historical
revenue of the customer) by default, since the mean repeat value ``monetary_value`` is 0 for every one-time
buyer. All three columns are parameters.

Segments
--------
``RFM_RULES`` is the one editable rule table: (segment, R range, F range, M range), inclusive, evaluated in order;
the first matching rule wins and customers matching none fall into ``CATCH_ALL`` ("Lost"), so every customer
gets exactly one segment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from clvlens.analytics._common import as_polars, require_columns, require_numeric, require_unique
from clvlens.errors import ClvlensError

SCORE_LEVELS = 5


@dataclass(frozen=True)
class RfmRule:
    """A named segment: inclusive score ranges for R, F and M (1-5)."""

    segment: str
    r: tuple[int, int]
    f: tuple[int, int] = (1, 5)
    m: tuple[int, int] = (1, 5)

    def __post_init__(self) -> None:
        for name, (low, high) in (("r", self.r), ("f", self.f), ("m", self.m)):
            if not 1 <= low <= high <= SCORE_LEVELS:
                raise ClvlensError(f"rfm rule '{self.segment}': {name} range ({low}, {high}) must be within 1-5")

    def matches(self) -> pl.Expr:
        """Polars condition on the rfm_r, rfm_f, rfm_m columns."""
        return (
            pl.col("rfm_r").is_between(*self.r)
            & pl.col("rfm_f").is_between(*self.f)
            & pl.col("rfm_m").is_between(*self.m)
        )


# Evaluated top to bottom; the first match wins. Edit here to change the segmentation.
RFM_RULES: tuple[RfmRule, ...] = (
    RfmRule("Champions", r=(4, 5), f=(4, 5), m=(4, 5)),
    RfmRule("Loyal Customers", r=(3, 5), f=(4, 5)),
    RfmRule("Potential Loyalists", r=(4, 5), f=(2, 3)),
    RfmRule("New Customers", r=(5, 5), f=(1, 1)),
    RfmRule("Promising", r=(4, 4), f=(1, 1)),
    RfmRule("Need Attention", r=(3, 3), f=(2, 3)),
    RfmRule("About to Sleep", r=(3, 3), f=(1, 1)),
    RfmRule("Cannot Lose Them", r=(1, 2), f=(4, 5), m=(4, 5)),
    RfmRule("At Risk", r=(1, 2), f=(2, 5)),
    RfmRule("Hibernating", r=(2, 2), f=(1, 1)),
)
CATCH_ALL = "Lost"


def segment_names(rules: tuple[RfmRule, ...] = RFM_RULES, catch_all: str = CATCH_ALL) -> list[str]:
    """Segment names in rule order, the catch-all last (each name once)."""
    names: list[str] = []
    for name in [rule.segment for rule in rules] + [catch_all]:
        if name not in names:
            names.append(name)
    return names


def quintile_score(values: pl.Expr, *, higher_is_better: bool = True) -> pl.Expr:
    """Score 1-5: 1 + floor(5 x share of customers strictly worse), ties sharing their lowest rank."""
    oriented = values if higher_is_better else -values
    worse = oriented.rank(method="min") - 1  # customers strictly worse than this one
    share = worse.cast(pl.Float64) / pl.len().cast(pl.Float64)
    return (share * SCORE_LEVELS).floor().cast(pl.Int8).clip(0, SCORE_LEVELS - 1) + 1


def rfm_scores(
    customers: Any,
    *,
    customer_id: str = "customer_id",
    recency: str = "recency",
    T: str = "T",
    frequency: str = "frequency",
    monetary: str = "total_value",
) -> pl.DataFrame:
    """customer_id, rfm_r, rfm_f, rfm_m (1-5 each) from the customer table; see the module docstring."""
    frame = as_polars(customers, "customers")
    require_columns(frame, [customer_id, recency, T, frequency, monetary], "customers")
    require_numeric(frame, [recency, T, frequency, monetary], "customers")
    require_unique(frame, customer_id, "customers")
    since_last = (pl.col(T).cast(pl.Float64) - pl.col(recency).cast(pl.Float64)).round(6)
    return frame.select(
        pl.col(customer_id).alias("customer_id"),
        quintile_score(since_last, higher_is_better=False).alias("rfm_r"),
        quintile_score(pl.col(frequency).cast(pl.Float64)).alias("rfm_f"),
        quintile_score(pl.col(monetary).cast(pl.Float64)).alias("rfm_m"),
    )


def assign_segments(
    scores: pl.DataFrame, rules: tuple[RfmRule, ...] = RFM_RULES, catch_all: str = CATCH_ALL
) -> pl.DataFrame:
    """Add `rfm_segment` to a frame with rfm_r, rfm_f, rfm_m: the first matching rule, else the catch-all."""
    require_columns(scores, ["rfm_r", "rfm_f", "rfm_m"], "rfm scores")
    if not rules:
        return scores.with_columns(pl.lit(catch_all).alias("rfm_segment"))
    chain: Any = pl.when(rules[0].matches()).then(pl.lit(rules[0].segment))
    for rule in rules[1:]:
        chain = chain.when(rule.matches()).then(pl.lit(rule.segment))
    return scores.with_columns(chain.otherwise(pl.lit(catch_all)).alias("rfm_segment"))


def rfm_segments(
    customers: Any,
    *,
    customer_id: str = "customer_id",
    recency: str = "recency",
    T: str = "T",
    frequency: str = "frequency",
    monetary: str = "total_value",
    rules: tuple[RfmRule, ...] = RFM_RULES,
    catch_all: str = CATCH_ALL,
) -> pl.DataFrame:
    """One row per customer: customer_id, rfm_r, rfm_f, rfm_m and rfm_segment (exactly one per customer)."""
    scores = rfm_scores(
        customers, customer_id=customer_id, recency=recency, T=T, frequency=frequency, monetary=monetary
    )
    return assign_segments(scores, rules, catch_all)


def rfm_grid(segments: pl.DataFrame) -> pl.DataFrame:
    """Customers per (rfm_r, rfm_f) cell with the cell's most common segment: the data of the R x F chart."""
    require_columns(segments, ["rfm_r", "rfm_f", "rfm_segment"], "rfm segments")
    return (
        segments.group_by("rfm_r", "rfm_f", "rfm_segment")
        .agg(pl.len().alias("customers"))
        .sort("customers", descending=True)
        .group_by("rfm_r", "rfm_f", maintain_order=True)
        .agg(pl.col("customers").sum(), pl.col("rfm_segment").first())
        .sort("rfm_r", "rfm_f")
    )


def plot_rfm_segments(segments: pl.DataFrame) -> Any:
    """Treemap of customers per RFM segment (from `rfm_segments` output or a segment table with `customers`)."""
    import plotly.express as px

    if "customers" in segments.columns and "segment" in segments.columns:
        counts = segments.select("segment", "customers")
    else:
        require_columns(segments, ["rfm_segment"], "rfm segments")
        counts = segments.group_by(pl.col("rfm_segment").alias("segment")).agg(pl.len().alias("customers"))
    counts = counts.filter(pl.col("customers") > 0).sort("customers", descending=True)
    fig = px.treemap(counts.to_pandas(), path=["segment"], values="customers", title="Customers per RFM segment")
    fig.update_traces(textinfo="label+value+percent root")
    return fig
