"""The input contract: one `SourceContract` per touchpoint export (README, "The source contract").

The demo generator writes exactly these formats, the ingest assets validate against them, and the dbt
sources read the Parquet they produce. Real users map their exports to these columns.

Column types are logical types that the reader casts to:
  string, integer, double, boolean, timestamp (parsed with its offset, stored as UTC; a value without an
  offset is read in the contract's `naive_timezone`), date, and `messages` (chat only: a JSON list of
  {"sent_at": timestamp, "sender": "customer"|"bot"|"agent", "text": string}).
Doubles accept a decimal comma ("12,50"); booleans accept true/false, 1/0, yes/no, ja/nein.
"""

from __future__ import annotations

from dataclasses import dataclass, field

LOGICAL_TYPES = ("string", "integer", "double", "boolean", "timestamp", "date", "messages")
IDENTIFIER_TYPES = ("crm_id", "email", "phone", "loyalty_id", "social_handle", "anonymous_id")


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool = False
    pii: bool = False  # personal data: masked in previews, never shown in reports
    # The identity-graph type of an identifier column (crm_id, email, phone, loyalty_id, social_handle,
    # anonymous_id): erasure and the suppression list find a person's rows through these columns.
    identifier: str | None = None
    # Text the customer wrote: may hold any personal data, so it is redacted before it reaches the marts.
    free_text: bool = False
    allowed: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if self.identifier is not None and self.identifier not in IDENTIFIER_TYPES:
            raise ValueError(f"column {self.name!r}: unknown identifier type {self.identifier!r}")
        if self.type not in LOGICAL_TYPES:
            raise ValueError(f"column {self.name!r}: unknown type {self.type!r}, expected one of {LOGICAL_TYPES}")


@dataclass(frozen=True)
class RowRule:
    """A rule across columns, as a DuckDB SQL boolean over the typed columns; a row where it is false is rejected."""

    reason: str
    sql: str


@dataclass(frozen=True)
class SourceContract:
    name: str
    format: str  # csv | ndjson | json (a JSON array of objects)
    description: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    event_time: str
    rules: tuple[RowRule, ...] = field(default_factory=tuple)
    naive_timezone: str = "Europe/Berlin"

    @property
    def identifier_columns(self) -> dict[str, str]:
        """Column name -> identifier type, for the columns that identify a person."""
        return {c.name: c.identifier for c in self.columns if c.identifier}

    @property
    def free_text_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.free_text]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    @property
    def pii_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.pii]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")

    @property
    def file_extensions(self) -> tuple[str, ...]:
        return {"csv": (".csv",), "ndjson": (".ndjson", ".jsonl"), "json": (".json",)}[self.format]


def _s(name: str, **kw) -> Column:
    return Column(name, "string", **kw)


CHANNELS_ORDER = ("web", "app", "store")
CONSENT_COLUMNS = ("consent_email", "consent_sms", "consent_phone", "consent_push")

CRM_CUSTOMERS = SourceContract(
    name="crm_customers",
    format="csv",
    description="CRM contact export: one row per CRM contact, the richest identifier set.",
    columns=(
        _s("customer_id", required=True, description="CRM id, e.g. C0000123", identifier="crm_id"),
        _s("first_name", pii=True),
        _s("last_name", pii=True),
        _s("email", pii=True, description="as typed by the customer; case and spaces vary", identifier="email"),
        _s("phone", pii=True, description="local (0171 ...) or E.164 (+49171...)", identifier="phone"),
        _s("loyalty_id", description="loyalty card number, e.g. L12345678", identifier="loyalty_id"),
        _s("social_handle", pii=True, identifier="social_handle",
           description="public handle used on X, Instagram, Facebook, with @"),
        _s("country", allowed=("DE", "AT", "CH")),
        _s("language", allowed=("de", "en")),
        _s("segment", description="CRM segment label maintained by marketing"),
        Column("birth_year", "integer", minimum=1900, maximum=2015),
        Column("created_at", "timestamp", required=True),
        Column("updated_at", "timestamp"),
        *(Column(c, "boolean") for c in CONSENT_COLUMNS),
    ),
    primary_key=("customer_id",),
    event_time="updated_at",
)

WEB_EVENTS = SourceContract(
    name="web_events",
    format="ndjson",
    description="Web shop and app analytics events; anonymous_id is the cookie/device, user_id appears after login.",
    columns=(
        _s("event_id", required=True),
        Column("event_time", "timestamp", required=True),
        _s("anonymous_id", required=True, description="cookie or device id", identifier="anonymous_id"),
        _s("user_id", description="CRM customer_id once logged in", identifier="crm_id"),
        _s(
            "event_type",
            required=True,
            allowed=("page_view", "view_item", "add_to_cart", "begin_checkout", "purchase", "login"),
        ),
        _s("platform", required=True, allowed=("web", "app")),
        _s("device", allowed=("desktop", "mobile", "tablet")),
        _s("page_url"),
        _s("product_id"),
        _s("product_category"),
        Column("value_eur", "double", minimum=0),
        _s("order_id", description="set on purchase events; joins orders.order_id"),
        _s("utm_source"),
    ),
    primary_key=("event_id",),
    event_time="event_time",
)

ORDERS = SourceContract(
    name="orders",
    format="csv",
    description="Orders and returns from web shop, app and store POS.",
    columns=(
        _s("order_id", required=True),
        Column("ordered_at", "timestamp", required=True),
        _s("customer_id", description="CRM id when known", identifier="crm_id"),
        _s("email", pii=True, description="guest checkouts carry only an e-mail", identifier="email"),
        _s("loyalty_id", description="store purchases with a loyalty card", identifier="loyalty_id"),
        _s("channel", required=True, allowed=CHANNELS_ORDER),
        _s("store_id"),
        _s("order_type", required=True, allowed=("sale", "return")),
        _s("original_order_id", description="for returns: the order returned"),
        Column("items", "integer", minimum=0),
        Column("value_eur", "double", required=True, minimum=0, description="gross value, positive for returns too"),
        _s("payment_method"),
        _s("product_category"),
    ),
    primary_key=("order_id",),
    event_time="ordered_at",
    rules=(RowRule("return_without_original_order", "order_type <> 'return' OR original_order_id IS NOT NULL"),),
)

EMAIL_EVENTS = SourceContract(
    name="email_events",
    format="csv",
    description="E-mail marketing events from the e-mail service provider.",
    columns=(
        _s("event_id", required=True),
        Column("event_time", "timestamp", required=True),
        _s("email", required=True, pii=True, identifier="email"),
        _s("campaign_id", required=True),
        _s("campaign_type", description="newsletter, promotion, win_back, cart_reminder, cross_sell, review_request, onboarding"),
        _s("event_type", required=True, allowed=("send", "open", "click", "bounce", "unsubscribe", "control"),
           description="control: the recipient is in the campaign's control group (held out, nothing was sent)"),
        _s("link_url"),
    ),
    primary_key=("event_id",),
    event_time="event_time",
)

MOBILE_MESSAGES = SourceContract(
    name="mobile_messages",
    format="csv",
    description="SMS and app push messages from the mobile messaging platform, one row per message sent (or held out).",
    columns=(
        _s("message_id", required=True),
        Column("sent_at", "timestamp", required=True),
        _s("channel", required=True, allowed=("sms", "push")),
        _s("customer_id", description="CRM customer_id the platform keys its audience on", identifier="crm_id"),
        _s("phone", pii=True, description="SMS recipient number, local or E.164 (empty for push)", identifier="phone"),
        _s("campaign_id", required=True),
        _s("campaign_type", description="promotion, win_back, cart_reminder, cross_sell, review_request, onboarding, service_recovery"),
        _s("status", required=True, allowed=("delivered", "failed", "held_out"),
           description="held_out: the recipient is in the campaign's control group (nothing was sent)"),
        Column("clicked_at", "timestamp", description="first tap on the message's link"),
    ),
    primary_key=("message_id",),
    event_time="sent_at",
    rules=(RowRule("message_without_recipient", "customer_id IS NOT NULL OR phone IS NOT NULL"),),
)

SUPPORT_TICKETS = SourceContract(
    name="support_tickets",
    format="json",
    description="Help desk tickets that arrived by e-mail, web form or social; response channel recorded apart.",
    columns=(
        _s("ticket_id", required=True),
        Column("created_at", "timestamp", required=True),
        _s("channel", required=True, allowed=("email", "web_form", "social")),
        _s("email", pii=True, identifier="email"),
        _s("social_handle", pii=True, identifier="social_handle"),
        _s("customer_name", pii=True),
        _s("subject", free_text=True),
        _s("body", description="the customer's first message", free_text=True),
        _s("category", description="help desk category set by the agent"),
        _s("priority", allowed=("low", "normal", "high", "urgent")),
        _s("status", required=True, allowed=("open", "pending", "solved", "closed")),
        Column("first_response_at", "timestamp"),
        _s("response_channel", allowed=("email", "phone", "social", "chat")),
        Column("solved_at", "timestamp"),
        Column("reply_count", "integer", minimum=0),
        _s("order_id"),
    ),
    primary_key=("ticket_id",),
    event_time="created_at",
    rules=(
        RowRule("ticket_without_contact", "email IS NOT NULL OR social_handle IS NOT NULL"),
        RowRule("first_response_before_creation", "first_response_at IS NULL OR first_response_at >= created_at"),
    ),
)

CHAT_CONVERSATIONS = SourceContract(
    name="chat_conversations",
    format="ndjson",
    description="Chat with bot and human agents; handover marked; messages nested.",
    columns=(
        _s("conversation_id", required=True),
        Column("started_at", "timestamp", required=True),
        Column("ended_at", "timestamp"),
        _s("platform", allowed=("web", "app")),
        _s("user_id", description="CRM customer_id when logged in", identifier="crm_id"),
        _s("email", pii=True, description="asked by the bot when not logged in", identifier="email"),
        _s("anonymous_id", description="the web cookie/device id of the chat widget", identifier="anonymous_id"),
        Column("handover", "boolean", required=True, description="bot handed the conversation to a human"),
        Column("handover_at", "timestamp"),
        _s("agent_id"),
        Column("resolved", "boolean"),
        _s("topic", description="intent detected by the chat platform"),
        Column("messages", "messages", required=True, free_text=True),
    ),
    primary_key=("conversation_id",),
    event_time="started_at",
)

CALLS = SourceContract(
    name="calls",
    format="csv",
    description="Telephony records: IVR path, queue, wait, talk, hold, wrap, transfers.",
    columns=(
        _s("call_id", required=True),
        Column("started_at", "timestamp", required=True),
        _s("phone", pii=True, description="caller number, local or E.164; may be withheld (empty)", identifier="phone"),
        _s("direction", required=True, allowed=("inbound", "outbound")),
        _s("ivr_path", description="menu choices joined by '>', e.g. 'main>orders>status'"),
        _s("queue", description="outbound campaign calls: outbound_<campaign_type>, e.g. outbound_win_back"),
        Column("wait_seconds", "integer", minimum=0),
        Column("talk_seconds", "integer", minimum=0),
        Column("hold_seconds", "integer", minimum=0),
        Column("wrap_seconds", "integer", minimum=0),
        Column("transfer_count", "integer", minimum=0),
        Column("abandoned", "boolean", required=True),
        _s("agent_id"),
        _s("disposition", allowed=("resolved", "follow_up", "escalated", "abandoned", "callback_scheduled")),
        _s("ticket_id", description="set on outbound callbacks for a ticket"),
    ),
    primary_key=("call_id",),
    event_time="started_at",
)

SOCIAL_MENTIONS = SourceContract(
    name="social_mentions",
    format="ndjson",
    description="Public posts, replies and brand replies on X, Instagram and Facebook.",
    columns=(
        _s("post_id", required=True),
        Column("posted_at", "timestamp", required=True),
        _s("platform", required=True, allowed=("x", "instagram", "facebook")),
        _s("author_handle", required=True, pii=True, identifier="social_handle"),
        Column("is_brand", "boolean", required=True, description="posted by the retailer's own account"),
        _s("in_reply_to_post_id"),
        _s("text", required=True, free_text=True),
        Column("like_count", "integer", minimum=0),
    ),
    primary_key=("post_id",),
    event_time="posted_at",
)

SURVEYS = SourceContract(
    name="surveys",
    format="csv",
    description="NPS (0-10), CSAT (1-5) and CES (1-7) responses with comment and trigger touchpoint.",
    columns=(
        _s("response_id", required=True),
        Column("responded_at", "timestamp", required=True),
        _s("customer_id", identifier="crm_id"),
        _s("email", pii=True, identifier="email"),
        _s("survey_type", required=True, allowed=("nps", "csat", "ces")),
        Column("score", "integer", required=True, minimum=0, maximum=10),
        _s("comment", free_text=True),
        _s("trigger_type", description="purchase, delivery, support_ticket, chat, call, store_visit, relationship"),
        _s("trigger_id", description="id of the touchpoint that triggered the survey"),
    ),
    primary_key=("response_id",),
    event_time="responded_at",
    rules=(
        RowRule(
            "score_out_of_range_for_survey_type",
            "CASE survey_type WHEN 'nps' THEN score BETWEEN 0 AND 10 WHEN 'csat' THEN score BETWEEN 1 AND 5 "
            "WHEN 'ces' THEN score BETWEEN 1 AND 7 END",
        ),
        RowRule("response_without_respondent", "customer_id IS NOT NULL OR email IS NOT NULL"),
    ),
)

CASE_UPDATES = SourceContract(
    name="case_updates",
    format="csv",
    description="Status updates of closed-loop cases from the CRM or help desk that works them (fct_cx_cases): "
                "the latest update of a case sets its status.",
    columns=(
        _s("case_id", required=True, description="case_id of fct_cx_cases, as in the cases_<date>.csv export"),
        _s("status", required=True, allowed=("open", "closed"), description="closed ends the case; open reopens it"),
        Column("updated_at", "timestamp", required=True),
        # Agents write notes about the customer: treated as free text (redacted downstream, never in reports).
        _s("note", free_text=True),
    ),
    primary_key=("case_id", "updated_at"),
    event_time="updated_at",
)

CONTRACTS: dict[str, SourceContract] = {
    c.name: c
    for c in (
        CRM_CUSTOMERS,
        WEB_EVENTS,
        ORDERS,
        EMAIL_EVENTS,
        MOBILE_MESSAGES,
        SUPPORT_TICKETS,
        CHAT_CONVERSATIONS,
        CALLS,
        SOCIAL_MENTIONS,
        SURVEYS,
        CASE_UPDATES,
    )
}


def get_contract(source: str) -> SourceContract:
    try:
        return CONTRACTS[source]
    except KeyError:
        raise KeyError(f"unknown source {source!r}; known sources: {', '.join(CONTRACTS)}") from None
