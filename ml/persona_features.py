"""Behaviour features for personas (polars in, polars out): how a customer buys, browses, reads e-mail, asks
for service and rates us, across channels, up to an as-of date, and which contacts they consented to.

Unlike the churn features (`ml/features.py`, recency-driven), these describe habits that stay put over time:
rates per active year and shares of channels, so a customer's persona does not drift just because a week
passed. Only customers with at least `MIN_TOUCHPOINTS` touchpoints get features (too little activity says
nothing about a habit).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date

import polars as pl

from ml.features import cutoff

MIN_TOUCHPOINTS = 3
PURCHASE_CHANNELS = ("web", "app", "store")
SERVICE_CHANNELS = ("phone", "chat", "email", "social")  # chat_bot/chat_agent count as chat, tickets as email
# A customer seen for a few days only would get absurd rates per year: tenure counts at least this long.
MIN_TENURE_DAYS = 60.0
DAYS_PER_YEAR = 365.25


@dataclass(frozen=True)
class BehaviourHistory:
    """The mart rows the persona features read (only the named columns are used).

    touchpoints         fct_touchpoints: customer_key, occurred_at, channel, source, direction, touchpoints
                        (how many a row stands for: the touchpoints of one customer, day, channel, source
                        and direction may come as one row, occurred_at the first of them)
    orders              fct_orders: customer_key, ordered_at, order_type (sale|return), value_eur, channel
    service_contacts    fct_service_contacts: customer_key, occurred_at, inbound_channel
    surveys             fct_survey_responses: customer_key, responded_at, survey_type, score
    marketing_contacts  fct_marketing_contacts: customer_key, sent_at, channel, opened, clicked
    crm_profiles        per CRM customer: customer_key, consent_email, consent_phone, consent_push (booleans),
                        has_loyalty_card (a loyalty id on record); customers outside the CRM have none
    """

    touchpoints: pl.DataFrame
    orders: pl.DataFrame
    service_contacts: pl.DataFrame
    surveys: pl.DataFrame
    marketing_contacts: pl.DataFrame
    crm_profiles: pl.DataFrame


TIME_COLUMNS = {
    "touchpoints": "occurred_at",
    "orders": "ordered_at",
    "service_contacts": "occurred_at",
    "surveys": "responded_at",
    "marketing_contacts": "sent_at",
}
CRM_FLAGS = ("consent_email", "consent_phone", "consent_push", "has_loyalty_card")


def visible_before(history: BehaviourHistory, as_of: date) -> BehaviourHistory:
    """The rows with a known customer up to the end of day `as_of`."""
    end = cutoff(as_of)
    return BehaviourHistory(
        **{
            field.name: getattr(history, field.name).filter(
                pl.col("customer_key").is_not_null() & (pl.col(TIME_COLUMNS[field.name]) < end)
            )
            for field in fields(history) if field.name in TIME_COLUMNS
        },
        crm_profiles=history.crm_profiles,  # the CRM export as it stands: no history of its flags
    )


def _activity(touchpoints: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """Inbound touchpoints and active years (first inbound touchpoint to the cut-off) per customer."""
    end = cutoff(as_of)
    tenure_days = ((pl.lit(end) - pl.col("first_at")).dt.total_seconds() / 86_400.0).clip(MIN_TENURE_DAYS)
    return (
        touchpoints.filter(pl.col("direction") == "inbound")
        .group_by("customer_key")
        .agg(pl.col("touchpoints").sum().cast(pl.UInt32), pl.col("occurred_at").min().alias("first_at"))
        .filter(pl.col("touchpoints") >= MIN_TOUCHPOINTS)
        .select("customer_key", "touchpoints", (tenure_days / DAYS_PER_YEAR).alias("active_years"))
    )


def _purchases(orders: pl.DataFrame) -> pl.DataFrame:
    sales = orders.filter(pl.col("order_type") == "sale")
    returns = orders.filter(pl.col("order_type") == "return").group_by("customer_key").agg(pl.len().alias("returns"))
    return sales.group_by("customer_key").agg(
        pl.len().alias("purchases"),
        pl.col("value_eur").mean().alias("basket_mean_eur"),
        *((pl.col("channel") == channel).mean().alias(f"purchase_share_{channel}") for channel in PURCHASE_CHANNELS),
    ).join(returns, on="customer_key", how="left")


def _browsing(touchpoints: pl.DataFrame) -> pl.DataFrame:
    """Days with web or app visits (a visit's many page views count once), and the share of them in the app."""
    visits = touchpoints.filter(pl.col("source") == "web_events").select(
        "customer_key", "channel", pl.col("occurred_at").dt.date().alias("day")
    ).unique()
    return visits.group_by("customer_key").agg(
        pl.col("day").n_unique().alias("browse_days"), (pl.col("channel") == "app").mean().alias("browse_share_app")
    )


def _service(service_contacts: pl.DataFrame) -> pl.DataFrame:
    channel = (
        pl.when(pl.col("inbound_channel").str.starts_with("chat")).then(pl.lit("chat"))
        .when(pl.col("inbound_channel").is_in(["email", "web_form"])).then(pl.lit("email"))
        .when(pl.col("inbound_channel").is_in(["phone", "ivr"])).then(pl.lit("phone"))
        .otherwise(pl.col("inbound_channel"))
    )
    return service_contacts.with_columns(channel.alias("service_channel")).group_by("customer_key").agg(
        pl.len().alias("service_contacts"),
        *((pl.col("service_channel") == name).sum().alias(f"service_{name}") for name in SERVICE_CHANNELS),
    )


def _email(marketing_contacts: pl.DataFrame) -> pl.DataFrame:
    emails = marketing_contacts.filter(pl.col("channel") == "email")
    return emails.group_by("customer_key").agg(
        pl.col("opened").cast(pl.Float64).mean().alias("email_open_rate"),
        pl.col("clicked").cast(pl.Float64).mean().alias("email_click_rate"),
    )


def _surveys(surveys: pl.DataFrame) -> pl.DataFrame:
    return surveys.filter(pl.col("survey_type") == "nps").group_by("customer_key").agg(
        pl.col("score").mean().alias("nps_score_mean")
    )


def _share(part: str, whole: str) -> pl.Expr:
    """part / whole, null (not NaN) when there is no whole: no purchases, no returns rate."""
    return pl.when(pl.col(whole) > 0).then(pl.col(part) / pl.col(whole))


def behaviour_features(history: BehaviourHistory, as_of: date) -> pl.DataFrame:
    """One row per customer with at least `MIN_TOUCHPOINTS` inbound touchpoints up to `as_of`: purchase rhythm
    and basket, channel mix of purchases and service contacts, returns, browsing, e-mail engagement and NPS.
    Missing behaviour is a zero count; rates of something never offered (e-mail, surveys) stay null."""
    visible = visible_before(history, as_of)
    customers = _activity(visible.touchpoints, as_of)
    joined = customers
    for part in (_purchases(visible.orders), _browsing(visible.touchpoints), _service(visible.service_contacts),
                 _email(visible.marketing_contacts), _surveys(visible.surveys), visible.crm_profiles):
        joined = joined.join(part, on="customer_key", how="left")
    counts = ["purchases", "returns", "browse_days", "service_contacts", *(f"service_{c}" for c in SERVICE_CHANNELS)]
    # Outside the CRM nobody has given consent or holds a card.
    joined = joined.with_columns(pl.col(counts).fill_null(0), pl.col(CRM_FLAGS).fill_null(False).cast(pl.Float64))
    per_year = lambda column: pl.col(column) / pl.col("active_years")  # noqa: E731
    return joined.select(
        "customer_key",
        "touchpoints",
        per_year("purchases").alias("purchases_per_year"),
        "basket_mean_eur",
        *(pl.col(f"purchase_share_{c}") for c in PURCHASE_CHANNELS),
        _share("returns", "purchases").alias("return_rate"),
        per_year("browse_days").alias("browse_days_per_year"),
        (pl.col("browse_days") / pl.col("purchases").clip(1)).alias("browse_days_per_purchase"),
        "browse_share_app",
        per_year("service_contacts").alias("service_contacts_per_year"),
        *(_share(f"service_{c}", "service_contacts").alias(f"service_share_{c}") for c in SERVICE_CHANNELS),
        "email_open_rate",
        "email_click_rate",
        "nps_score_mean",
        *CRM_FLAGS,
    ).sort("customer_key")
