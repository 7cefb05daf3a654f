"""One contiguous chunk per column, made a column at a time.

A frame read in batches holds each column as many chunks. Polars (2.1) evaluates an expression over a frame whose
columns are chunked differently (a row index or an all-null column made whole beside columns read in batches) by
first copying every column it touches into one chunk: at 10M order lines, one cast over the six columns the ML
features read held 629 MB more, and every later step on the frame paid it again (an eager group-by took twice the
CPU as well). Made contiguous once, the columns are shared between the frames that later steps derive, and nothing
is copied behind the caller's back (``bench/bench_scale_parts.py`` measures both). A Parquet read's batches are
joined on arrival; a CSV's columns once the canonical table is assembled from them, not before: its raw text
columns point into the reader's parse buffers, and joining those held 1.3 GB more at 10M lines (the same script).
"""

from __future__ import annotations

import polars as pl


def single_chunk(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` itself, with every column replaced by its one-chunk copy a column at a time, so the extra memory
    is one column's. Only for a frame nobody else holds (one just read or assembled): it is changed in place."""
    for position, column in enumerate(frame.get_columns()):
        if column.n_chunks() > 1:
            frame.replace_column(position, column.rechunk())
    return frame
