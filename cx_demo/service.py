"""Service issues and the contacts they cause: a problem with an order (or an account) leads to one or more
contacts across channels (a ticket, then a call, then a chat...), resolved at the first contact or not.

`service_issues` works on order rows and people; `issue_contacts` expands issues into one row per contact with
its channel and time. Bad service (three or more contacts, or never resolved) raises the churn risk and lowers
survey scores later on.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from cx_demo.frames import frame

from cx_demo.people import PERSONAS
from cx_demo.sampling import pick_per_row
from cx_demo.shopping import active_days
from cx_demo.timing import DAY, HOUR, Clock

CONTACT_CHANNELS = ("ticket", "call", "chat", "social")
# First contact channel by persona (ticket, call, chat, social); later contacts escalate towards the phone.
FIRST_CHANNEL = {
    "loyal_omnichannel": (0.3, 0.35, 0.25, 0.1), "digital_native": (0.3, 0.1, 0.45, 0.15), "store_regular": (0.25, 0.65, 0.05, 0.05),
    "bargain_hunter": (0.35, 0.25, 0.3, 0.1), "new_one_off": (0.45, 0.25, 0.25, 0.05),
}
REPEAT_CHANNEL = (0.2, 0.5, 0.25, 0.05)
# (topic, probability per order row, days after the order: low, high, which orders)
ORDER_ISSUES = (
    ("delivery", 0.06, 2, 9, "online_sale"),
    ("product_quality", 0.03, 2, 20, "sale"),
    ("payment_billing", 0.012, 0, 3, "online_sale"),
    ("store_experience", 0.015, 0, 2, "store_sale"),
    ("returns_refunds", 0.16, 7, 21, "return"),
)
LOGIN_ISSUES_PER_YEAR = 0.12
FIRST_CONTACT_RESOLUTION = 0.62
CHURN_AFTER_BAD_SERVICE = 0.35


def service_issues(rng: np.random.Generator, clock: Clock, people: pl.DataFrame, orders: pl.DataFrame) -> pl.DataFrame:
    """One row per issue: person, topic, start time, order key (if any), contacts needed, resolved, bad."""
    persona = people["persona_code"].to_numpy()
    issue_rate = np.array([p.issue_rate for p in PERSONAS])[persona]
    person_of_order = orders["person"].to_numpy()
    is_return = orders["order_type"].to_numpy() == "return"
    is_store = orders["channel"].to_numpy() == "store"
    which = {"online_sale": ~is_return & ~is_store, "sale": ~is_return, "store_sale": ~is_return & is_store, "return": is_return}
    parts = []
    for topic, probability, low, high, kind in ORDER_ISSUES:
        hit = which[kind] & (rng.random(orders.height) < probability * issue_rate[person_of_order])
        rows = np.flatnonzero(hit)
        start = orders["t"].to_numpy()[rows] + rng.integers(low * DAY, high * DAY + HOUR, len(rows))
        parts.append(frame({"person": person_of_order[rows], "topic": topic, "t0": start, "order_key": orders["key"].to_numpy()[rows]}))
    first, end = active_days(people, clock.days)
    logins = rng.poisson(LOGIN_ISSUES_PER_YEAR * issue_rate * (end - first) / 365)
    person = np.repeat(np.arange(people.height), logins)
    parts.append(frame({"person": person, "topic": "account_login",
                               "t0": clock.times_between(rng, first[person], end[person], "online"),
                               "order_key": np.full(len(person), -1)}))
    issues = pl.concat(parts).with_columns(pl.col("order_key").replace(-1, None)).sort("t0", "person", maintain_order=True)
    n = issues.height
    first_time = rng.random(n) < FIRST_CONTACT_RESOLUTION
    contacts = np.where(first_time, 1, np.minimum(2 + rng.geometric(0.5, n) - 1, 5))
    resolved = first_time | (rng.random(n) < 0.8)
    return issues.with_columns(
        contacts=pl.Series(contacts, dtype=pl.Int64), resolved=pl.Series(resolved),
        bad=pl.Series((contacts >= 3) | ~resolved),
    ).filter(pl.col("t0") < clock.end_seconds())


def churn_after_bad_service(rng: np.random.Generator, people: pl.DataFrame, issues: pl.DataFrame) -> pl.DataFrame:
    """People with a badly handled issue drift away more often: churn a few weeks after that issue."""
    bad = issues.filter("bad").group_by("person").agg(pl.col("t0").min()).sort("person", maintain_order=True)
    leaves = rng.random(bad.height) < CHURN_AFTER_BAD_SERVICE
    day = (bad["t0"].to_numpy() // DAY) + rng.integers(10, 45, bad.height)
    churn = people["churn_day"].to_numpy().copy()
    rows = bad["person"].to_numpy()[leaves]
    churn[rows] = np.minimum(churn[rows], day[leaves])
    return people.with_columns(churn_day=pl.Series(churn))


def issue_contacts(rng: np.random.Generator, clock: Clock, people: pl.DataFrame, issues: pl.DataFrame) -> pl.DataFrame:
    """One row per contact: issue row, contact number (1-based), channel, time, is_last."""
    issue = np.repeat(np.arange(issues.height), issues["contacts"].to_numpy())
    number = np.arange(len(issue)) - np.repeat(np.cumsum(issues["contacts"].to_numpy()) - issues["contacts"].to_numpy(), issues["contacts"].to_numpy()) + 1
    person = issues["person"].to_numpy()[issue]
    persona = people["persona"].to_numpy()[person]
    weights = np.where((number == 1)[:, None], np.array([FIRST_CHANNEL[p] for p in persona]), np.array(REPEAT_CHANNEL))
    has_handle = people["social_handle"].is_not_null().to_numpy()[person]
    weights[:, 3] *= has_handle
    channel = pick_per_row(rng, CONTACT_CHANNELS, weights)
    gap = np.where(number == 1, 0, (rng.exponential(1.2, len(issue)) * DAY + 2 * HOUR).astype(np.int64))
    offsets = np.cumsum(gap) - np.repeat(np.cumsum(gap)[np.cumsum(issues["contacts"].to_numpy()) - issues["contacts"].to_numpy()], issues["contacts"].to_numpy())
    raw = issues["t0"].to_numpy()[issue] + offsets
    kind = np.where(channel == "call", "service", "online")
    seconds = np.where(kind == "service", clock.seconds_of_day(rng, len(issue), "service"), clock.seconds_of_day(rng, len(issue), "online"))
    t = (raw // DAY) * DAY + seconds
    return frame(
        {"issue": issue, "number": number, "person": person, "channel": channel, "t": t,
         "is_last": number == issues["contacts"].to_numpy()[issue]}
    ).with_columns(t=pl.col("t").cum_max().over("issue")).filter(pl.col("t") < clock.end_seconds())
