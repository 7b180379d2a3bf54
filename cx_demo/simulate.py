"""One chunk's simulated history, in causal order: purchases and returns, service issues (which make some
people churn), browsing and abandoned carts, outbound actions and the purchases they cause, web events,
service contacts on every channel, e-mail marketing, social posts and surveys.

Everything stays in internal frames (`person` = row in the chunk's people, `t` = local seconds); record ids
are assigned here so that cross-references (order ids on purchases, trigger ids on surveys) are final.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from cx_demo import channels, marketing, service, sessions, shopping, surveys
from cx_demo.frames import frame
from cx_demo.people import PERSONAS
from cx_demo.texts import TextComposer
from cx_demo.timing import DAY, HOUR, Clock

CART_RECOVERY = 0.12  # abandoned carts bought later without any reminder
GUEST_CHECKOUT = 0.08  # CRM contacts who still check out as guests
SOCIAL_POSTS_PER_YEAR = 1.5


@dataclass
class World:
    people: pl.DataFrame
    devices: pl.DataFrame
    orders: pl.DataFrame
    web_events: pl.DataFrame
    tickets: pl.DataFrame
    calls: pl.DataFrame
    chats: pl.DataFrame
    chat_messages: pl.DataFrame
    social: pl.DataFrame
    emails: pl.DataFrame
    mobile_messages: pl.DataFrame
    surveys: pl.DataFrame
    actions: pl.DataFrame
    texts: pl.DataFrame  # source, record_id, field, language, intended_sentiment, topic


def record_ids(prefix: str, chunk: int, count: int, width: int = 7) -> pl.Series:
    """`<prefix><chunk:03d><row:0width>`: unique across chunks, sortable within a file."""
    return pl.select(pl.lit(f"{prefix}{chunk:03d}") + pl.int_range(count, dtype=pl.Int64).cast(pl.String).str.zfill(width)).to_series()


def _before_churn(frame: pl.DataFrame, people: pl.DataFrame, end_seconds: int) -> pl.DataFrame:
    churn = people["churn_day"].to_numpy()[frame["person"].to_numpy()]
    return frame.filter(pl.Series((frame["t"].to_numpy() // DAY < churn) & (frame["t"].to_numpy() < end_seconds)))


def _text_truth(source: str, records: pl.DataFrame, id_column: str, meta: list[tuple]) -> pl.DataFrame:
    """Text truth rows for the records still present; `meta` rows point at `_row`, the record's row at creation."""
    record_id = dict(zip(records["_row"].to_list(), records[id_column].to_list()))
    rows = [(source, record_id[i], field, language, sentiment, topic) for i, field, language, sentiment, topic in meta if i in record_id]
    return pl.DataFrame(rows, schema=["source", "record_id", "field", "language", "intended_sentiment", "topic"], orient="row")


def simulate(rng: np.random.Generator, composer: TextComposer, clock: Clock, chunk: int, people: pl.DataFrame,
             devices: pl.DataFrame, planted: surveys.PlantedChange | None = None,
             holdout_share: float = marketing.HOLDOUT_SHARE) -> World:
    end = clock.end_seconds()
    devices = devices.sort("owner", "slot", maintain_order=True)
    base, purchase_rate = shopping.base_orders(rng, clock, people)
    base = base.with_columns(key=pl.int_range(pl.len(), dtype=pl.Int64))
    people = people.with_columns(purchase_rate_per_year=pl.Series(purchase_rate))
    returns = shopping.returns_of(rng, people, base.drop("key"))
    returns = returns.with_columns(key=pl.int_range(pl.len(), dtype=pl.Int64) + base.height)
    issues = service.service_issues(rng, clock, people, pl.concat([base, returns]))
    people = service.churn_after_bad_service(rng, people, issues)

    sales = _before_churn(base, people, end)
    returns = _before_churn(returns.filter(pl.col("original_row").is_in(sales["key"].implode())), people, end)
    kept_keys = pl.concat([sales["key"], returns["key"]]).implode()
    issues = issues.filter(pl.col("order_key").is_null() | pl.col("order_key").is_in(kept_keys))
    contacts = service.issue_contacts(rng, clock, people, issues).with_columns(contact=pl.int_range(pl.len(), dtype=pl.Int64))

    browse = sessions.browse_sessions(rng, clock, people, devices)
    carts = browse.filter((pl.col("depth") >= 3)).select("person", t=pl.col("start"), logged_in=pl.col("logged_in"))
    recovered = _recovered_carts(rng, people, carts)
    has_app = np.zeros(people.height, dtype=bool)
    has_app[devices.filter(pl.col("platform") == "app")["owner"].to_numpy()] = True
    bad_ends = contacts.filter(pl.col("is_last")).join(issues.with_row_index("issue").filter("bad").select(pl.col("issue").cast(pl.Int64)), on="issue", maintain_order="left")
    actions = marketing.triggered_actions(rng, clock, people, has_app, sales, carts.filter("logged_in"), bad_ends.select("person", "t"),
                                          holdout_share)
    responses = _response_orders(rng, people, actions.filter("responded"))
    response_value = np.full(actions.height, np.nan)
    response_value[actions["responded"].to_numpy()] = responses["value_eur"].to_numpy()
    actions = actions.with_columns(value_eur=pl.Series(response_value).fill_nan(None))

    next_key = base.height + returns["key"].max() + 1 if returns.height else base.height
    extra = _before_churn(pl.concat([recovered, responses]), people, end)
    extra = extra.with_columns(key=pl.int_range(pl.len(), dtype=pl.Int64) + next_key)
    orders = pl.concat([sales, extra, returns], how="vertical_relaxed").sort("t", "key", maintain_order=True)
    order_id = {k: f"O{chunk:03d}{k:07d}" for k in orders["key"].to_list()}
    orders = orders.with_columns(order_id=pl.col("key").replace_strict(order_id, return_dtype=pl.String),
                                 original_order_id=pl.col("original_row").replace_strict(order_id, default=None, return_dtype=pl.String))
    online_sales = orders.filter((pl.col("order_type") == "sale") & (pl.col("channel") != "store"))
    crm = people["is_crm"].to_numpy()
    guest = ~crm[online_sales["person"].to_numpy()] | (rng.random(online_sales.height) < GUEST_CHECKOUT)
    purchase = sessions.purchase_sessions(rng, devices, online_sales, guest)
    # An app order from someone without the app was placed on the web after all.
    platform = devices["platform"].to_numpy()[purchase["device_row"].to_numpy()]
    orders = orders.join(frame({"key": online_sales["key"], "guest": guest, "platform": platform}), on="key", how="left", maintain_order="left")
    orders = orders.with_columns(pl.col("guest").fill_null(False), channel=pl.coalesce("platform", "channel")).drop("platform")
    all_sessions = pl.concat([browse, purchase.select(browse.columns)], how="vertical_relaxed")
    web = sessions.session_events(rng, all_sessions, devices).filter(pl.col("t").is_between(0, end, closed="left")).sort("t", "anonymous_id", maintain_order=True)
    web = web.with_columns(order_id=pl.col("order_key").replace_strict(order_id, default=None, return_dtype=pl.String),
                           event_id=record_ids("W", chunk, web.height, 8))

    tickets, ticket_meta = channels.tickets(rng, composer, people, contacts, issues, end)
    tickets = tickets.with_row_index("_row").filter(pl.col("t") < end).sort("t", maintain_order=True)
    tickets = tickets.with_columns(ticket_id=record_ids("T", chunk, tickets.height, 6),
                                   order_id=pl.col("order_key").replace_strict(order_id, default=None, return_dtype=pl.String))
    chats, messages, chat_meta = channels.chats(rng, composer, people, devices, contacts, issues)
    chats = chats.with_row_index("_row").with_columns(conversation_id=record_ids("CH", chunk, chats.height, 6))
    calls = _all_calls(rng, chunk, people, contacts, issues, tickets, actions, end)
    social_organic = _organic_posters(rng, clock, people)
    social, social_meta = channels.social_posts(rng, composer, people, contacts, issues, *social_organic)
    social = social.with_row_index("_row").with_columns(post_id=record_ids("SM", chunk, social.height, 6))
    social = social.with_columns(in_reply_to_post_id=pl.col("in_reply_row").replace_strict(
        dict(enumerate(social["post_id"].to_list())), default=None, return_dtype=pl.String)).filter(pl.col("t") < end).sort("t", "post_id", maintain_order=True)

    last_contacts = _last_contacts(contacts, tickets, calls, chats)
    answers, survey_meta = surveys.surveys(rng, composer, people, orders, issues, last_contacts, end, planted)
    answers = answers.with_row_index("_row")
    answers = _before_churn(answers, people, end)
    answers = answers.with_columns(response_id=record_ids("S", chunk, answers.height, 6))
    emails = _emails(rng, clock, people, actions).filter(pl.col("t") < end).sort("t", "person", maintain_order=True)
    emails = emails.with_columns(event_id=record_ids("M", chunk, emails.height, 8))
    mobile = marketing.mobile_messages(rng, clock, actions).filter(pl.col("t") < end).sort("t", "person", maintain_order=True)
    mobile = mobile.with_columns(message_id=record_ids("MM", chunk, mobile.height, 7),
                                 click_t=pl.when(pl.col("click_t") < end).then("click_t"))
    texts = pl.concat([
        _text_truth("support_tickets", tickets, "ticket_id", ticket_meta),
        _text_truth("chat_conversations", chats, "conversation_id", chat_meta),
        _text_truth("social_mentions", social, "post_id", social_meta),
        _text_truth("surveys", answers, "response_id", survey_meta),
    ])
    return World(people, devices, orders, web, tickets, calls, chats, messages, social, emails, mobile, answers, actions, texts)


def _orders_on_channels(rng: np.random.Generator, people: pl.DataFrame, person: np.ndarray, t: np.ndarray, origin: str,
                        utm_source: np.ndarray | None = None) -> pl.DataFrame:
    """Sale orders at given times on each person's usual channels (web, app, store)."""
    return shopping.orders_for(rng, people, person, t, shopping.usual_channels(rng, people, person), origin, utm_source)


def _recovered_carts(rng: np.random.Generator, people: pl.DataFrame, carts: pl.DataFrame) -> pl.DataFrame:
    """Some abandoned carts are bought within a week anyway, online or in a store."""
    chosen = carts.filter(pl.Series(rng.random(carts.height) < CART_RECOVERY))
    t = chosen["t"].to_numpy() + rng.integers(HOUR, 7 * DAY, chosen.height)
    return _orders_on_channels(rng, people, chosen["person"].to_numpy(), t, "recovered")


def _response_orders(rng: np.random.Generator, people: pl.DataFrame, responded: pl.DataFrame) -> pl.DataFrame:
    """The purchase that answers an action: online with the action's channel as utm_source (a phone call may
    also lead to a store visit)."""
    channel = responded["channel"].to_numpy()
    u = rng.random(responded.height)
    order_channel = np.select([channel == "push", channel == "phone"], [np.full(len(u), "app"), np.where(u < 0.4, "store", "web")],
                              default=np.where(u < 0.3, "app", "web")).astype(object)
    utm = np.where(order_channel == "store", None, channel).astype(object)
    person = responded["person"].to_numpy()
    return shopping.orders_for(rng, people, person, responded["response_t"].to_numpy(), order_channel, "response", utm)


def _all_calls(rng: np.random.Generator, chunk: int, people: pl.DataFrame, contacts: pl.DataFrame, issues: pl.DataFrame,
               tickets: pl.DataFrame, actions: pl.DataFrame, end_seconds: int) -> pl.DataFrame:
    """Inbound service calls, callbacks promised on tickets and outbound next-best-action calls."""
    topic = issues["topic"].to_numpy()
    inbound_rows = contacts.filter(pl.col("channel") == "call")
    issue = inbound_rows["issue"].to_numpy()
    resolved_now = inbound_rows["is_last"].to_numpy() & issues["resolved"].to_numpy()[issue]
    inbound = channels.calls(rng, people, inbound_rows["person"].to_numpy(), inbound_rows["t"].to_numpy(), "inbound",
                             topic[issue], resolved_now).with_columns(_contact=inbound_rows["contact"], ticket_id=pl.lit(None, pl.String))
    has_phone = people["phone_e164"].is_not_null().to_numpy()
    callbacks = tickets.filter((pl.col("response_channel") == "phone") & pl.Series(has_phone[tickets["_person"].to_numpy()]))
    callback_calls = channels.calls(
        rng, people, callbacks["_person"].to_numpy(), callbacks["first_response_t"].to_numpy(), "outbound",
        topic[callbacks["_issue"].to_numpy()], rng.random(callbacks.height) < 0.7,
    ).with_columns(_contact=pl.lit(None, pl.Int64), ticket_id=callbacks["ticket_id"])
    phone_actions = actions.filter((pl.col("channel") == "phone") & ~pl.col("is_holdout"))
    responded = phone_actions["responded"].to_numpy()
    action_calls = channels.calls(
        rng, people, phone_actions["person"].to_numpy(), phone_actions["t"].to_numpy(), "outbound",
        np.full(phone_actions.height, "other", dtype=object), responded,
        np.where(responded, "resolved", np.where(rng.random(phone_actions.height) < 0.6, "follow_up", "callback_scheduled")),
    ).with_columns(
        _contact=pl.lit(None, pl.Int64), ticket_id=pl.lit(None, pl.String),
        queue=pl.Series("outbound_" + marketing.campaign_types(phone_actions["action"]), dtype=pl.String),
    )
    calls = pl.concat([inbound, callback_calls, action_calls], how="vertical_relaxed").filter(pl.col("t") < end_seconds)
    calls = calls.sort("t", "_person", maintain_order=True)
    return calls.with_columns(call_id=record_ids("CL", chunk, calls.height, 7))


def _organic_posters(rng: np.random.Generator, clock: Clock, people: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """People with a public handle post now and then about the shop (person rows and times)."""
    first, end = shopping.active_days(people, clock.days)
    has_handle = people["social_handle"].is_not_null().to_numpy()
    count = rng.poisson(SOCIAL_POSTS_PER_YEAR * has_handle * (end - first) / 365)
    person = np.repeat(np.arange(people.height), count)
    return person, clock.times_between(rng, first[person], end[person], "online")


def _last_contacts(contacts: pl.DataFrame, tickets: pl.DataFrame, calls: pl.DataFrame, chats: pl.DataFrame) -> pl.DataFrame:
    """Each issue's final contact with the record it left (ticket, inbound call or chat) for survey triggers."""
    records = pl.concat([
        tickets.select(contact="_contact", trigger_type=pl.lit("support_ticket"), trigger_id="ticket_id"),
        calls.filter(pl.col("_contact").is_not_null()).select(contact="_contact", trigger_type=pl.lit("call"), trigger_id="call_id"),
        chats.select(contact="_contact", trigger_type=pl.lit("chat"), trigger_id="conversation_id"),
    ]).unique("contact", keep="first")
    return contacts.filter("is_last").join(records, on="contact", maintain_order="left").select("issue", "person", "t", "trigger_type", "trigger_id").sort("t", "issue", maintain_order=True)


def _emails(rng: np.random.Generator, clock: Clock, people: pl.DataFrame, actions: pl.DataFrame) -> pl.DataFrame:
    """Bulk campaigns plus triggered e-mails and the triggered campaigns' control rows; the address is the
    person's, as the e-mail platform stores it."""
    persona = people["persona_code"].to_numpy()
    open_rate = np.array([p.open_rate for p in PERSONAS])[persona]
    click_rate = np.array([p.click_rate for p in PERSONAS])[persona]
    bulk = marketing.bulk_email_events(rng, clock, people, open_rate, click_rate)
    mailed = actions.filter(pl.col("channel") == "email")
    campaign_type = marketing.campaign_types(mailed["action"])
    campaign_id = marketing.automated_campaign_ids(clock, campaign_type, mailed["t"].to_numpy())
    held_out = mailed["is_holdout"].to_numpy()
    contacted = ~held_out
    person = mailed["person"].to_numpy()[contacted]
    triggered = marketing.email_events_for(rng, people, person, mailed["t"].to_numpy()[contacted], campaign_id[contacted],
                                           campaign_type[contacted], open_rate[person], click_rate[person],
                                           mailed["responded"].to_numpy()[contacted])
    controls = frame({"person": mailed["person"].to_numpy()[held_out], "t": mailed["t"].to_numpy()[held_out],
                      "campaign_id": campaign_id[held_out], "campaign_type": campaign_type[held_out], "event_type": "control"},
                     {"person": pl.Int64, "t": pl.Int64}).with_columns(link_url=pl.lit(None, pl.String))
    events = pl.concat([bulk, triggered, controls])
    return events.with_columns(email=pl.Series(people["email"].to_numpy()[events["person"].to_numpy()], dtype=pl.String))
