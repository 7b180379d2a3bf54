"""Building polars frames from numpy columns: object arrays (strings with None) become String columns, an
all-None column too unless another type is given, so nullable columns keep a stable type in every chunk."""

from __future__ import annotations

import numpy as np
import polars as pl


def frame(columns: dict, types: dict | None = None) -> pl.DataFrame:
    types = types or {}
    series = []
    for name, values in columns.items():
        if isinstance(values, np.ndarray) and values.dtype == object:
            series.append(pl.Series(name, values.tolist(), dtype=types.get(name, pl.String), strict=False))
        elif isinstance(values, (np.ndarray, pl.Series, list)):
            series.append(pl.Series(name, values, dtype=types.get(name), strict=False))
        else:  # a scalar for every row
            series.append(values)
    height = max((len(s) for s in series if isinstance(s, pl.Series)), default=0)
    return pl.DataFrame([s if isinstance(s, pl.Series) else pl.repeat(s, height, eager=True, dtype=types.get(n)).alias(n)
                         for n, s in zip(columns, series)])


def strings(values: np.ndarray) -> pl.Series:
    """A String series from an object array that may hold None (polars cannot cast numpy objects)."""
    return pl.Series(np.asarray(values, dtype=object).tolist(), dtype=pl.String)
