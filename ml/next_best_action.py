"""Next best action: exactly one recommendation per active customer, with channel, expected value and a
reason a CX agent understands (polars in, polars out).

1. Signals as of a date (the same cut-off as the churn features: the end of day `as_of`): abandoned carts,
   fresh negative experiences, churn risk, first and last purchase, the latest NPS, recent contacts.
2. Eligibility: each catalogue action (seed `nba_actions`) names a rule of `ELIGIBILITY_RULES`.
3. Options: eligible action × allowed channel, only channels with the customer's consent, and nothing at all
   for a customer at the contact-frequency cap.
4. Response probabilities learned from past outbound contacts (responded = an order within 14 days, net of
   the orders that would have happened anyway: the conversion of the action's held-out customers, the
   campaigns' control groups, where at least MIN_HELD_OUT_FOR_BASELINE were measured; else the orders a
   BG/NBD model expected, which is biased by situation: cart abandoners buy more than their history says),
   shrunk segment × action × channel → action × channel → action → overall, then scaled by how the customer
   personally responded on that channel before. The history is every outbound contact (fct_marketing_contacts:
   e-mail, SMS, push, campaign calls); a channel never seen in it gets the action's overall rate.
5. Choice: a trigger action (a fresh event) goes first, lowest priority number first; otherwise the option
   with the highest expected value = probability × value − cost, if positive; else "no action".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

from ml import bgnbd
from ml.churn_reasons import counted
from ml.features import CustomerHistory, cutoff, history_before

NO_ACTION = "no_action"
RESPONSE_DAYS = 14
ACTIVE_DAYS = 365
CART_DAYS = 7
FRESH_DAYS = 14
NEW_CUSTOMER_DAYS = 30
RECENT_BUYER_DAYS = 60
HIGH_CHURN_PROBABILITY = 0.5
SEGMENT_PRIOR_CONTACTS = 30.0
# A customer has a handful of past contacts, so one lucky response must not multiply their rates: their own
# record weighs as much as ten responses their segment's rates expect.
CUSTOMER_PRIOR_RESPONSES = 10.0
DEFAULT_RESPONSE_RATE = 0.05
# Held-out outcomes per action before their conversion replaces BG/NBD as the organic baseline: at 30 the
# 95% interval of a 20% conversion is about ±15 points, no worse than the model's situational bias.
MIN_HELD_OUT_FOR_BASELINE = 30
HOLDOUT, BGNBD = "holdout", "bgnbd"

CHANNEL_CONSENT = {"email": "consent_email", "sms": "consent_sms", "phone": "consent_phone", "push": "consent_push"}
# What an action is on each channel: the catalogue's label names the action only ("Service recovery"), the
# channel's noun completes it ("Service recovery call" by phone, "Service recovery e-mail" by e-mail).
CHANNEL_NOUNS = {"email": "e-mail", "sms": "SMS", "phone": "call", "push": "push message"}
# The outbound channel that matches the channel a customer prefers to contact us on.
PREFERRED_CONTACT_CHANNEL = {
    "email": "email", "web_form": "email", "phone": "phone", "ivr": "phone", "app": "push", "sms": "sms", "push": "push"
}


@dataclass(frozen=True)
class ContactCap:
    """At most `limits[days]` outbound contacts in the last `days` days, for every window."""

    limits: dict[int, int]

    @classmethod
    def parse(cls, text: str) -> "ContactCap":
        """'7:2,30:4' = at most 2 contacts in 7 days and 4 in 30 days."""
        pairs = (part.split(":") for part in text.split(",") if part.strip())
        return cls({int(days): int(limit) for days, limit in pairs})

    def describe(self) -> str:
        return ", ".join(f"{limit} in {days} days" for days, limit in sorted(self.limits.items()))


@dataclass(frozen=True)
class NbaInputs:
    """customers     dim_customer_profiles: customer_key, segment, is_crm_contact, preferred_inbound_channel, consent_*
    history       orders and, when present, web_events, service_contacts, surveys, sentiment (ml/features.py)
    contacts      past outbound contacts: customer_key, sent_at, channel, campaign_type (`outbound_contacts`)
    churn_scores  ml_churn_scores: customer_key, churn_probability, top_reason
    held_out      the campaigns' control groups (nothing sent): customer_key, sent_at (planned), channel,
                  campaign_type; None when the exports have none"""

    customers: pl.DataFrame
    history: CustomerHistory
    contacts: pl.DataFrame
    churn_scores: pl.DataFrame
    held_out: pl.DataFrame | None = None


def _days_ago(days: pl.Expr) -> pl.Expr:
    whole = days.floor().cast(pl.Int64)
    return (
        pl.when(whole <= 0).then(pl.lit("today"))
        .when(whole == 1).then(pl.lit("yesterday"))
        .otherwise(pl.format("{} days ago", whole))
    )


def two_decimals(amount: pl.Expr) -> pl.Expr:
    """'4.80', '-0.15': an amount with two decimals."""
    cents = (amount.abs() * 100).round(0).cast(pl.Int64)
    return pl.format(
        "{}{}.{}", pl.when(amount < 0).then(pl.lit("-")).otherwise(pl.lit("")), cents // 100,
        (cents % 100).cast(pl.String).str.zfill(2),
    )


def _age_days(end, column: str) -> pl.Expr:
    return (pl.lit(end) - pl.col(column)).dt.total_seconds() / 86_400.0


def _with_response(contacts: pl.DataFrame, orders: pl.DataFrame, catalogue: pl.DataFrame) -> pl.DataFrame:
    """Contacts (or planned contacts of the held out) with their catalogue `action` (null for newsletters and
    other campaigns) and `responded`: an order by the customer within RESPONSE_DAYS of the contact."""
    sales = (
        orders.filter((pl.col("order_type") == "sale") & pl.col("customer_key").is_not_null())
        .select("customer_key", pl.col("ordered_at").alias("next_order_at"))
        .sort("next_order_at")
    )
    actions = catalogue.filter(pl.col("campaign_type").is_not_null()).select("campaign_type", "action")
    return (
        contacts.filter(pl.col("customer_key").is_not_null())
        .sort("sent_at")
        # both sides are sorted by time overall, hence within every customer too
        .join_asof(sales, left_on="sent_at", right_on="next_order_at", by="customer_key", strategy="forward",
                   check_sortedness=False)
        .join(actions, on="campaign_type", how="left")
        .with_columns(
            (
                pl.col("next_order_at").is_not_null()
                & (pl.col("next_order_at") < pl.col("sent_at") + timedelta(days=RESPONSE_DAYS))
            ).alias("responded")
        )
        .drop("next_order_at")
    )


def organic_baselines(held_out: pl.DataFrame | None, orders: pl.DataFrame, catalogue: pl.DataFrame, as_of: date,
                      minimum: int = MIN_HELD_OUT_FOR_BASELINE) -> pl.DataFrame:
    """Per catalogue action with a campaign: held-out customers whose response window closed before the
    cut-off, how many of them bought anyway, and `source`: HOLDOUT (their conversion, `baseline`, is the
    action's organic baseline) with at least `minimum` of them, else BGNBD (baseline null)."""
    actions = catalogue.filter(pl.col("campaign_type").is_not_null()).select("action")
    if held_out is None:
        held_out = pl.DataFrame(schema={"customer_key": pl.String, "sent_at": pl.Datetime("us"), "campaign_type": pl.String})
    closed = cutoff(as_of) - timedelta(days=RESPONSE_DAYS)
    measured = _with_response(held_out.filter(pl.col("sent_at") < pl.lit(closed)), orders, catalogue)
    counts = measured.group_by("action").agg(pl.len().alias("held_out"), pl.col("responded").sum().alias("held_out_converted"))
    return (
        actions.join(counts, on="action", how="left")
        .with_columns(pl.col("held_out", "held_out_converted").fill_null(0).cast(pl.Int64))
        .with_columns(
            pl.when(pl.col("held_out") >= minimum).then(pl.col("held_out_converted") / pl.col("held_out")).alias("baseline"))
        .with_columns(pl.when(pl.col("baseline").is_not_null()).then(pl.lit(HOLDOUT)).otherwise(pl.lit(BGNBD)).alias("source"))
        .sort("action")
    )


def organic_purchase_model(orders: pl.DataFrame, as_of: date) -> bgnbd.BgNbdParams:
    """The BG/NBD model of the purchases before the cut-off (see outbound_contacts): the plan's one fitted model,
    which a refresh may take from an earlier run instead (ml.model_store)."""
    return bgnbd.fit(bgnbd.rfm_summary(orders.filter(pl.col("ordered_at") < cutoff(as_of)), as_of))


def outbound_contacts(contacts: pl.DataFrame, orders: pl.DataFrame, catalogue: pl.DataFrame, as_of: date,
                      baselines: pl.DataFrame | None = None, organic: bgnbd.BgNbdParams | None = None) -> pl.DataFrame:
    """Past outbound contacts with their catalogue `action`, `responded` (see _with_response) and
    `organic_probability`, the chance of such an order without any contact (`organic_source` says which):
    the action's held-out conversion where `baselines` (organic_baselines) has one, else a BG/NBD model of the
    purchases before the as-of date (`organic`, else fitted here). An order counts as a response either way, so
    the response rates are learned net of it."""
    answered = _with_response(contacts, orders, catalogue)
    visible_orders = orders.filter(pl.col("ordered_at") < cutoff(as_of))
    params = organic or organic_purchase_model(orders, as_of)
    modelled = bgnbd.purchase_probability_after(
        visible_orders, answered.select("customer_key", pl.col("sent_at").alias("at")), params, RESPONSE_DAYS)
    if baselines is None:
        baselines = pl.DataFrame(schema={"action": pl.String, "baseline": pl.Float64})
    return (
        answered.with_columns(modelled.alias("organic_probability"))
        .join(baselines.select("action", "baseline"), on="action", how="left", maintain_order="left")
        .with_columns(
            pl.coalesce("baseline", "organic_probability").alias("organic_probability"),
            pl.when(pl.col("baseline").is_not_null()).then(pl.lit(HOLDOUT)).otherwise(pl.lit(BGNBD)).alias("organic_source"),
        )
        .drop("baseline")
    )


def _fresh_negative_events(history: CustomerHistory, end) -> pl.DataFrame:
    """customer_key, negative_event (words), negative_days: the latest bad experience of the last FRESH_DAYS."""
    events = []
    if history.surveys is not None:
        answers = history.surveys.filter(
            ((pl.col("survey_type") == "nps") & (pl.col("score") <= 6))
            | ((pl.col("survey_type") == "csat") & (pl.col("score") <= 2))
        )
        events.append(answers.select(
            "customer_key",
            pl.col("responded_at").alias("at"),
            pl.when(pl.col("survey_type") == "nps")
            .then(pl.format("gave an NPS of {} (detractor)", pl.col("score")))
            .otherwise(pl.format("rated satisfaction {} of 5", pl.col("score")))
            .alias("negative_event"),
        ))
    if history.sentiment is not None:
        events.append(history.sentiment.filter(pl.col("label") == "negative").select(
            "customer_key", pl.col("occurred_at").alias("at"), pl.lit("wrote a negative message").alias("negative_event")
        ))
    schema = {"customer_key": pl.String, "negative_event": pl.String, "negative_days": pl.Float64}
    if not events:
        return pl.DataFrame(schema=schema)
    return (
        pl.concat([e.with_columns(pl.col("at").cast(pl.Datetime("us"))) for e in events])
        .filter(pl.col("at") >= pl.lit(end - timedelta(days=FRESH_DAYS)))
        .sort("at")
        .group_by("customer_key")
        .agg(pl.col("negative_event").last(), _age_days(end, "at").min().alias("negative_days"))
    )


def _abandoned_carts(history: CustomerHistory, end) -> pl.DataFrame:
    """customer_key, cart_days: a cart or checkout in the last CART_DAYS with no order after it."""
    if history.web_events is None:
        return pl.DataFrame(schema={"customer_key": pl.String, "cart_days": pl.Float64})
    carts = (
        history.web_events.filter(
            pl.col("touchpoint_type").is_in(["add_to_cart", "begin_checkout"])
            & (pl.col("occurred_at") >= pl.lit(end - timedelta(days=CART_DAYS)))
        )
        .group_by("customer_key")
        .agg(pl.col("occurred_at").max().alias("cart_at"))
    )
    last_orders = history.orders.group_by("customer_key").agg(pl.col("ordered_at").max().alias("last_order_at"))
    return (
        carts.join(last_orders, on="customer_key", how="left")
        .filter(pl.col("last_order_at").is_null() | (pl.col("last_order_at") < pl.col("cart_at")))
        .select("customer_key", _age_days(end, "cart_at").alias("cart_days"))
    )


def _recent_contacts(contacts: pl.DataFrame, end, cap: ContactCap) -> pl.DataFrame:
    """customer_key and contacts_<days>d for every cap window."""
    return contacts.filter(pl.col("sent_at") < pl.lit(end)).group_by("customer_key").agg(
        (pl.col("sent_at") >= pl.lit(end - timedelta(days=days))).sum().alias(f"contacts_{days}d")
        for days in cap.limits
    )


def customer_signals(inputs: NbaInputs, as_of: date, cap: ContactCap) -> pl.DataFrame:
    """One row per active customer (a purchase in the last year, or a CRM contact with any web, service or
    survey activity in the last year) with everything eligibility, channels and reasons need."""
    end = cutoff(as_of)
    history = history_before(inputs.history, as_of)
    since = pl.lit(end - timedelta(days=ACTIVE_DAYS))
    sales = history.orders.filter(pl.col("order_type") == "sale")
    purchases = sales.group_by("customer_key").agg(
        _age_days(end, "ordered_at").min().alias("last_purchase_days"),
        _age_days(end, "ordered_at").max().alias("first_purchase_days"),
    )
    engaged = [sales.filter(pl.col("ordered_at") >= since).select("customer_key")]
    for frame, column in ((history.web_events, "occurred_at"), (history.service_contacts, "occurred_at"),
                          (history.surveys, "responded_at")):
        if frame is not None:
            engaged.append(frame.filter(pl.col(column) >= since).select("customer_key"))
    # a semi join keeps each customer once however often the key repeats: no unique() of millions of keys first
    active = inputs.customers.join(pl.concat(engaged), on="customer_key", how="semi").join(
        purchases, on="customer_key", how="left"
    ).filter(pl.col("is_crm_contact").fill_null(False) | (pl.col("last_purchase_days") <= ACTIVE_DAYS))
    last_nps = (
        history.surveys.filter(pl.col("survey_type") == "nps").sort("responded_at").group_by("customer_key")
        .agg(pl.col("score").last().alias("last_nps"))
        if history.surveys is not None else pl.DataFrame(schema={"customer_key": pl.String, "last_nps": pl.Int64})
    )
    contact_counts = [f"contacts_{days}d" for days in cap.limits]
    return (
        active.join(inputs.churn_scores.select("customer_key", "churn_probability", "top_reason"), on="customer_key", how="left")
        .join(_abandoned_carts(history, end), on="customer_key", how="left")
        .join(_fresh_negative_events(history, end), on="customer_key", how="left")
        .join(last_nps, on="customer_key", how="left")
        .join(_recent_contacts(inputs.contacts, end, cap), on="customer_key", how="left")
        .with_columns(
            pl.col(contact_counts).fill_null(0),
            pl.col("preferred_inbound_channel").replace_strict(PREFERRED_CONTACT_CHANNEL, default=None,
                                                               return_dtype=pl.String).alias("preferred_channel"),
            pl.col(list(CHANNEL_CONSENT.values())).fill_null(False),
        )
        .with_columns(
            pl.any_horizontal(pl.col(f"contacts_{days}d") >= limit for days, limit in cap.limits.items())
            .alias("capped")
        )
        .sort("customer_key")
    )


@dataclass(frozen=True)
class Rule:
    applies: Callable[[], pl.Expr]
    situation: Callable[[], pl.Expr]


ELIGIBILITY_RULES = {
    "fresh_negative_experience": Rule(
        lambda: pl.col("negative_days").is_not_null(),
        lambda: pl.format("{} {}", pl.col("negative_event"), _days_ago(pl.col("negative_days"))),
    ),
    "abandoned_cart": Rule(
        lambda: pl.col("cart_days").is_not_null(),
        lambda: pl.format("left a cart {} without ordering", _days_ago(pl.col("cart_days"))),
    ),
    "high_churn_risk": Rule(
        lambda: pl.col("churn_probability") >= HIGH_CHURN_PROBABILITY,
        lambda: pl.format(
            "churn risk {}%{}",
            (pl.col("churn_probability") * 100).round(0).cast(pl.Int64),
            pl.when(pl.col("top_reason").is_null()).then(pl.lit("")).otherwise(pl.format(" ({})", pl.col("top_reason"))),
        ),
    ),
    "new_customer": Rule(
        lambda: pl.col("first_purchase_days") <= NEW_CUSTOMER_DAYS,
        lambda: pl.format("first purchase {}", _days_ago(pl.col("first_purchase_days"))),
    ),
    "recent_buyer": Rule(
        lambda: pl.col("last_purchase_days") <= RECENT_BUYER_DAYS,
        lambda: pl.format("last purchase {}", _days_ago(pl.col("last_purchase_days"))),
    ),
    "promoter": Rule(
        lambda: pl.col("last_nps") >= 9,
        lambda: pl.format("promoter (NPS {})", pl.col("last_nps")),
    ),
    "always": Rule(lambda: pl.lit(True), lambda: pl.lit("")),
}


def catalogue_channels(catalogue: pl.DataFrame) -> pl.DataFrame:
    """One row per action and allowed channel (no_action has none), with `channel_rank`: the channel's
    place in the catalogue's list, which breaks ties (a service recovery call goes by phone first)."""
    return (
        catalogue.with_columns(pl.col("allowed_channels").str.split("|").alias("channel"))
        .with_columns(pl.int_ranges(pl.col("channel").list.len()).alias("channel_rank"))
        .explode("channel", "channel_rank")
        .filter(pl.col("channel").is_not_null() & (pl.col("channel") != ""))
        .select("action", "channel", "channel_rank")
    )


def eligible_actions(signals: pl.DataFrame, catalogue: pl.DataFrame) -> pl.DataFrame:
    """customer_key, action, situation for every eligible action except no_action."""
    frames = []
    for row in catalogue.filter(pl.col("action") != NO_ACTION).iter_rows(named=True):
        rule = ELIGIBILITY_RULES[row["eligibility_rule"]]
        frames.append(signals.filter(rule.applies().fill_null(False)).select(
            "customer_key", pl.lit(row["action"]).alias("action"), rule.situation().fill_null("").alias("situation")
        ))
    return pl.concat(frames)


def contact_options(signals: pl.DataFrame, catalogue: pl.DataFrame) -> pl.DataFrame:
    """Eligible action × allowed channel with the customer's consent, for customers below the cap:
    customer_key, segment, action, channel, situation, is_preferred_channel."""
    consented = signals.unpivot(
        index="customer_key", on=list(CHANNEL_CONSENT.values()), variable_name="consent", value_name="consented"
    ).filter(pl.col("consented")).select(
        "customer_key",
        pl.col("consent").replace_strict({v: k for k, v in CHANNEL_CONSENT.items()}).alias("channel"),
    )
    return (
        eligible_actions(signals.filter(~pl.col("capped")), catalogue)
        .join(catalogue_channels(catalogue), on="action")
        .join(consented, on=["customer_key", "channel"], how="semi")
        .join(signals.select("customer_key", "segment", "preferred_channel"), on="customer_key")
        .with_columns((pl.col("channel") == pl.col("preferred_channel")).fill_null(False).alias("is_preferred_channel"))
        .drop("preferred_channel")
    )


def _shrunk(responses: pl.Expr, contacts: pl.Expr, prior: pl.Expr, strength: float) -> pl.Expr:
    return (responses.fill_null(0) + strength * prior) / (contacts.fill_null(0) + strength)


def learn_response_rates(contacts: pl.DataFrame, customers: pl.DataFrame, catalogue: pl.DataFrame, as_of: date,
                         strength: float = SEGMENT_PRIOR_CONTACTS) -> pl.DataFrame:
    """segment, action, channel, response_probability, observed_contacts for every segment and every
    allowed channel of every action, from `outbound_contacts` rows whose response window closed before the
    cut-off. Sparse cells borrow from the wider levels (empirical-Bayes shrinkage with `strength`
    pseudo-contacts per level); an action never seen falls back to the overall rate."""
    closed = cutoff(as_of) - timedelta(days=RESPONSE_DAYS)
    observed = contacts.filter(pl.col("action").is_not_null() & (pl.col("sent_at") < pl.lit(closed))).join(
        customers.select("customer_key", "segment"), on="customer_key", how="left"
    )
    overall = (
        max(0.0, (observed["responded"].sum() - observed["organic_probability"].sum())
            / (1 - observed["organic_probability"]).sum())
        if observed.height else DEFAULT_RESPONSE_RATE
    )

    def tally(keys: list[str], name: str) -> pl.DataFrame:
        """Responses beyond the organic ones, out of the contacts that would not have bought anyway: with
        E[responded] = p + (1 − p)·organic, p = Σ(responded − organic) / Σ(1 − organic)."""
        return observed.group_by(keys).agg(
            (pl.col("responded") - pl.col("organic_probability")).sum().alias(f"{name}_responses"),
            (1 - pl.col("organic_probability")).sum().alias(f"{name}_contacts"),
            pl.len().alias(f"{name}_observed"),
        )

    grid = customers.select("segment").unique().join(catalogue_channels(catalogue), how="cross")
    return (
        grid.join(tally(["action"], "a"), on="action", how="left")
        .join(tally(["action", "channel"], "ac"), on=["action", "channel"], how="left")
        .join(tally(["segment", "action", "channel"], "sac"), on=["segment", "action", "channel"], how="left", nulls_equal=True)
        .with_columns(_shrunk(pl.col("a_responses"), pl.col("a_contacts"), pl.lit(overall), strength).alias("p_a"))
        .with_columns(_shrunk(pl.col("ac_responses"), pl.col("ac_contacts"), pl.col("p_a"), strength).alias("p_ac"))
        .select(
            "segment", "action", "channel",
            _shrunk(pl.col("sac_responses"), pl.col("sac_contacts"), pl.col("p_ac"), strength)
            .clip(0.0, 1.0).alias("response_probability"),
            pl.col("sac_observed").fill_null(0).alias("observed_contacts"),
        )
        .sort("segment", "action", "channel")
    )


def channel_responsiveness(contacts: pl.DataFrame, customers: pl.DataFrame, rates: pl.DataFrame, as_of: date,
                           strength: float = CUSTOMER_PRIOR_RESPONSES) -> pl.DataFrame:
    """customer_key, channel, responsiveness: the customer's own responses on the channel against what their
    segment's rates expected, shrunk towards 1 ((responses + k) / (expected + k))."""
    closed = cutoff(as_of) - timedelta(days=RESPONSE_DAYS)
    return (
        contacts.filter(pl.col("action").is_not_null() & (pl.col("sent_at") < pl.lit(closed)))
        .join(customers.select("customer_key", "segment"), on="customer_key")
        .join(rates, on=["segment", "action", "channel"], nulls_equal=True)
        .group_by("customer_key", "channel")
        .agg(
            (
                (pl.col("responded").sum() + strength)
                / ((pl.col("response_probability") + (1 - pl.col("response_probability")) * pl.col("organic_probability")).sum() + strength)
            ).alias("responsiveness")
        )
    )


def with_expected_value(options: pl.DataFrame, probabilities: pl.DataFrame, catalogue: pl.DataFrame) -> pl.DataFrame:
    """Options with their label on their channel (CHANNEL_NOUNS), response_probability (joined on the common
    key columns of `probabilities`) and expected_value_eur = probability × value − cost."""
    keys = [c for c in probabilities.columns if c in options.columns]
    return (
        options.join(probabilities, on=keys, how="left", nulls_equal=True)
        .join(catalogue.select("action", "label", "value_eur", "cost_eur", "priority", "is_trigger"), on="action")
        .with_columns(
            pl.col("response_probability").fill_null(0.0).clip(0.0, 1.0),
            pl.format("{} {}", "label", pl.col("channel").replace_strict(CHANNEL_NOUNS, return_dtype=pl.String)),
        )
        .with_columns(
            (pl.col("response_probability") * pl.col("value_eur") - pl.col("cost_eur")).alias("expected_value_eur")
        )
    )


def personalised_probabilities(options: pl.DataFrame, rates: pl.DataFrame, responsiveness: pl.DataFrame) -> pl.DataFrame:
    """customer_key, action, channel, response_probability: segment rate × the customer's responsiveness."""
    return (
        options.select("customer_key", "segment", "action", "channel")
        .join(rates, on=["segment", "action", "channel"], how="left", nulls_equal=True)
        .join(responsiveness, on=["customer_key", "channel"], how="left")
        .select(
            "customer_key", "action", "channel",
            (pl.col("response_probability") * pl.col("responsiveness").fill_null(1.0)).alias("response_probability"),
        )
    )


def choose(valued: pl.DataFrame) -> pl.DataFrame:
    """At most one option per customer: the first trigger by priority (best channel by expected value, the
    preferred channel on ties), else the best positive expected value."""
    order = ["customer_key", "priority", "expected_value_eur", "is_preferred_channel", "channel_rank"]
    triggers = valued.filter(pl.col("is_trigger")).sort(order, descending=[False, False, True, True, False])
    others = valued.filter(~pl.col("is_trigger") & (pl.col("expected_value_eur") > 0)).sort(
        ["customer_key", "expected_value_eur", "priority", "is_preferred_channel", "channel_rank"],
        descending=[False, True, False, True, False],
    )
    first_trigger = triggers.unique("customer_key", keep="first", maintain_order=True)
    best_other = others.unique("customer_key", keep="first", maintain_order=True).join(
        first_trigger, on="customer_key", how="anti"
    )
    return pl.concat([first_trigger, best_other])


def _no_action_reason(cap: ContactCap) -> pl.Expr:
    windows = [
        pl.format("{} in {} days", counted(f"contacts_{days}d", "contact", "contacts"), pl.lit(days))
        for days in sorted(cap.limits)
    ]
    return (
        pl.when(pl.col("capped")).then(pl.format("contact cap reached ({})", pl.concat_str(windows, separator=", ")))
        .when(pl.col("eligible_actions") > 0).then(pl.lit("no consented channel makes an eligible action worth its cost"))
        .otherwise(pl.lit("nothing to offer right now"))
    )


def recommendations(signals: pl.DataFrame, valued: pl.DataFrame, catalogue: pl.DataFrame, cap: ContactCap,
                    currency: str = "EUR") -> pl.DataFrame:
    """One row per customer in `signals`: action, label, channel, response_probability, expected_value_eur
    (in `currency`, the column name kept for stability), priority, reason. Customers without a chosen option
    get no_action with the reason why."""
    chosen = choose(valued).with_columns(
        pl.format(
            "{}; {}{}, expected value {} {}",
            pl.col("situation"), pl.col("label"),
            pl.when(pl.col("is_preferred_channel")).then(pl.lit(" (preferred channel)")).otherwise(pl.lit("")),
            pl.lit(currency), two_decimals(pl.col("expected_value_eur")),
        ).str.strip_chars("; ").alias("reason")
    )
    eligible_count = eligible_actions(signals, catalogue).group_by("customer_key").agg(pl.len().alias("eligible_actions"))
    rest = catalogue.filter(pl.col("action") == NO_ACTION).row(0, named=True)
    columns = ["action", "label", "channel", "response_probability", "expected_value_eur", "priority", "reason"]
    return (
        signals.select("customer_key", "segment", "capped", *(c for c in signals.columns if c.startswith("contacts_")))
        .join(eligible_count, on="customer_key", how="left")
        .with_columns(pl.col("eligible_actions").fill_null(0))
        .join(chosen.select("customer_key", *columns), on="customer_key", how="left")
        .with_columns(
            pl.col("action").fill_null(NO_ACTION),
            pl.col("label").fill_null(rest["label"]),
            pl.col("response_probability", "expected_value_eur").fill_null(0.0),
            pl.col("priority").fill_null(rest["priority"]),
            pl.col("reason").fill_null(_no_action_reason(cap)),
        )
        .select("customer_key", "segment", *columns)
        .sort("customer_key")
    )


@dataclass(frozen=True)
class NbaPlan:
    """The intermediate frames of one run (the policy evaluation reuses them with other probabilities)."""

    contacts: pl.DataFrame
    signals: pl.DataFrame
    options: pl.DataFrame
    valued: pl.DataFrame
    recommendations: pl.DataFrame
    organic_baselines: pl.DataFrame
    organic_model: bgnbd.BgNbdParams


def plan_next_best_actions(inputs: NbaInputs, catalogue: pl.DataFrame, as_of: date, cap: ContactCap,
                           currency: str = "EUR", organic: bgnbd.BgNbdParams | None = None) -> NbaPlan:
    """The whole policy with response rates learned from `inputs.contacts` (see the module docstring); `organic`:
    a stored organic purchase model instead of one fitted now."""
    baselines = organic_baselines(inputs.held_out, inputs.history.orders, catalogue, as_of)
    organic = organic or organic_purchase_model(inputs.history.orders, as_of)
    contacts = outbound_contacts(inputs.contacts, inputs.history.orders, catalogue, as_of, baselines, organic)
    signals = customer_signals(NbaInputs(inputs.customers, inputs.history, contacts, inputs.churn_scores), as_of, cap)
    rates = learn_response_rates(contacts, inputs.customers, catalogue, as_of)
    responsiveness = channel_responsiveness(contacts, inputs.customers, rates, as_of)
    options = contact_options(signals, catalogue)
    valued = with_expected_value(options, personalised_probabilities(options, rates, responsiveness), catalogue)
    return NbaPlan(contacts, signals, options, valued, recommendations(signals, valued, catalogue, cap, currency),
                   baselines, organic)


def next_best_actions(inputs: NbaInputs, catalogue: pl.DataFrame, as_of: date, cap: ContactCap,
                      currency: str = "EUR") -> pl.DataFrame:
    return plan_next_best_actions(inputs, catalogue, as_of, cap, currency).recommendations
