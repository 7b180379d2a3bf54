"""Root cause of a KPI change (polars in, polars out): which slices explain it, as mix vs rate effects.

A total KPI is the weighted mean of its slices' values, weights = each slice's share of the denominator
(responses, contacts, sessions): V = Σ wᵢ vᵢ. Between two periods, per slice (midpoint / Shapley split, exact):
    mix effectᵢ  = Δwᵢ · (v̄ᵢ − V̄)     the slice grew or shrank; matters only when it differs from the average
    rate effectᵢ = w̄ᵢ · Δvᵢ            the slice's own value moved
with v̄, w̄, V̄ the means of both periods. Σ(mix + rate) = ΔV exactly (Σ Δwᵢ = 0). A slice present in one period
only takes its value from that period (no rate effect). Intervals come from a parametric bootstrap: slice
values from their 95% intervals (normal), weights from a multinomial draw of the denominators.

Slices come from kpi_metrics itself: channel, segment, channel × segment cells (entry channel for journeys,
the triggering touchpoint's channel for surveys, as kpi_metrics defines channel) and persona; and, for the
answer-level KPIs (NPS, CSAT, FCR), from kpi_metric_slices: entry channel (where the customer's journey started)
and topic (of the answer's text). A dimension without at least two slices that say something (the rest being
placeholders such as 'no_topic' before the ML text step has run) is skipped, with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
import polars as pl

from ml.wording import slice_words, words

Z95 = 1.959964
BOOTSTRAP_ROUNDS = 400
CELL_SHARE = 0.75
DRIVER_SCHEMA = {
    "metric": pl.String, "period_grain": pl.String, "period_start": pl.Date, "previous_start": pl.Date,
    "dimension": pl.String, "slice": pl.String, "denominator_before": pl.Float64, "denominator_after": pl.Float64,
    "value_before": pl.Float64, "value_after": pl.Float64, "weight_before": pl.Float64, "weight_after": pl.Float64,
    "mix_effect": pl.Float64, "rate_effect": pl.Float64, "contribution": pl.Float64, "ci_low": pl.Float64,
    "ci_high": pl.Float64,
}
SKIPPED_SCHEMA = {"metric": pl.String, "period_grain": pl.String, "period_start": pl.Date, "dimension": pl.String,
                  "reason": pl.String}
SLICE_COLUMNS = ["metric", "period_grain", "period_start", "dimension", "slice", "denominator", "value", "ci_low",
                 "ci_high"]
CELLS = "channel × segment"
# dimension name -> (its rows in kpi_metrics, the slice label)
KPI_METRICS_DIMENSIONS = {
    "channel": ((pl.col("channel") != "all") & (pl.col("segment_type") == "all"), pl.col("channel")),
    "segment": ((pl.col("channel") == "all") & (pl.col("segment_type") == "segment"), pl.col("segment")),
    CELLS: ((pl.col("channel") != "all") & (pl.col("segment_type") == "segment"),
            pl.concat_str(["channel", "segment"], separator=" / ")),
    "persona": ((pl.col("channel") == "all") & (pl.col("segment_type") == "persona"), pl.col("segment")),
}
ANSWER_DIMENSIONS = ("entry_channel", "topic")  # from kpi_metric_slices
DIMENSIONS = (*KPI_METRICS_DIMENSIONS, *ANSWER_DIMENSIONS)
# Slices that stand for "not known" (no topic, journey, persona, customer or trigger): they cannot tell a cause.
PLACEHOLDER_SLICES = {"no_topic", "no_journey", "no_persona", "unknown", "unattributed"}


class ChangeDrivers(NamedTuple):
    drivers: pl.DataFrame  # DRIVER_SCHEMA: one row per change, dimension and slice
    skipped: pl.DataFrame  # SKIPPED_SCHEMA: the dimensions left out of a change, and why


def metric_slices(metrics: pl.DataFrame, answer_slices: pl.DataFrame | None = None) -> pl.DataFrame:
    """Every slice in one long frame (SLICE_COLUMNS): the dimensions of kpi_metrics, plus kpi_metric_slices'
    (`answer_slices`, already long; None when that table is not there)."""
    frames = [metrics.filter(rows).with_columns(pl.lit(name).alias("dimension"), label.alias("slice")).select(SLICE_COLUMNS)
              for name, (rows, label) in KPI_METRICS_DIMENSIONS.items()]
    if answer_slices is not None:
        frames.append(answer_slices.select(SLICE_COLUMNS))
    return pl.concat(frames, how="vertical_relaxed")


def skip_reason(before: pl.DataFrame, after: pl.DataFrame) -> str | None:
    """Why a dimension cannot tell the cause of a change, or None when it can: it needs two slices with answers
    that are not placeholders."""
    present = pl.concat([before, after]).filter(pl.col("denominator") > 0)["slice"].unique().sort().to_list()
    known = [name for name in present if name not in PLACEHOLDER_SLICES]
    if not present:
        return "no slices of this metric in this dimension"
    if not known:
        return (f"no known slice ({', '.join(present)}): the data behind this dimension is missing (topics come "
                "from the ML text step, personas from the persona step)")
    if len(known) == 1:
        return f"one slice only ({known[0]}): nothing to compare"
    return None


def effects(w0: np.ndarray, w1: np.ndarray, v0: np.ndarray, v1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mix and rate effect per slice (last axis); v0/v1 may be nan for a slice absent in that period."""
    v0, v1 = np.where(np.isnan(v0), v1, v0), np.where(np.isnan(v1), v0, v1)
    total0, total1 = (w0 * v0).sum(axis=-1, keepdims=True), (w1 * v1).sum(axis=-1, keepdims=True)
    mix = (w1 - w0) * ((v0 + v1) / 2 - (total0 + total1) / 2)
    rate = (w0 + w1) / 2 * (v1 - v0)
    return mix, rate


def aligned_slices(before: pl.DataFrame, after: pl.DataFrame) -> pl.DataFrame:
    """One row per slice with denominator, value and standard error of both periods (0 / null when absent)."""
    def side(frame: pl.DataFrame, suffix: str) -> pl.DataFrame:
        return frame.select(
            "slice",
            pl.col("denominator").fill_null(0).alias(f"denominator_{suffix}"),
            pl.col("value").alias(f"value_{suffix}"),
            ((pl.col("ci_high") - pl.col("ci_low")) / (2 * Z95)).fill_null(0).alias(f"se_{suffix}"),
        )
    joined = side(before, "before").join(side(after, "after"), on="slice", how="full", coalesce=True)
    return joined.with_columns(pl.col("^denominator_.*$").fill_null(0), pl.col("^se_.*$").fill_null(0)).filter(
        (pl.col("denominator_before") > 0) | (pl.col("denominator_after") > 0)
    ).sort("slice")


def decompose(before: pl.DataFrame, after: pl.DataFrame, rounds: int = BOOTSTRAP_ROUNDS, seed: int = 0) -> pl.DataFrame:
    """Mix, rate and total contribution of each slice to the change of the weighted mean, with 95% intervals.

    before/after: slice, denominator, value, ci_low, ci_high (a slice's value is null when its denominator is 0).
    """
    slices = aligned_slices(before, after)
    d0, d1 = slices["denominator_before"].to_numpy().astype(float), slices["denominator_after"].to_numpy().astype(float)
    v0 = slices["value_before"].fill_null(np.nan).to_numpy().astype(float)
    v1 = slices["value_after"].fill_null(np.nan).to_numpy().astype(float)
    w0, w1 = d0 / d0.sum(), d1 / d1.sum()
    mix, rate = effects(w0, w1, v0, v1)
    rng = np.random.default_rng(seed)
    draw_w0 = rng.multinomial(int(d0.sum()), w0, size=rounds) / d0.sum()
    draw_w1 = rng.multinomial(int(d1.sum()), w1, size=rounds) / d1.sum()
    draw_v0 = v0 + rng.normal(size=(rounds, len(v0))) * slices["se_before"].to_numpy()
    draw_v1 = v1 + rng.normal(size=(rounds, len(v1))) * slices["se_after"].to_numpy()
    boot_mix, boot_rate = effects(draw_w0, draw_w1, draw_v0, draw_v1)
    contribution = boot_mix + boot_rate
    return slices.select("slice", "denominator_before", "denominator_after", "value_before", "value_after").with_columns(
        pl.Series("weight_before", w0), pl.Series("weight_after", w1),
        pl.Series("mix_effect", mix), pl.Series("rate_effect", rate), pl.Series("contribution", mix + rate),
        pl.Series("ci_low", np.nanpercentile(contribution, 2.5, axis=0)),
        pl.Series("ci_high", np.nanpercentile(contribution, 97.5, axis=0)),
    ).sort(pl.col("contribution").abs(), descending=True)


def is_weighted_mean(series: pl.DataFrame, period_start) -> bool:
    """Whether the total of a period is the denominator-weighted mean of its channels (shares, means, NPS; not
    counts or medians), so the decomposition adds up to the real change."""
    rows = series.filter(pl.col("period_start") == period_start)
    total = rows.filter((pl.col("channel") == "all") & (pl.col("segment_type") == "all"))
    parts = rows.filter(KPI_METRICS_DIMENSIONS["channel"][0] & pl.col("value").is_not_null())
    if total.is_empty() or parts.is_empty() or total["value"][0] is None or parts["denominator"].null_count():
        return False
    weighted = (parts["value"] * parts["denominator"]).sum() / parts["denominator"].sum()
    return abs(weighted - total["value"][0]) <= 1e-6 * max(1.0, abs(total["value"][0]))


def change_drivers(metrics: pl.DataFrame, changes: pl.DataFrame, answer_slices: pl.DataFrame | None = None,
                   rounds: int = BOOTSTRAP_ROUNDS) -> ChangeDrivers:
    """Decompose each total change of `changes` (metric, period_grain, period_start) over every dimension, from
    the slices in that period and the one before (kpi_metrics rows, and kpi_metric_slices rows as
    `answer_slices`). Metrics that are not weighted means are left out; dimensions that cannot tell a cause are
    skipped and listed with the reason."""
    slices = metric_slices(metrics, answer_slices)
    frames, skipped = [], []
    for change in changes.unique(["metric", "period_grain", "period_start"]).sort(pl.all()).iter_rows(named=True):
        series = metrics.filter(pl.col("metric") == change["metric"], pl.col("period_grain") == change["period_grain"])
        periods = series.filter(pl.col("period_start") <= change["period_start"])["period_start"].unique().sort()
        if len(periods) < 2 or not all(is_weighted_mean(series, p) for p in periods[-2:]):
            continue
        before_start, after_start = periods[-2], periods[-1]
        keys = {"metric": change["metric"], "period_grain": change["period_grain"], "period_start": after_start}
        of_change = slices.filter(pl.col("metric") == change["metric"], pl.col("period_grain") == change["period_grain"])
        for dimension in DIMENSIONS:
            sliced = of_change.filter(pl.col("dimension") == dimension)
            before = sliced.filter(pl.col("period_start") == before_start)
            after = sliced.filter(pl.col("period_start") == after_start)
            reason = skip_reason(before, after)
            if reason:
                skipped.append({**keys, "dimension": dimension, "reason": reason})
                continue
            frames.append(decompose(before, after, rounds).with_columns(
                *[pl.lit(value).alias(name) for name, value in keys.items()],
                pl.lit(before_start).alias("previous_start"), pl.lit(dimension).alias("dimension"),
            ))
    drivers = pl.DataFrame(schema=DRIVER_SCHEMA) if not frames else pl.concat(frames, how="diagonal_relaxed").select(
        pl.col(name).cast(dtype) for name, dtype in DRIVER_SCHEMA.items())
    return ChangeDrivers(drivers, pl.DataFrame(skipped, schema=SKIPPED_SCHEMA))


def main_driver(drivers: pl.DataFrame) -> dict:
    """The slice to name: the slice of one dimension (channel, segment, persona, entry channel, topic) with the
    largest contribution; a channel or segment is narrowed to one of its channel × segment cells when that cell
    carries CELL_SHARE of it (a cause confined to phone customers of one segment is named as such; one spread
    over all of phone is named phone)."""
    ranked = drivers.sort(pl.col("contribution").abs(), descending=True)
    coarse = ranked.filter(pl.col("dimension") != CELLS).row(0, named=True)
    if coarse["dimension"] not in ("channel", "segment"):
        return coarse
    position = 0 if coarse["dimension"] == "channel" else 1
    cells = ranked.filter(
        (pl.col("dimension") == CELLS)
        & (pl.col("slice").str.split(" / ").list.get(position, null_on_oob=True) == coarse["slice"])
    )
    if cells.height and cells["contribution"][0] / coarse["contribution"] >= CELL_SHARE:
        return cells.row(0, named=True)
    return coarse


def driver_sentence(drivers: pl.DataFrame, scale: float = 1.0, unit: str = "",
                    persona_names: Mapping[str, str] | None = None) -> str:
    """'NPS fell 6.0 points; -4.1 points of it (95% interval -6.3 to -2.0) comes from topic delivery problems
    (...)' for the drivers of one change; `scale` 100 with unit 'points' shows shares in percentage points;
    `persona_names` names persona ids."""
    change = drivers.filter(pl.col("dimension") == drivers["dimension"][0])["contribution"].sum() * scale
    top = main_driver(drivers)
    moved = "rose" if change > 0 else "fell"
    if top["value_before"] is None or top["value_after"] is None:
        movement = "which has data in one of the two periods only"
    else:
        own = "rose" if top["value_after"] > top["value_before"] else "fell"
        movement = f"whose value {own} from {top['value_before'] * scale:.1f} to {top['value_after'] * scale:.1f}"
    return (f"{words(top['metric'])} {moved} {abs(change):.1f}{unit}; {top['contribution'] * scale:+.1f}{unit} of it "
            f"(95% interval {top['ci_low'] * scale:+.1f} to {top['ci_high'] * scale:+.1f}) comes from "
            f"{slice_words(top['dimension'], top['slice'], persona_names)}, {movement} (mix effect {top['mix_effect'] * scale:+.1f}, "
            f"rate effect {top['rate_effect'] * scale:+.1f}).")
