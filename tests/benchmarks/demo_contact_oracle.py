"""The demo generator's true expected daily contacts per workforce channel, for the forecast benchmark only (the
pipeline never reads the generator).

The generator has no closed-form contact rate (contacts follow issues, which follow orders and returns), so the
expected count of a day is the mean over many seeds of the same generator with the demo's parameters. The
simulated contacts are counted the way `fct_service_contacts` and the workforce series count them: tickets on
their channel (e-mail, web form, social), chats as `chat_agent` when handed over (else `chat_bot`), inbound calls
as `phone` when answered by a person or abandoned (else `ivr`), public posts the brand answered as `social`; on
the local (Europe/Berlin) day.
"""

from __future__ import annotations

import os
from datetime import timedelta

import numpy as np
import polars as pl

from cx_demo.generate import CHUNK_SIZE, DEFAULT_END_DATE
from cx_demo.people import make_people
from cx_demo.simulate import World, simulate
from cx_demo.texts import TextComposer
from cx_demo.timing import DAY, Clock


def demo_parameters() -> tuple[int, int, int]:
    """Customers, days and seed of the demo in the warehouse: the Makefile's (overridable the same way)."""
    return (int(os.environ.get("DEMO_CUSTOMERS", 10_000)), int(os.environ.get("DEMO_DAYS", 365)),
            int(os.environ.get("DEMO_SEED", 42)))


def workforce_contacts(world: World) -> pl.DataFrame:
    """One row per service contact of a simulated world: channel, day index (local)."""
    person_answered = ~pl.col("abandoned") & (pl.col("agent_id").is_not_null() | (pl.col("talk_seconds") > 0))
    calls = world.calls.filter(pl.col("direction") == "inbound").select(
        pl.when(pl.col("abandoned") | person_answered).then(pl.lit("phone")).otherwise(pl.lit("ivr")).alias("channel"),
        "t")
    chats = world.chats.select(
        pl.when("handover").then(pl.lit("chat_agent")).otherwise(pl.lit("chat_bot")).alias("channel"), "t")
    answered = world.social.filter("is_brand")["in_reply_row"].drop_nulls().unique().implode()
    posts = world.social.filter(~pl.col("is_brand") & pl.col("_row").is_in(answered)).select(
        pl.lit("social").alias("channel"), "t")
    return pl.concat([world.tickets.select("channel", "t"), calls, chats, posts]).select(
        "channel", (pl.col("t") // DAY).alias("day_index"))


def simulated_daily_contacts(customers: int, days: int, seed: int) -> pl.DataFrame:
    """Contacts per channel and day (channel, day, contacts) of the demo generated with these parameters, chunk
    by chunk with the generator's random streams (seed 42 reproduces the demo's own contacts)."""
    start = DEFAULT_END_DATE - timedelta(days=days - 1)
    clock = Clock(start, days)
    parts = []
    for chunk, first in enumerate(range(0, customers, CHUNK_SIZE)):
        rng = np.random.default_rng([seed, chunk])
        people, devices = make_people(rng, first, min(CHUNK_SIZE, customers - first), days)
        parts.append(workforce_contacts(simulate(rng, TextComposer(seed * 100_003 + chunk), clock, chunk + 1,
                                                 people, devices)))
    counts = pl.concat(parts).filter(pl.col("day_index") < days).group_by("channel", "day_index").agg(
        pl.len().cast(pl.Float64).alias("contacts"))
    grid = pl.DataFrame({"channel": counts["channel"].unique().sort()}).join(
        pl.DataFrame({"day_index": np.arange(days)}), how="cross")
    return grid.join(counts, on=["channel", "day_index"], how="left").select(
        "channel", (pl.lit(start) + pl.duration(days=pl.col("day_index"))).alias("day"),
        pl.col("contacts").fill_null(0.0))


def expected_daily_contacts(customers: int, days: int, seeds: list[int]) -> pl.DataFrame:
    """The generator's expected contacts per channel and day: the mean over `seeds` (channel, day, expected)."""
    runs = pl.concat([simulated_daily_contacts(customers, days, seed) for seed in seeds])
    return runs.group_by("channel", "day").agg((pl.col("contacts").sum() / len(seeds)).alias("expected"))


def poisson_median(rate: np.ndarray) -> np.ndarray:
    """Median of Poisson(rate), the count that minimises the expected absolute error (≈ rate + 1/3 − 0.02/rate)."""
    safe = np.maximum(rate, 1e-9)
    return np.where(rate > 0, np.floor(safe + 1 / 3 - 0.02 / safe), 0.0)
