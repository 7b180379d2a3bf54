"""Contact-volume forecast and staffing (Erlang C) for workforce planning; polars in, polars out.

The forecast is deliberately simple and explainable to a CX lead: the expected volume of a future day is the
average of the same weekday over the last `history_weeks` weeks (weekly seasonality dominates contact centres).
Staffing uses Erlang C, the queueing model contact centres plan with: calls arrive at random, wait in one
queue, and are answered by `agents` identical agents.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import polars as pl


def erlang_c_wait_probability(traffic_erlangs: float, agents: int) -> float:
    """Probability that a contact has to wait (Erlang C). 1.0 when the agents cannot keep up (agents <= traffic).

    Computed with the stable Erlang B recursion, B(k) = A·B(k−1) / (k + A·B(k−1)), then
    C = N·B / (N − A·(1 − B)), which avoids the huge factorials of the textbook formula.
    """
    if agents <= traffic_erlangs:
        return 1.0
    blocking = 1.0
    for k in range(1, agents + 1):
        blocking = traffic_erlangs * blocking / (k + traffic_erlangs * blocking)
    return agents * blocking / (agents - traffic_erlangs * (1 - blocking))


def service_level(traffic_erlangs: float, agents: int, answer_within_seconds: float, handle_seconds: float) -> float:
    """Share of contacts answered within `answer_within_seconds`: 1 − C · exp(−(N − A) · T / AHT)."""
    if agents <= traffic_erlangs:
        return 0.0
    wait_probability = erlang_c_wait_probability(traffic_erlangs, agents)
    return 1 - wait_probability * math.exp(-(agents - traffic_erlangs) * answer_within_seconds / handle_seconds)


def agents_needed(
    contacts: float,
    interval_seconds: float,
    handle_seconds: float,
    answer_within_seconds: float,
    service_level_target: float,
) -> int:
    """The fewest agents that answer `service_level_target` of `contacts` (arriving within one interval of
    `interval_seconds`) within `answer_within_seconds`. No contacts need no agents."""
    if contacts <= 0:
        return 0
    traffic = contacts * handle_seconds / interval_seconds
    agents = max(1, math.floor(traffic) + 1)
    while service_level(traffic, agents, answer_within_seconds, handle_seconds) < service_level_target:
        agents += 1
    return agents


def forecast_daily_volume(
    daily_volume: pl.DataFrame, first_day: date, days: int, history_weeks: int = 4
) -> pl.DataFrame:
    """Forecast contacts per channel and day for `days` days from `first_day`.

    `daily_volume` has columns channel, day (Date), contacts (one row per channel and day with contacts; days
    without a row count as zero). The forecast for a day is the mean of the same weekday over the
    `history_weeks` weeks before `first_day`. Returns channel, day, weekday (1 = Monday), contacts (Float64).
    """
    history_start = first_day - timedelta(weeks=history_weeks)
    channels = daily_volume.select(pl.col("channel").unique().sort())
    history_days = pl.DataFrame({"day": pl.date_range(history_start, first_day - timedelta(days=1), eager=True)})
    history = (
        channels.join(history_days, how="cross")
        .join(daily_volume.select("channel", "day", "contacts"), on=["channel", "day"], how="left")
        .with_columns(pl.col("contacts").fill_null(0).cast(pl.Float64), pl.col("day").dt.weekday().alias("weekday"))
        .group_by("channel", "weekday")
        .agg(pl.col("contacts").mean())
    )
    future_days = pl.DataFrame(
        {"day": pl.date_range(first_day, first_day + timedelta(days=days - 1), eager=True)}
    ).with_columns(pl.col("day").dt.weekday().alias("weekday"))
    return (
        channels.join(future_days, how="cross")
        .join(history, on=["channel", "weekday"], how="left")
        .select("channel", "day", "weekday", pl.col("contacts").fill_null(0.0))
        .sort("channel", "day")
    )


def staffing_plan(intervals: pl.DataFrame, interval_seconds: float) -> pl.DataFrame:
    """Add `agents` (Erlang C) to each row of `intervals`: columns contacts (expected in one interval of
    `interval_seconds`), handle_seconds, answer_within_seconds, service_level_target (any others are kept)."""
    agents = [
        agents_needed(row["contacts"], interval_seconds, row["handle_seconds"], row["answer_within_seconds"],
                      row["service_level_target"])
        for row in intervals.iter_rows(named=True)
    ]
    return intervals.with_columns(pl.Series("agents", agents, dtype=pl.Int64))
