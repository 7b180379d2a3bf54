"""The workforce plan against what happened (the `ml_staffing_adherence` table): service level expected and
reached, planned and seen agents, overall and per channel; polars in, plain numbers out. Apart from `ml.staffing`,
whose queueing models need SciPy, so that the service report reads these summaries without importing it."""

from __future__ import annotations

import polars as pl


def plan_vs_actual_summary(adherence: pl.DataFrame) -> dict[str, float | None]:
    """Plan against actual over past intervals (columns offered_contacts, answered_within_target,
    expected_service_level, planned_agents, agents_seen): the service level the plan expected (weighted by
    offered contacts) and the one reached, the mean planned and seen agents, and the contacts offered, over
    intervals with contacts and a plan; empty without any."""
    rows = adherence.filter((pl.col("offered_contacts") > 0) & pl.col("expected_service_level").is_not_null())
    offered = rows["offered_contacts"].sum()
    if not offered:
        return {}
    return {
        "expected_service_level": float((rows["expected_service_level"] * rows["offered_contacts"]).sum() / offered),
        "service_level_reached": float(rows["answered_within_target"].sum() / offered),
        "planned_agents_mean": float(rows["planned_agents"].mean()),
        "agents_seen_mean": rows["agents_seen"].mean(),  # None where the export names no agent
        "offered_contacts": int(offered),  # the n of both service levels
    }


def plan_vs_actual_by_channel(adherence: pl.DataFrame) -> dict[str, dict[str, float | None]]:
    """`plan_vs_actual_summary` of each channel of `adherence` (a channel column added), channels without any
    judged interval left out."""
    summaries = {channel: plan_vs_actual_summary(rows)
                 for (channel,), rows in adherence.sort("channel").group_by("channel", maintain_order=True)}
    return {channel: summary for channel, summary in summaries.items() if summary}
