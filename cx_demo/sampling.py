"""Small vectorised draws shared by the simulation modules."""

from __future__ import annotations

import numpy as np


def pick(rng: np.random.Generator, options, n: int) -> np.ndarray:
    """`n` uniform picks from `options` (an object array, so strings keep their length)."""
    return np.asarray(options, dtype=object)[rng.integers(0, len(options), n)]


def pick_per_row(rng: np.random.Generator, options, weights: np.ndarray) -> np.ndarray:
    """One option per row of `weights` (rows x options, need not sum to 1; an all-zero row picks the last)."""
    totals = np.maximum(weights.sum(axis=1, keepdims=True), 1e-12)
    cumulative = np.cumsum(weights / totals, axis=1)
    index = (rng.random(len(weights))[:, None] > cumulative).sum(axis=1).clip(0, len(options) - 1)
    return np.asarray(options, dtype=object)[index]
