"""Web and app sessions and their events: page views, product views, carts, checkouts, logins, purchases.

Browse sessions drop off along the funnel (page_view -> view_item -> add_to_cart -> begin_checkout); purchase
sessions go all the way and end with the `purchase` event of an order. Events are expanded from per-session
step counts without Python loops.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from cx_demo.frames import frame

from cx_demo.people import PERSONAS
from cx_demo.shopping import CATEGORIES, active_days
from cx_demo.timing import Clock

# Browse depth: 1 page views only, 2 + product views, 3 + add to cart, 4 + begin checkout.
BROWSE_DEPTH = np.array([0.45, 0.33, 0.13, 0.09])
BROWSE_SCALE = 0.6  # browse sessions per (purchase x persona browse ratio); tunes web_events to ~2/3 of all rows
STEPS = ("page_view", "login", "page_view", "view_item", "add_to_cart", "begin_checkout", "purchase")
PAGES = {0: "/", 1: "/login", 4: "/cart", 5: "/checkout", 6: "/checkout/success"}  # 2: category page, 3: product page
PRODUCT_STEPS = [3, 4, 6]  # view_item, add_to_cart, purchase
PRODUCT_ID = pl.lit("SKU-") + pl.col("category").str.slice(0, 3).str.to_uppercase() + pl.lit("-") + pl.col("product_number").cast(pl.String).str.zfill(4)
UTM_SOURCES = (None, None, None, None, "google", "google", "newsletter", "instagram", "idealo", "facebook")


def pick_devices(rng: np.random.Generator, devices: pl.DataFrame, person: np.ndarray, platform: np.ndarray | None = None) -> np.ndarray:
    """Row in `devices` (sorted by owner) of a device of each person, on `platform` when the person has one."""
    owner = devices["owner"].to_numpy()
    start = np.searchsorted(owner, person, side="left")
    count = np.searchsorted(owner, person, side="right") - start
    row = start + (rng.random(len(person)) * count).astype(np.int64)
    if platform is not None:
        device_platform = devices["platform"].to_numpy()
        for _attempt in range(4):  # re-draw where the platform does not match; a person without an app stays on web
            wrong = device_platform[row] != platform
            row = np.where(wrong, start + (rng.random(len(person)) * count).astype(np.int64), row)
    return row


def browse_sessions(rng: np.random.Generator, clock: Clock, people: pl.DataFrame, devices: pl.DataFrame) -> pl.DataFrame:
    first, end = active_days(people, clock.days)
    persona = people["persona_code"].to_numpy()
    online_share = 1 - np.array([p.channel_mix[2] for p in PERSONAS])[persona]
    rate = np.array([p.orders_per_year * p.browse_per_order for p in PERSONAS])[persona] * (0.3 + online_share)
    count = rng.poisson(BROWSE_SCALE * rate * rng.gamma(2.0, 0.5, people.height) * (end - first) / 365)
    person = np.repeat(np.arange(people.height), count)
    n = len(person)
    logged_in = people["is_crm"].to_numpy()[person] & (rng.random(n) < 0.3)
    return frame(
        {
            "person": person, "device_row": pick_devices(rng, devices, person), "start": clock.times_between(rng, first[person], end[person], "online"),
            "depth": rng.choice(4, n, p=BROWSE_DEPTH) + 1, "logged_in": logged_in, "order_key": np.full(n, None, dtype=object),
            "category": np.asarray(CATEGORIES, dtype=object)[rng.integers(0, len(CATEGORIES), n)], "value_eur": np.round(rng.lognormal(3.5, 0.6, n), 2),
            "utm_source": np.asarray(UTM_SOURCES, dtype=object)[rng.integers(0, len(UTM_SOURCES), n)],
        }, {"order_key": pl.Int64})


def purchase_sessions(rng: np.random.Generator, devices: pl.DataFrame, orders: pl.DataFrame, guest: np.ndarray) -> pl.DataFrame:
    """One session per online sale order, on a device of the order's platform, ending in its purchase event."""
    person = orders["person"].to_numpy()
    return frame(
        {
            "person": person, "device_row": pick_devices(rng, devices, person, orders["channel"].to_numpy()), "start": orders["t"].to_numpy(), "depth": 5,
            "logged_in": ~guest, "order_key": orders["key"].to_numpy(), "category": orders["product_category"].to_numpy(),
            "value_eur": orders["value_eur"].to_numpy(), "utm_source": orders["utm_source"].to_numpy(),
        })


def session_events(rng: np.random.Generator, sessions: pl.DataFrame, devices: pl.DataFrame) -> pl.DataFrame:
    """Expand sessions into events in funnel order. A browse session starts at `start`; a purchase session
    (depth 5) ends at `start`, the order's time, with its purchase event."""
    n = sessions.height
    depth = sessions["depth"].to_numpy()
    logged_in = sessions["logged_in"].to_numpy()
    counts = np.stack(
        [
            np.ones(n, dtype=np.int64),  # landing page view
            logged_in.astype(np.int64),
            rng.poisson(1.3, n),  # more page views
            np.where(depth >= 2, 1 + rng.poisson(1.0, n), 0),
            (depth >= 3).astype(np.int64),
            (depth >= 4).astype(np.int64),
            (depth >= 5).astype(np.int64),
        ],
        axis=1,
    )
    per_session = counts.sum(axis=1)
    session = np.repeat(np.arange(n), per_session)
    step = _steps(counts)
    gaps = rng.exponential(45, len(session)).astype(np.int64) + 3
    first_row = np.cumsum(per_session) - per_session
    elapsed = np.cumsum(gaps) - np.repeat(np.cumsum(gaps)[first_row], per_session)
    session_length = np.repeat(elapsed[first_row + per_session - 1], per_session)
    start = sessions["start"].to_numpy()[session]
    t = np.where(depth[session] >= 5, start - (session_length - elapsed), start + elapsed)
    # String columns are gathered and composed by polars: far faster than numpy object arrays at this size.
    session_rows = pl.Series(session)
    device_rows = sessions["device_row"].gather(session_rows)
    value = sessions["value_eur"].gather(session_rows)
    step_code = pl.col("step")
    return pl.DataFrame({
        "t": t, "step": step, "anonymous_id": devices["anonymous_id"].gather(device_rows), "platform": devices["platform"].gather(device_rows),
        "device": devices["device"].gather(device_rows), "category": sessions["category"].gather(session_rows),
        "product_number": rng.integers(0, 400, len(session)), "value": value, "order_key": sessions["order_key"].gather(session_rows),
        "utm": sessions["utm_source"].gather(session_rows), "_person": sessions["person"].gather(session_rows),
        "_logged_in": logged_in[session] & (step >= 1),
    }).select(
        "t", "anonymous_id",
        event_type=step_code.replace_strict(dict(enumerate(STEPS)), return_dtype=pl.String),
        platform="platform", device="device",
        page_url=step_code.replace_strict(PAGES, default=None, return_dtype=pl.String)
        .fill_null(pl.when(step_code == 2).then(pl.lit("/c/") + pl.col("category")).otherwise(pl.lit("/p/") + PRODUCT_ID)),
        product_id=pl.when(step_code.is_in(PRODUCT_STEPS)).then(PRODUCT_ID),
        product_category=pl.when(step_code.is_in([2, *PRODUCT_STEPS])).then("category"),
        value_eur=pl.when(step_code == STEPS.index("add_to_cart")).then((pl.col("value") / 2).round(2))
        .when(step_code == STEPS.index("purchase")).then("value"),
        order_key=pl.when(step_code == STEPS.index("purchase")).then("order_key"),
        utm_source=pl.when(step_code == 0).then("utm"),
        _person="_person", _logged_in="_logged_in",
    )


def _steps(counts: np.ndarray) -> np.ndarray:
    """Step codes per event: each session's steps in funnel order, repeated by their counts."""
    flat = counts.ravel()
    codes = np.tile(np.arange(counts.shape[1]), counts.shape[0])
    return np.repeat(codes, flat)
