"""Orders, returns and abandoned-cart recoveries, vectorised over all people of a chunk.

Rows carry `person` (row index into the chunk's people frame) and `t` (local seconds, see timing.py);
ids and text formats are assigned when the sources are written.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from cx_demo.frames import frame

from cx_demo.people import PERSONAS
from cx_demo.sampling import pick_per_row
from cx_demo.timing import DAY, HOUR, Clock

CATEGORIES = ("fashion", "shoes", "home", "kitchen", "electronics", "beauty", "toys", "sports", "garden")
CATEGORY_PRICE = np.array([1.0, 1.2, 1.1, 0.9, 2.4, 0.5, 0.7, 1.0, 0.9])
CATEGORY_RETURNS = np.array([1.6, 1.5, 0.6, 0.5, 0.8, 0.4, 0.5, 0.9, 0.5])
ONLINE_PAYMENTS = ("paypal", "credit_card", "invoice", "klarna", "apple_pay", "sofort")
STORE_PAYMENTS = ("girocard", "cash", "credit_card", "apple_pay")
STORES = {"DE": tuple(f"S{i:02d}" for i in range(1, 13)), "AT": ("S20", "S21"), "CH": ("S30",)}
CHANNELS = ("web", "app", "store")
ORDER_COLUMNS = ("person", "t", "channel", "order_type", "original_row", "items", "value_eur", "payment_method",
                 "product_category", "store_id", "origin", "utm_source")


def active_days(people: pl.DataFrame, days: int) -> tuple[np.ndarray, np.ndarray]:
    """First and end (exclusive) day each person can act in the window: from creation until churn."""
    first = np.maximum(people["created_day"].to_numpy(), 0)
    end = np.minimum(people["churn_day"].to_numpy(), days)
    return first, np.maximum(end, first)


def orders_for(rng: np.random.Generator, people: pl.DataFrame, person: np.ndarray, t: np.ndarray, channel: np.ndarray,
               origin: str, utm_source: np.ndarray | None = None) -> pl.DataFrame:
    """Sale orders for given people, times and channels: basket, category, payment and store drawn per row."""
    n = len(person)
    persona = people["persona_code"].to_numpy()[person]
    category = rng.integers(0, len(CATEGORIES), n)
    items = 1 + rng.poisson(0.9, n)
    basket = np.array([p.basket_eur for p in PERSONAS])[persona] * CATEGORY_PRICE[category]
    value = np.round(basket * rng.lognormal(-0.1, 0.45, n) * (1 + 0.35 * (items - 1)), 2)
    is_store = channel == "store"
    country = people["country"].to_numpy()[person]
    store = np.array([STORES[c][k % len(STORES[c])] for c, k in zip(country, rng.integers(0, 60, n))], dtype=object)
    payment = np.where(
        is_store,
        np.asarray(STORE_PAYMENTS, dtype=object)[rng.integers(0, len(STORE_PAYMENTS), n)],
        np.asarray(ONLINE_PAYMENTS, dtype=object)[rng.integers(0, len(ONLINE_PAYMENTS), n)],
    )
    return frame(
        {
            "person": person.astype(np.int64), "t": t.astype(np.int64), "channel": channel.astype(object),
            "order_type": "sale", "original_row": None, "items": items.astype(np.int64), "value_eur": value,
            "payment_method": payment, "product_category": np.asarray(CATEGORIES, dtype=object)[category],
            "store_id": np.where(is_store, store, None), "origin": origin,
            "utm_source": utm_source if utm_source is not None else np.full(n, None, dtype=object),
        },
        types={"original_row": pl.Int64, "utm_source": pl.String, "store_id": pl.String}).select(ORDER_COLUMNS)


def usual_channels(rng: np.random.Generator, people: pl.DataFrame, person: np.ndarray) -> np.ndarray:
    """A purchase channel (web, app, store) per row from the person's persona mix."""
    mix = np.array([p.channel_mix for p in PERSONAS])[people["persona_code"].to_numpy()[person]]
    return pick_per_row(rng, CHANNELS, mix)


def base_orders(rng: np.random.Generator, clock: Clock, people: pl.DataFrame) -> tuple[pl.DataFrame, np.ndarray]:
    """Each person's own purchases: Poisson counts by persona (with personal taste), days from the season curve.
    Also returns each person's purchase rate per year (for the truth: what a perfect churn model would know)."""
    first, end = active_days(people, clock.days)
    persona = people["persona_code"].to_numpy()
    rate = np.array([p.orders_per_year for p in PERSONAS])[persona] * rng.gamma(2.0, 0.5, people.height)
    count = rng.poisson(rate * (end - first) / 365)
    person = np.repeat(np.arange(people.height), count)
    channel = usual_channels(rng, people, person)
    t = np.where(
        channel == "store",
        clock.times_between(rng, first[person], end[person], "store"),
        clock.times_between(rng, first[person], end[person], "online"),
    )
    return orders_for(rng, people, person, t, channel, "organic"), rate


def returns_of(rng: np.random.Generator, people: pl.DataFrame, orders: pl.DataFrame) -> pl.DataFrame:
    """Returns of some sale orders 3-30 days later, by post (web) or in a store; value up to the original."""
    persona = people["persona_code"].to_numpy()[orders["person"].to_numpy()]
    category = np.searchsorted(np.array(CATEGORIES), orders["product_category"].to_numpy().astype(str))
    p_return = np.array([p.return_rate for p in PERSONAS])[persona] * CATEGORY_RETURNS[np.clip(category, 0, len(CATEGORIES) - 1)]
    rows = np.flatnonzero(rng.random(orders.height) < np.clip(p_return, 0, 0.9))
    original = orders[rows]
    n = len(rows)
    in_store = (original["channel"].to_numpy() == "store") | (rng.random(n) < 0.2)
    t = original["t"].to_numpy() + rng.integers(3, 31, n) * DAY + rng.integers(-6, 6, n) * HOUR
    returned_items = np.minimum(original["items"].to_numpy(), 1 + rng.binomial(original["items"].to_numpy() - 1, 0.3))
    share = returned_items / original["items"].to_numpy()
    return original.with_columns(
        t=pl.Series(t), channel=pl.Series(np.where(in_store, "store", "web").astype(object)),
        order_type=pl.lit("return"), original_row=pl.Series(rows.astype(np.int64)), items=pl.Series(returned_items),
        value_eur=(pl.col("value_eur") * pl.Series(share)).round(2), origin=pl.lit("return"), utm_source=pl.lit(None, pl.String),
        store_id=pl.when(pl.Series(in_store)).then(pl.col("store_id").fill_null("S01")).otherwise(None),
        payment_method=pl.when(pl.Series(in_store)).then(pl.col("payment_method")).otherwise(pl.lit("refund")),
    )
