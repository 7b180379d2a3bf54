"""Agents per interval and channel from forecast contacts: the workforce plan; polars in, polars out.

Each channel is staffed by the model that fits how its contacts wait (`seeds/staffing_channels.csv`):
- `erlang_a` (voice, the default): callers queue and hang up after their patience; Erlang C is reported beside
  it for comparison (it ignores abandonment and so promises a better service level than callers get);
- `erlang_c`: a queue where nobody gives up;
- `chat`: one agent serves `concurrency` chats at once, so the queue has agents × concurrency slots;
- `backlog` (e-mail, tickets, social): work that may wait up to the response-time target, so what arrives within
  one target window is spread over that window.
Agents on the queue never run above the maximum occupancy (burn-out); scheduled agents add shrinkage (breaks,
training, absence): scheduled = on queue / (1 − shrinkage).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import polars as pl

from ml.erlang import QueueOutcome, erlang_a, erlang_c

PLAN_COLUMNS = {
    "agents_required": pl.Int64, "agents_scheduled": pl.Int64, "expected_service_level": pl.Float64,
    "asa_seconds": pl.Float64, "abandonment": pl.Float64, "occupancy": pl.Float64, "erlang_c_agents": pl.Int64,
}


@dataclass(frozen=True)
class PlanPolicy:
    """House rules of the plan: shrinkage share and maximum occupancy of agents on the queue."""

    shrinkage: float = 0.30
    max_occupancy: float = 0.85


def estimate_patience_seconds(wait_seconds: list[float], abandoned: list[bool]) -> float | None:
    """Mean patience of callers, the maximum-likelihood estimate for exponential patience: total time all
    callers spent waiting / number who hung up. An answered call only tells that patience exceeded its wait
    (censored), which is why its wait counts in the numerator. None without any abandoned call."""
    hung_up = sum(abandoned)
    return sum(wait_seconds) / hung_up if hung_up else None


def queue_outcome(model: str, traffic: float, agents: int, answer_within_seconds: float, handle_seconds: float,
                  patience_seconds: float | None, concurrency: int = 1) -> QueueOutcome:
    """The queue seen by contacts offered to `agents` (× `concurrency` slots for chat)."""
    if model == "erlang_a" and patience_seconds:
        return erlang_a(traffic, agents, answer_within_seconds, handle_seconds, patience_seconds)
    return erlang_c(traffic, agents * concurrency, answer_within_seconds, handle_seconds)


@lru_cache(maxsize=65_536)
def agents_for_queue(model: str, traffic: float, answer_within_seconds: float, handle_seconds: float,
                     service_level_target: float, max_occupancy: float, patience_seconds: float | None,
                     concurrency: int = 1) -> tuple[int, QueueOutcome]:
    """The fewest agents whose queue reaches the service-level target without exceeding the maximum occupancy.
    Both conditions only get easier with more agents, so a doubling search then a bisection finds the number."""

    def enough(agents: int) -> bool:
        outcome = queue_outcome(model, traffic, agents, answer_within_seconds, handle_seconds, patience_seconds,
                                concurrency)
        return outcome.service_level >= service_level_target and outcome.occupancy <= max_occupancy

    if traffic <= 0:  # nobody is expected: no agent is needed and nobody waits
        return 0, QueueOutcome(service_level=1.0, average_speed_of_answer=0.0, abandonment=0.0, occupancy=0.0)
    high = max(1, math.ceil(traffic / concurrency))
    while not enough(high):
        high *= 2
    low = 0  # never enough: there is traffic
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if enough(middle) else (middle, high)
    return high, queue_outcome(model, traffic, high, answer_within_seconds, handle_seconds, patience_seconds,
                               concurrency)


def backlog_agents(window_work_seconds: float, window_seconds: float, max_occupancy: float) -> int:
    """Agents who finish the work arriving within one response window inside that window."""
    return math.ceil(window_work_seconds / (window_seconds * max_occupancy)) if window_work_seconds > 0 else 0


def backlog_plan(intervals: pl.DataFrame, interval_seconds: float, policy: PlanPolicy) -> pl.DataFrame:
    """Backlog rows: the work (contacts × handle seconds) arriving in each interval's trailing response window,
    per channel and queue in time order, done within that window (a window is at least one interval)."""
    parts = []
    for _, rows in intervals.group_by("channel", "queue", maintain_order=True):
        rows = rows.sort("interval_start")
        window = max(interval_seconds, float(rows["answer_within_seconds"][0]))
        work = (rows["contacts"] * rows["handle_seconds"]).rolling_sum(int(window // interval_seconds), min_samples=1)
        agents = [backlog_agents(seconds, window, policy.max_occupancy) for seconds in work]
        parts.append(rows.with_columns(pl.Series("agents_required", agents, dtype=pl.Int64)))
    return pl.concat(parts) if parts else intervals.with_columns(pl.lit(None, pl.Int64).alias("agents_required"))


def queue_plan(intervals: pl.DataFrame, interval_seconds: float, policy: PlanPolicy) -> pl.DataFrame:
    """Queue rows (voice, chat): agents by the channel's queueing model, with the queue's outcome."""
    records = []
    for row in intervals.iter_rows(named=True):
        traffic = row["contacts"] * row["handle_seconds"] / interval_seconds
        record = {"agents_required": 0, "expected_service_level": None, "asa_seconds": None, "abandonment": None,
                  "occupancy": None, "erlang_c_agents": None}
        if traffic > 0:
            queue = (round(traffic, 2), float(row["answer_within_seconds"]), float(round(row["handle_seconds"])),
                     float(row["service_level_target"]), policy.max_occupancy)
            patience = round(row["patience_seconds"]) if row["patience_seconds"] else None
            agents, outcome = agents_for_queue(row["staffing_model"], *queue, patience, int(row["concurrency"] or 1))
            record |= {"agents_required": agents, "expected_service_level": outcome.service_level,
                       "asa_seconds": outcome.average_speed_of_answer, "abandonment": outcome.abandonment,
                       "occupancy": outcome.occupancy}
            if row["staffing_model"] == "erlang_a":
                record["erlang_c_agents"] = agents_for_queue("erlang_c", *queue, None)[0]
        records.append(record)
    return pl.concat([intervals, pl.DataFrame(records, schema=PLAN_COLUMNS).drop("agents_scheduled")],
                     how="horizontal")


def staffing_plan(intervals: pl.DataFrame, interval_seconds: float, policy: PlanPolicy) -> pl.DataFrame:
    """The plan for `intervals`: one row per channel, queue and interval with columns channel, queue (a pool of
    agents of its own; `all` for the whole channel), interval_start,
    contacts (expected in the interval), handle_seconds, staffing_model, answer_within_seconds,
    service_level_target, concurrency, patience_seconds (null where unknown), any others kept. Adds
    agents_required (on the queue), agents_scheduled (with shrinkage), expected_service_level, asa_seconds,
    abandonment, occupancy (queues only) and erlang_c_agents (voice only: what Erlang C would ask for)."""
    is_backlog = pl.col("staffing_model") == "backlog"
    plan = pl.concat([
        backlog_plan(intervals.filter(is_backlog), interval_seconds, policy),
        queue_plan(intervals.filter(~is_backlog), interval_seconds, policy),
    ], how="diagonal_relaxed")
    scheduled = (pl.col("agents_required") / (1 - policy.shrinkage)).round(6).ceil().cast(pl.Int64)
    return plan.with_columns(scheduled.alias("agents_scheduled")).sort("channel", "queue", "interval_start")
