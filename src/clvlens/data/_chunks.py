"""One contiguous chunk per column, made a column at a time.

A frame read in batches holds each column as many chunks. Polars (2.1) evaluates an expression over a frame whose
columns are chunked differently (a row index or an all-null column made whole beside columns read in batches) by
first copying every column it touches into one chunk: at 10M order lines, one cast over the six columns the ML
features read held 629 MB more, and every later step on the frame paid it again (an eager group-by took twice the
CPU as well). Made contiguous once, when the canonical table is assembled from its converted columns, the columns
are shared between the frames that later steps derive, and nothing is copied behind the caller's back
(``bench/bench_scale_parts.py`` measures both). A Parquet read's batches are joined on arrival; a CSV's raw text
columns are not, as they point into the reader's parse buffers: joining those held 1.3 GB more at 10M lines (the
same script), where the converted columns are compact.
"""

from __future__ import annotations

import polars as pl


def single_chunk(frame: pl.DataFrame, *, in_place: bool = False) -> pl.DataFrame:
    """``frame`` with every column in one chunk, joined a column at a time.

    With ``in_place`` (for a frame nobody else holds, such as one just read) each column replaces its chunked
    self in ``frame``, so the extra memory is one column's; otherwise ``frame`` is left as it is and the result
    is a new frame.
    """
    if all(count == 1 for count in frame.n_chunks("all")):
        return frame
    target = frame if in_place else frame.clone()
    for position, column in enumerate(target.get_columns()):
        if column.n_chunks() > 1:
            target.replace_column(position, column.rechunk())
    return target
