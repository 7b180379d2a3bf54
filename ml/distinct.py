"""Run a batch function once per distinct input: exports repeat texts (templates, copied replies, the same
complaint on several channels), and the text models are the slow part of the ML assets (issue 19)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

Key = TypeVar("Key", bound=Hashable)
Value = TypeVar("Value")


def per_distinct(batch: Callable[[list[Key]], Sequence[Value]], keys: Sequence[Key]) -> list[Value]:
    """`batch(keys)` for every key, computed on the distinct keys only (in first-seen order) and expanded back."""
    distinct = list(dict.fromkeys(keys))
    results = dict(zip(distinct, batch(distinct), strict=True))
    return [results[key] for key in keys]
