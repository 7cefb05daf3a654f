"""Where a summary query runs, and how its result goes back to the caller's kind of frame.

The queries are narwhals expressions, so one definition runs on every engine. Polars is the default (measured
fastest on a 10M-row log, docs/benchmarks.md); DuckDB runs the same query when the data already lives there.
"""

from __future__ import annotations

from typing import Any

import narwhals as nw
import polars as pl

from clvlens.data.readers import frame_to_polars
from clvlens.errors import ClvlensError

ENGINES = ("polars", "duckdb", "native")


def to_engine(data: Any, engine: str = "polars") -> Any:
    """A native lazy frame on the chosen engine; `native` keeps a lazy input (DuckDB, Polars, Spark) where it is."""
    if engine not in ENGINES:
        raise ClvlensError(f"engine must be one of {', '.join(ENGINES)}, got '{engine}'")
    if engine == "native" and _is_lazy_native(data):
        return data
    if engine == "duckdb":
        import duckdb

        if _module(data) in {"duckdb", "_duckdb"}:
            return data
        arrow = frame_to_polars(data).to_arrow()
        return duckdb.from_arrow(arrow)
    if isinstance(data, pl.LazyFrame):
        return data
    return frame_to_polars(data).lazy()


def from_result(result: Any, like: Any) -> Any:
    """Collect a narwhals lazy result and return it as the same kind of frame as `like` (Polars by default)."""
    collected = result.collect(backend="polars") if isinstance(result, nw.LazyFrame) else result
    frame: pl.DataFrame = nw.to_native(collected)
    module = _module(like)
    if module == "pandas":
        return frame.to_pandas()
    if module == "pyarrow":
        return frame.to_arrow()
    return frame


def _is_lazy_native(data: Any) -> bool:
    return isinstance(data, pl.LazyFrame) or _module(data) in {"duckdb", "_duckdb", "pyspark", "sqlframe"}


def _module(data: Any) -> str:
    return type(data).__module__.split(".")[0]
