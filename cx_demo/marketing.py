"""E-mail marketing and outbound next-best-action contacts, with a known (true) response model.

Bulk campaigns (newsletter, promotion) go to consenting CRM contacts on a calendar; triggered actions
(cart reminder, review request, onboarding help, win-back offer, service recovery call, cross-sell) follow
events in a person's history, on e-mail, SMS, phone or app push. Whether a person responds is drawn from
`response_model()`; a response is a purchase within 14 days, visible in the exports as an order (online with
`utm_source` = the channel). Every send is exported: e-mails in email_events, SMS and push messages in
mobile_messages, calls in calls (queue `outbound_<campaign_type>`).
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl

from cx_demo.frames import frame

from cx_demo.people import PERSONA_NAMES
from cx_demo.sampling import pick_per_row
from cx_demo.timing import DAY, HOUR, Clock, black_friday
from ml.holdout import holdout_flags

ACTIONS = ("win_back_offer", "service_recovery_call", "cart_reminder", "cross_sell", "review_request", "onboarding_help")
ACTION_CHANNELS = ("email", "sms", "phone", "push")
CAMPAIGN_TYPE = {"win_back_offer": "win_back", "service_recovery_call": "service_recovery", "cart_reminder": "cart_reminder",
                 "cross_sell": "cross_sell", "review_request": "review_request", "onboarding_help": "onboarding"}
BASE_RESPONSE = {"win_back_offer": 0.06, "service_recovery_call": 0.15, "cart_reminder": 0.12, "cross_sell": 0.05,
                 "review_request": 0.07, "onboarding_help": 0.10}
PERSONA_ACTION_LIFT = {
    "loyal_omnichannel": {"cross_sell": 2.0, "review_request": 2.2, "win_back_offer": 0.8},
    "digital_native": {"cart_reminder": 1.6, "onboarding_help": 0.7},
    "store_regular": {"service_recovery_call": 1.4, "cart_reminder": 0.5, "cross_sell": 0.7},
    "bargain_hunter": {"win_back_offer": 2.5, "cart_reminder": 1.4, "cross_sell": 1.2, "review_request": 0.6},
    "new_one_off": {"onboarding_help": 2.0, "win_back_offer": 0.5, "cross_sell": 0.6},
}
CHANNEL_LIFT = {"email": 1.0, "sms": 1.3, "phone": 2.0, "push": 0.8}
PERSONA_CHANNEL_LIFT = {("digital_native", "push"): 2.2, ("digital_native", "phone"): 0.5, ("store_regular", "phone"): 1.5,
                        ("store_regular", "push"): 0.4, ("bargain_hunter", "sms"): 1.6, ("loyal_omnichannel", "email"): 1.3}
# How the company picks a channel for an action (before consent): email, sms, phone, push.
CHANNEL_CHOICE = {"cart_reminder": (0.5, 0.1, 0.0, 0.4), "review_request": (0.8, 0.1, 0.0, 0.1), "onboarding_help": (0.5, 0.1, 0.2, 0.2),
                  "win_back_offer": (0.5, 0.25, 0.15, 0.1), "service_recovery_call": (0.0, 0.25, 0.75, 0.0), "cross_sell": (0.6, 0.1, 0.0, 0.3)}
FAILED_MESSAGE_SHARE = 0.02  # SMS to dead numbers, push to uninstalled apps
CLICK_WITHOUT_RESPONSE = 0.06  # taps on a message that do not lead to a purchase
RESPONSE_WINDOW_DAYS = 14
WIN_BACK_AFTER_DAYS = 90
HOLDOUT_SHARE = 0.10  # the pipeline's default CX_NBA_HOLDOUT_SHARE


def response_model() -> pl.DataFrame:
    """The true probability that a person of a persona answers an action on a channel with a purchase."""
    rows = []
    for persona in PERSONA_NAMES:
        for action in ACTIONS:
            for channel in ACTION_CHANNELS:
                p = BASE_RESPONSE[action] * PERSONA_ACTION_LIFT[persona].get(action, 1.0) * CHANNEL_LIFT[channel]
                p *= PERSONA_CHANNEL_LIFT.get((persona, channel), 1.0)
                rows.append((persona, action, channel, round(min(p, 0.6), 4)))
    return pl.DataFrame(rows, schema=["persona", "action", "channel", "p_response"], orient="row")


def campaign_calendar(clock: Clock) -> pl.DataFrame:
    """Bulk sends: a Thursday newsletter, promotions every other Monday, Black Friday week and December."""
    rows = []
    for day in range(clock.days):
        d = clock.start + timedelta(days=day)
        if d.weekday() == 3:
            rows.append((day * DAY + 10 * HOUR, f"NL-{d:%Y%m%d}", "newsletter", 0.35))
        friday = black_friday(d.year)
        deal_days = {friday - timedelta(days=k) for k in range(4)} | {friday + timedelta(days=3)}
        if (d.weekday() == 0 and d.isocalendar().week % 2 == 0) or d in deal_days or (d.month == 12 and d.day in (5, 12, 19)):
            rows.append((day * DAY + 18 * HOUR, f"PR-{d:%Y%m%d}", "promotion", 0.4))
    return pl.DataFrame(rows, schema=["t", "campaign_id", "campaign_type", "reach"], orient="row")


def bulk_email_events(rng: np.random.Generator, clock: Clock, people: pl.DataFrame, open_rate: np.ndarray, click_rate: np.ndarray) -> pl.DataFrame:
    """Sends, opens, clicks, bounces and unsubscribes of bulk campaigns (no sends after an unsubscribe)."""
    calendar = campaign_calendar(clock)
    send_day = calendar["t"].to_numpy() // DAY
    subscribed = people["is_crm"].to_numpy() & people["consent_email"].to_numpy()
    receives = (rng.random((people.height, calendar.height)) < calendar["reach"].to_numpy()) & subscribed[:, None]
    receives &= people["created_day"].to_numpy()[:, None] <= send_day[None, :]
    person, campaign = np.nonzero(receives)
    return email_events_for(rng, people, person, calendar["t"].to_numpy()[campaign], calendar["campaign_id"].to_numpy()[campaign],
                            calendar["campaign_type"].to_numpy()[campaign], open_rate[person], click_rate[person], None)


def email_events_for(rng: np.random.Generator, people: pl.DataFrame, person: np.ndarray, t: np.ndarray, campaign_id: np.ndarray,
                     campaign_type: np.ndarray, p_open: np.ndarray, p_click: np.ndarray, forced_click: np.ndarray | None) -> pl.DataFrame:
    """Event rows for one send per row: a send, then bounce, or open (click, unsubscribe) as drawn.

    A dead address bounces every time; churned people stop opening; `forced_click` marks sends the person
    answered (they open and click).
    """
    n = len(person)
    churned = t // DAY >= people["churn_day"].to_numpy()[person]
    dead = (people["person_index"].to_numpy()[person] % 211) == 0
    opened = ~dead & ~churned & (rng.random(n) < p_open)
    clicked = opened & (rng.random(n) < p_click / np.maximum(p_open, 1e-9))
    if forced_click is not None:
        opened |= forced_click
        clicked |= forced_click
    unsubscribed = opened & ~clicked & (rng.random(n) < 0.012)
    open_t = t + rng.exponential(6 * HOUR, n).astype(np.int64) + 60
    click_t = open_t + rng.exponential(300, n).astype(np.int64) + 5
    link = np.array([f"https://www.lindenhaus.de/{k}?utm_campaign={c}" for k, c in zip(campaign_type, campaign_id)], dtype=object)
    base = frame({"person": person, "t": t, "campaign_id": campaign_id, "campaign_type": campaign_type})
    parts = [
        base.with_columns(event_type=pl.lit("send"), link_url=pl.lit(None, pl.String)),
        base.filter(pl.Series(dead)).with_columns(t=pl.col("t") + 40, event_type=pl.lit("bounce"), link_url=pl.lit(None, pl.String)),
        base.with_columns(t=pl.Series(open_t)).filter(pl.Series(opened)).with_columns(event_type=pl.lit("open"), link_url=pl.lit(None, pl.String)),
        base.with_columns(t=pl.Series(click_t), link_url=pl.Series(link)).filter(pl.Series(clicked)).with_columns(event_type=pl.lit("click")),
        base.with_columns(t=pl.Series(click_t)).filter(pl.Series(unsubscribed)).with_columns(event_type=pl.lit("unsubscribe"), link_url=pl.lit(None, pl.String)),
    ]
    events = pl.concat([p.select("person", "t", "campaign_id", "campaign_type", "event_type", "link_url") for p in parts]).sort("person", "t", maintain_order=True)
    # Nothing is sent to a person after they unsubscribed.
    stopped = pl.col("event_type").eq("unsubscribe").cast(pl.Int32).cum_sum().over("person") - pl.col("event_type").eq("unsubscribe").cast(pl.Int32)
    return events.filter(stopped == 0)


def campaign_types(actions: pl.Series) -> np.ndarray:
    """The campaign_type the exports carry for each triggered action."""
    return np.array([CAMPAIGN_TYPE[a] for a in actions.to_list()], dtype=object)


def automated_campaign_ids(clock: Clock, campaign_type: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Triggered sends are grouped into one campaign per type and month: AUTO-<type>-<YYYYMM>."""
    day = t // DAY
    return np.array([f"AUTO-{k}-{clock.start + timedelta(days=int(d)):%Y%m}" for k, d in zip(campaign_type, day)], dtype=object)


def mobile_messages(rng: np.random.Generator, clock: Clock, actions: pl.DataFrame) -> pl.DataFrame:
    """SMS and push sends of the triggered actions: person, t, channel, campaign_id, campaign_type, status,
    click_t. A message the person answered was tapped; a few others are tapped without a purchase; the control
    group's rows say `held_out` and were never sent."""
    sent = actions.filter(pl.col("channel").is_in(["sms", "push"]))
    n = sent.height
    t = sent["t"].to_numpy()
    campaign_type = campaign_types(sent["action"])
    held_out = sent["is_holdout"].to_numpy()
    failed = (rng.random(n) < FAILED_MESSAGE_SHARE) & ~sent["responded"].to_numpy()
    tapped = ~held_out & (sent["responded"].to_numpy() | (~failed & (rng.random(n) < CLICK_WITHOUT_RESPONSE)))
    click_t = t + rng.exponential(40 * 60, n).astype(np.int64) + 10
    return frame({
        "person": sent["person"].to_numpy(), "t": t, "channel": sent["channel"].to_numpy(),
        "campaign_id": automated_campaign_ids(clock, campaign_type, t), "campaign_type": campaign_type,
        "status": np.select([held_out, failed], ["held_out", "failed"], "delivered").astype(object), "click_t": np.where(tapped, click_t, -1),
    }, {"person": pl.Int64, "t": pl.Int64, "click_t": pl.Int64}).with_columns(pl.col("click_t").replace(-1, None))


def triggered_actions(rng: np.random.Generator, clock: Clock, people: pl.DataFrame, has_app: np.ndarray, orders: pl.DataFrame,
                      carts: pl.DataFrame, bad_issue_ends: pl.DataFrame, holdout_share: float = HOLDOUT_SHARE) -> pl.DataFrame:
    """Outbound actions with channel and truth outcome (person, action, channel, t, is_holdout, could_respond,
    responded, response_t): could_respond = a response would fall before the person drifts away and the data
    ends; a held-out person never responds."""
    crm = people["is_crm"].to_numpy()
    sales = orders.filter((pl.col("order_type") == "sale") & pl.Series(crm[orders["person"].to_numpy()]))
    online = sales.filter(pl.col("channel") != "store")
    parts = [
        _trigger(carts.filter(pl.Series(rng.random(carts.height) < 0.6)), "cart_reminder", 2 * HOUR, 20 * HOUR, rng),
        _trigger(online.filter(pl.Series(rng.random(online.height) < 0.2)), "review_request", 7 * DAY, 10 * DAY, rng),
        _trigger(sales.filter(pl.Series(rng.random(sales.height) < 0.12)), "cross_sell", 10 * DAY, 20 * DAY, rng),
        _trigger(bad_issue_ends.filter(pl.Series(rng.random(bad_issue_ends.height) < 0.6)), "service_recovery_call", DAY, 3 * DAY, rng),
    ]
    created = people["created_day"].to_numpy()
    new = np.flatnonzero(crm & (created >= 0))
    parts.append(_trigger(frame({"person": new, "t": created[new] * DAY + 9 * HOUR}), "onboarding_help", DAY, 3 * DAY, rng))
    parts.append(_trigger(_lapsed(sales, clock), "win_back_offer", 0, 10 * DAY, rng))
    actions = pl.concat(parts).filter(pl.col("t") < clock.end_seconds())
    person = actions["person"].to_numpy()
    allowed = np.stack([people["consent_email"].to_numpy()[person], people["consent_sms"].to_numpy()[person],
                        people["consent_phone"].to_numpy()[person], people["consent_push"].to_numpy()[person] & has_app[person]], axis=1)
    weights = np.array([CHANNEL_CHOICE[a] for a in actions["action"].to_numpy()]) * allowed
    reachable = weights.sum(axis=1) > 0
    channel = pick_per_row(rng, ACTION_CHANNELS, weights)
    actions = actions.with_columns(channel=pl.Series(channel, dtype=pl.String), persona=pl.Series(people["persona"].to_numpy()[person])).filter(pl.Series(reachable))
    actions = actions.join(response_model(), on=["persona", "action", "channel"], how="left", maintain_order="left")
    actions = actions.with_columns(t=pl.Series(_office_hours_for_calls(rng, actions["t"].to_numpy(), actions["channel"].to_numpy())))
    n = actions.height
    response_t = actions["t"].to_numpy() + (rng.gamma(1.5, 1.4, n) * DAY).clip(600, (RESPONSE_WINDOW_DAYS - 1) * DAY).astype(np.int64)
    limit = np.minimum(people["churn_day"].to_numpy()[actions["person"].to_numpy()] * DAY, clock.end_seconds())
    # Someone who has already drifted away does not come back: the model applies to active people.
    could_respond = response_t < limit
    held_out = holdout_flags(people["person_id"].gather(actions["person"]), actions["action"], holdout_share).to_numpy()
    responded = (rng.random(n) < actions["p_response"].to_numpy()) & could_respond & ~held_out
    return actions.with_columns(is_holdout=pl.Series(held_out), could_respond=pl.Series(could_respond), responded=pl.Series(responded),
                                response_t=pl.Series(np.where(responded, response_t, -1))).with_columns(
        pl.col("response_t").replace(-1, None)).sort("t", "person", maintain_order=True)


def _office_hours_for_calls(rng: np.random.Generator, t: np.ndarray, channel: np.ndarray) -> np.ndarray:
    """Outbound calls happen between 9:00 and 18:00, at the next such time after the trigger."""
    call = (t // DAY) * DAY + 9 * HOUR + rng.integers(0, 9 * HOUR, len(t))
    call = np.where(call < t, call + DAY, call)
    return np.where(channel == "phone", call, t)


def _trigger(source: pl.DataFrame, action: str, low: int, high: int, rng: np.random.Generator) -> pl.DataFrame:
    return frame({"person": source["person"].to_numpy(), "t": source["t"].to_numpy() + rng.integers(low, high + 1, source.height),
                         "action": action}, {"person": pl.Int64, "t": pl.Int64, "action": pl.String})


def _lapsed(sales: pl.DataFrame, clock: Clock) -> pl.DataFrame:
    """The moment a buyer has gone WIN_BACK_AFTER_DAYS without a purchase (once per gap)."""
    lapse = WIN_BACK_AFTER_DAYS * DAY
    gaps = (
        sales.select("person", "t").sort("person", "t", maintain_order=True)
        .with_columns(next_t=pl.col("t").shift(-1).over("person").fill_null(clock.end_seconds() + lapse))
        .filter(pl.col("next_t") - pl.col("t") > lapse)
    )
    return gaps.select("person", t=pl.col("t") + lapse)
