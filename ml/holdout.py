"""Holdout groups for the next best actions and the uplift they make measurable (polars in, polars out).

A share of the customers an action is recommended to is held out: recommended and recorded, but not contacted.
Membership is a hash of customer and campaign (the action), so it is random with respect to everything the
policy knows, yet the same customer stays in the same group of the same campaign run after run (no customer
drifts between groups, no re-randomising until everyone was contacted once). The held-out customers'
conversion is the organic baseline; uplift = conversion of the contacted − conversion of the held out.
"""

from __future__ import annotations

import hashlib
import math

import polars as pl

Z95 = 1.959964
HASH_SCALE = float(2**64)


def hash_unit(customer_key: str, campaign: str) -> float:
    """A stable number in [0, 1) for the pair: the first 8 bytes of SHA-256 (Python's hash() is salted per
    process, polars' hash may change between versions)."""
    digest = hashlib.sha256(f"{campaign}\x1f{customer_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / HASH_SCALE


def holdout_flags(customer_keys: pl.Series, campaigns: pl.Series, share: float) -> pl.Series:
    """True for the pairs in the holdout group of their campaign (about `share` of them)."""
    return pl.Series("is_holdout", [hash_unit(k, c) < share for k, c in zip(customer_keys, campaigns)],
                     dtype=pl.Boolean)


def wilson(successes: int, n: int) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / (1 + Z95**2 / n)
    return centre - half, centre + half


def newcombe_interval(x1: int, n1: int, x0: int, n0: int) -> tuple[float, float]:
    """95% interval of p1 − p0 from the two Wilson intervals (Newcombe's method 10): reliable for small groups
    and rates near 0, where the plain normal interval is too narrow."""
    p1, p0 = x1 / n1, x0 / n0
    l1, u1 = wilson(x1, n1)
    l0, u0 = wilson(x0, n0)
    difference = p1 - p0
    return (difference - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2),
            difference + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2))


def uplift(outcomes: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """Conversion of contacted vs held-out customers per group of `by` (e.g. action, channel), with the uplift
    and its 95% interval. outcomes: `by` columns, is_holdout, converted (bool)."""
    counts = outcomes.group_by(by).agg(
        (~pl.col("is_holdout")).sum().alias("contacted"),
        (~pl.col("is_holdout") & pl.col("converted")).sum().alias("contacted_converted"),
        pl.col("is_holdout").sum().alias("held_out"),
        (pl.col("is_holdout") & pl.col("converted")).sum().alias("held_out_converted"),
    ).filter((pl.col("contacted") > 0) & (pl.col("held_out") > 0)).sort(by)
    rows = []
    for row in counts.iter_rows(named=True):
        low, high = newcombe_interval(row["contacted_converted"], row["contacted"],
                                      row["held_out_converted"], row["held_out"])
        treated, baseline = row["contacted_converted"] / row["contacted"], row["held_out_converted"] / row["held_out"]
        rows.append({**row, "conversion_contacted": treated, "conversion_held_out": baseline,
                     "uplift": treated - baseline, "uplift_ci_low": low, "uplift_ci_high": high})
    return pl.DataFrame(rows, schema={**counts.schema, **dict.fromkeys(
        ["conversion_contacted", "conversion_held_out", "uplift", "uplift_ci_low", "uplift_ci_high"], pl.Float64)})
