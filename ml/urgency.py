"""Urgency (high / normal / low) of a customer text with a human-readable reason, and where to route it.

Rules for customer-initiated (inbound) texts, first match wins, so the reason names the strongest signal:
  high    explicit safety words (injury, fire, burns ...), legal words (lawyer, consumer protection ...), a threat
          to cancel or leave, or a negative text that is the customer's third or later contact within 7 days;
  normal  any other negative text, a repeat contact, or a neutral text on a service topic (an open question);
  low     everything else (praise, positive feedback, general remarks).
Safety and legal texts go to the escalations team first whatever their topic; all others to the topic's team.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import polars as pl

from ml.sentiment_lexicon import NEGATIVE, NEUTRAL

HIGH, NORMAL, LOW = "high", "normal", "low"
ESCALATIONS_TEAM = "escalations"
REPEAT_WINDOW = timedelta(days=7)
HIGH_URGENCY_REPEAT = 3
SERVICE_TOPICS = frozenset({"delivery", "returns_refunds", "payment_billing", "product_quality", "account_login"})

# Word-start stems, English and German; kept short and specific because a false "legal threat" costs an
# escalation agent's time.
SIGNALS = {
    "safety": r"injur|hurt myself|burn|fire|caught fire|smoke|electric shock|dangerous|unsafe|allergic|choking"
    r"|verletz|verbrannt|brand|feuer|rauch|stromschlag|gefährlich|allergisch|erstick",
    "legal": r"lawyer|attorney|legal action|sue |court|consumer protection|police|fraud"
    r"|anwalt|rechtsanwalt|rechtliche schritte|klage|verklag|gericht|verbraucherzentrale|polizei|betrug|anzeige",
    "cancellation": r"cancel my (?:account|membership|subscription)|close my account|never (?:order|shop|buy)"
    r"|switch(?:ing)? to (?:a )?competitor|kündig|konto lösch|nie wieder|nicht mehr (?:bestellen|einkaufen)|zur konkurrenz",
}
SIGNAL_PATTERNS = {name: re.compile(rf"(?<!\w)(?:{pattern})", re.IGNORECASE) for name, pattern in SIGNALS.items()}


@dataclass(frozen=True)
class Urgency:
    urgency: str
    reason: str
    escalate: bool  # route to the escalations team before the topic's team


def explicit_signal(text: str) -> tuple[str, str] | None:
    """(signal name, matched words) of the first explicit signal in `text`, if any."""
    for name, pattern in SIGNAL_PATTERNS.items():
        match = pattern.search(text)
        if match:
            return name, match.group(0).strip()
    return None


def assess_urgency(text: str, sentiment: str, topic: str, contacts_in_window: int, inbound: bool = True) -> Urgency:
    """`contacts_in_window`: the customer's inbound text contacts in the 7 days up to and including this one.
    Company-initiated texts (replies, marketing) need no handling and are always low."""
    return urgency_of_signal(explicit_signal(text), sentiment, topic, contacts_in_window, inbound)


def urgency_of_signal(
    signal: tuple[str, str] | None, sentiment: str, topic: str, contacts_in_window: int, inbound: bool = True
) -> Urgency:
    """`assess_urgency` from the text's `explicit_signal` (a per-text result that ml.text_cache keeps)."""
    if not inbound:
        return Urgency(LOW, "company message (outbound)", escalate=False)
    if signal and signal[0] in ("safety", "legal"):
        return Urgency(HIGH, f"{signal[0]} words ('{signal[1]}')", escalate=True)
    if signal:
        return Urgency(HIGH, f"threat to cancel ('{signal[1]}')", escalate=False)
    if sentiment == NEGATIVE and contacts_in_window >= HIGH_URGENCY_REPEAT:
        return Urgency(HIGH, f"negative, contact {contacts_in_window} within 7 days", escalate=False)
    if sentiment == NEGATIVE:
        return Urgency(NORMAL, f"negative text on {topic}", escalate=False)
    if contacts_in_window > 1:
        return Urgency(NORMAL, f"repeat contact ({contacts_in_window} within 7 days)", escalate=False)
    if sentiment == NEUTRAL and topic in SERVICE_TOPICS:
        return Urgency(NORMAL, f"open question on {topic}", escalate=False)
    return Urgency(LOW, f"{sentiment} text on {topic}, no urgency signal", escalate=False)


def contacts_in_window(touchpoints: pl.DataFrame) -> pl.Series:
    """Per row of (customer_key, occurred_at, direction): that customer's inbound rows in the window
    (t - 7 days, t], this one included. Company replies do not count as contacts. Rows without a customer_key
    count only themselves (an unidentified writer has no contact history).
    """
    inbound_in_window = (
        (pl.col("direction") == "inbound").cast(pl.Int64).sum().rolling(index_column="occurred_at", period=REPEAT_WINDOW)
    ).over("customer_key")
    counted = (
        touchpoints.select("customer_key", "occurred_at", "direction")
        .with_row_index("row")
        .sort("occurred_at")
        .with_columns(pl.when(pl.col("customer_key").is_null()).then(1).otherwise(inbound_in_window).alias("contacts"))
        .sort("row")
    )
    return counted["contacts"].cast(pl.Int64)
