"""From a simulated chunk (`simulate.World`) to the contract-shaped frames, timestamps written as text.

Each frame has exactly the contract columns plus `_person_id` (who the row belongs to, for the identity truth);
the writers select the contract columns only.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from cx_core.cases import case_id
from cx_demo.frames import frame, strings
from cx_demo.identity_noise import emails_as_written, phones_as_written
from cx_demo.people import SHOP_TEST_EMAIL, SHOP_TEST_PERSON
from cx_demo.simulate import World
from cx_demo.timing import DAY, HOUR
from cx_demo.writers import written_times

BRAND_PERSON = "BRAND"  # the retailer's own social account
LOYALTY_CARD_SHOWN = 0.85
KNOWN_BUYER_GIVES_EMAIL = 0.4
# The CRM team's closed loop on detractor answers (fct_cx_cases): it works most cases and closes them after a
# delay of mean 30 hours (the due time is 48 hours, so about one in five is late); detractor answers within
# CASE_MERGE_DAYS of the person's previous one belong to its case (dbt var case_merge_days).
CASES_WORKED = 0.8
CASE_MEAN_CLOSE_HOURS = 30
CASE_MERGE_DAYS = 7


class Exporter:
    def __init__(self, rng: np.random.Generator, world: World, start: date, end_seconds: int):
        self.rng, self.world, self.start, self.end_seconds = rng, world, start, end_seconds
        self.person_id = world.people["person_id"].to_numpy()

    def times(self, values, source: str) -> pl.Series:
        return written_times(self.rng, pl.Series(values, dtype=pl.Int64), self.start, source)

    def all(self, test_orders: int = 0, case_updates: bool = True) -> dict[str, pl.DataFrame]:
        exports = {
            "crm_customers": self.crm_customers(), "web_events": self.web_events(), "orders": self.orders(test_orders),
            "email_events": self.email_events(), "mobile_messages": self.mobile_messages(),
            "support_tickets": self.support_tickets(), "chat_conversations": self.chat_conversations(),
            "calls": self.calls(), "social_mentions": self.social_mentions(), "surveys": self.surveys(),
        }
        return exports | ({"case_updates": self.case_updates()} if case_updates else {})

    def crm_customers(self) -> pl.DataFrame:
        rng, people = self.rng, self.world.people.filter("is_crm")
        n = people.height
        row = np.arange(n)
        created = people["created_day"].to_numpy() * DAY + rng.integers(8 * HOUR, 20 * HOUR, n)
        updated = np.maximum(created, 0) + (rng.random(n) * (self.end_seconds - np.maximum(created, 0))).astype(np.int64)
        handle = people["social_handle"].to_numpy()
        handle = np.array([h.lower() if h and u < 0.3 else h for h, u in zip(handle, rng.random(n))], dtype=object)
        phone = phones_as_written(rng, people, row, "crm_customers")
        return frame({
            "customer_id": people["customer_id"].to_numpy(), "first_name": people["first_name"].to_numpy(), "last_name": people["last_name"].to_numpy(),
            "email": emails_as_written(rng, people["email"].to_numpy(), "crm_customers"),
            "phone": np.where(rng.random(n) < 0.9, phone, None), "loyalty_id": people["loyalty_id"].to_numpy(), "social_handle": handle,
            "country": people["country"].to_numpy(), "language": people["language"].to_numpy(), "segment": people["segment"].to_numpy(),
            "birth_year": np.where(rng.random(n) < 0.9, people["birth_year"].to_numpy(), None),
            "created_at": self.times(created, "crm_customers"), "updated_at": self.times(updated, "crm_customers"),
            "consent_email": people["consent_email"].to_numpy(), "consent_sms": people["consent_sms"].to_numpy(),
            "consent_phone": people["consent_phone"].to_numpy(), "consent_push": people["consent_push"].to_numpy(),
            "_person_id": people["person_id"].to_numpy(),
        }, {"birth_year": pl.Int64})

    def orders(self, test_orders: int = 0) -> pl.DataFrame:
        rng, orders, people = self.rng, self.world.orders, self.world.people
        n = orders.height
        person = orders["person"].to_numpy()
        is_store = orders["channel"].to_numpy() == "store"
        guest = orders["guest"].to_numpy()
        customer = people["customer_id"].to_numpy()[person]
        email = emails_as_written(rng, people["email"].to_numpy()[person], "orders")
        shows_card = is_store & (rng.random(n) < LOYALTY_CARD_SHOWN)
        sale = frame({
            "order_id": orders["order_id"].to_numpy(), "ordered_at": self.times(orders["t"], "orders"),
            "customer_id": np.where(~is_store & ~guest, customer, None),
            "email": np.where(~is_store & (guest | (rng.random(n) < KNOWN_BUYER_GIVES_EMAIL)), email, None),
            "loyalty_id": np.where(shows_card, people["loyalty_id"].to_numpy()[person], None),
            "channel": orders["channel"].to_numpy(), "store_id": orders["store_id"].to_numpy(), "order_type": orders["order_type"].to_numpy(),
            "original_order_id": orders["original_order_id"].to_numpy(), "items": orders["items"].to_numpy(), "value_eur": orders["value_eur"].to_numpy(),
            "payment_method": orders["payment_method"].to_numpy(), "product_category": orders["product_category"].to_numpy(),
            "_person_id": self.person_id[person], "_t": orders["t"].to_numpy(),
        })
        # A return carries the identifiers of the order it returns.
        identity = sale.select(original_order_id="order_id", o_customer="customer_id", o_email="email", o_loyalty="loyalty_id")
        sale = sale.join(identity, on="original_order_id", how="left", maintain_order="left").with_columns(
            customer_id=pl.coalesce("o_customer", "customer_id"), email=pl.when(pl.col("o_customer").is_null() & pl.col("o_loyalty").is_null()).then(pl.coalesce("o_email", "email")).otherwise("email"),
            loyalty_id=pl.coalesce("o_loyalty", "loyalty_id"),
        ).drop("o_customer", "o_email", "o_loyalty")
        if test_orders:
            sale = pl.concat([sale, self._shop_test_orders(sale, test_orders)], how="vertical_relaxed").sort("_t", "order_id", maintain_order=True)
        return sale

    def _shop_test_orders(self, sale: pl.DataFrame, count: int) -> pl.DataFrame:
        """Staff place test orders with the shop's test address; they belong to no customer."""
        web = sale.filter((pl.col("channel") == "web") & (pl.col("order_type") == "sale")).head(count)
        return web.with_columns(order_id=pl.col("order_id").str.replace("^O", "OTEST"), customer_id=pl.lit(None, pl.String),
                                email=pl.lit(SHOP_TEST_EMAIL), loyalty_id=pl.lit(None, pl.String), value_eur=pl.lit(1.0),
                                _person_id=pl.lit(SHOP_TEST_PERSON), _t=pl.col("_t") + 60)

    def web_events(self) -> pl.DataFrame:
        web, people = self.world.web_events, self.world.people
        person = web["_person"]
        return web.select(
            "event_id", event_time=self.times(web["t"], "web_events"), anonymous_id="anonymous_id",
            user_id=pl.when("_logged_in").then(people["customer_id"].gather(person)), event_type="event_type", platform="platform",
            device="device", page_url="page_url", product_id="product_id", product_category="product_category", value_eur="value_eur",
            order_id="order_id", utm_source="utm_source", _person_id=people["person_id"].gather(person), _t="t",
        )

    def email_events(self) -> pl.DataFrame:
        emails = self.world.emails
        return emails.select(
            "event_id", event_time=self.times(emails["t"], "email_events"), email="email", campaign_id="campaign_id",
            campaign_type="campaign_type", event_type="event_type", link_url="link_url",
            _person_id=pl.Series(self.person_id[emails["person"].to_numpy()]),
        )

    def mobile_messages(self) -> pl.DataFrame:
        messages, people = self.world.mobile_messages, self.world.people
        person = messages["person"]
        return messages.select(
            "message_id", sent_at=self.times(messages["t"], "mobile_messages"), channel="channel",
            customer_id=people["customer_id"].gather(person),
            phone=pl.when(pl.col("channel") == "sms").then(people["phone_e164"].gather(person)),
            campaign_id="campaign_id", campaign_type="campaign_type", status="status",
            clicked_at=self.times(messages["click_t"], "mobile_messages"), _person_id=people["person_id"].gather(person),
        )

    def support_tickets(self) -> pl.DataFrame:
        t = self.world.tickets
        return t.select(
            "ticket_id", created_at=self.times(t["t"], "support_tickets"), channel="channel", email="email", social_handle="social_handle",
            customer_name="customer_name", subject="subject", body="body", category="category", priority="priority", status="status",
            first_response_at=self.times(t["first_response_t"], "support_tickets"), response_channel="response_channel",
            solved_at=self.times(t["solved_t"], "support_tickets"), reply_count="reply_count", order_id="order_id",
            _person_id=pl.Series(self.person_id[t["_person"].to_numpy()]),
        )

    def chat_conversations(self) -> pl.DataFrame:
        chats, messages = self.world.chats, self.world.chat_messages
        nested = (
            messages.with_columns(sent_at=self.times(messages["t"], "chat_conversations"))
            .sort("chat", "index", maintain_order=True)
            .group_by("chat", maintain_order=True)
            .agg(messages=pl.struct("sent_at", "sender", "text"))
            .with_columns(pl.col("chat").cast(pl.UInt32))
        )
        chats = chats.join(nested, left_on="_row", right_on="chat", how="left", maintain_order="left")
        return chats.select(
            "conversation_id", started_at=self.times(chats["t"], "chat_conversations"), ended_at=self.times(chats["end_t"], "chat_conversations"),
            platform="platform", user_id="user_id", email="email", anonymous_id="anonymous_id", handover="handover",
            handover_at=self.times(chats["handover_t"], "chat_conversations"), agent_id="agent_id", resolved="resolved", topic="topic",
            messages="messages", _person_id=pl.Series(self.person_id[chats["_person"].to_numpy()]),
        )

    def calls(self) -> pl.DataFrame:
        calls = self.world.calls
        return calls.select(
            "call_id", started_at=self.times(calls["t"], "calls"), phone="phone", direction="direction", ivr_path="ivr_path", queue="queue",
            wait_seconds="wait_seconds", talk_seconds="talk_seconds", hold_seconds="hold_seconds", wrap_seconds="wrap_seconds",
            transfer_count="transfer_count", abandoned="abandoned", agent_id="agent_id", disposition="disposition", ticket_id="ticket_id",
            _person_id=pl.Series(self.person_id[calls["_person"].to_numpy()]),
        )

    def social_mentions(self) -> pl.DataFrame:
        social = self.world.social
        person = social["_person"].to_numpy()
        return social.select(
            "post_id", posted_at=self.times(social["t"], "social_mentions"), platform="platform", author_handle="author_handle",
            is_brand="is_brand", in_reply_to_post_id="in_reply_to_post_id", text="text", like_count="like_count",
            _person_id=pl.Series(np.where(person >= 0, self.person_id[np.maximum(person, 0)], BRAND_PERSON)),
        )

    def surveys(self) -> pl.DataFrame:
        rng, answers, people = self.rng, self.world.surveys, self.world.people
        person = answers["person"].to_numpy()
        known = people["is_crm"].to_numpy()[person] & (rng.random(answers.height) < 0.7)
        return answers.select(
            "response_id", responded_at=self.times(answers["t"], "surveys"),
            customer_id=strings(np.where(known, people["customer_id"].to_numpy()[person], None)),
            email=strings(np.where(known, None, emails_as_written(rng, people["email"].to_numpy()[person], "surveys"))),
            survey_type="survey_type", score="score", comment="comment", trigger_type="trigger_type", trigger_id="trigger_id",
            _person_id=pl.Series(self.person_id[person]),
        )

    def case_updates(self) -> pl.DataFrame:
        """The CRM's closing updates of the detractor cases its agents worked, by the pipeline's case id; a case
        whose closing would fall after the export's end is still open."""
        answers = self.world.surveys.filter((pl.col("survey_type") == "nps") & (pl.col("score") <= 6)).sort("person", "t")
        opens_case = (pl.col("t") - pl.col("t").shift(1).over("person")).fill_null(CASE_MERGE_DAYS * DAY + 1)
        cases = answers.filter(opens_case > CASE_MERGE_DAYS * DAY)
        # a child generator: the closed loop must not shift the random draws of the exports written after it
        rng = self.rng.spawn(1)[0]
        closed_t = cases["t"].to_numpy() + (rng.exponential(CASE_MEAN_CLOSE_HOURS, cases.height) * HOUR).astype(np.int64)
        worked = rng.random(cases.height) < CASES_WORKED
        closed = cases.with_columns(closed_t=closed_t, worked=worked).filter(
            pl.col("worked") & (pl.col("closed_t") < self.end_seconds))
        return closed.select(
            case_id=pl.col("response_id").map_elements(lambda response: case_id("detractor", response), return_dtype=pl.String),
            status=pl.lit("closed"), updated_at=self.times(closed["closed_t"], "case_updates"),
            note=pl.lit("Called back, issue solved"), _person_id=pl.Series(self.person_id[closed["person"].to_numpy()]),
        )
