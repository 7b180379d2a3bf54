"""Machine names as readers write them, for every text a person reads (reports, alert sentences, alerts.md)."""

from __future__ import annotations

import re
from collections.abc import Mapping

# Abbreviations readers know in capitals, and codes whose parts a reader joins with "and".
ACRONYMS = {"vip", "ml", "nps", "csat", "ces", "sms", "faq", "aht", "fcr", "sla", "ivr", "crm", "roc", "auc", "eur",
            "id"}
JOINED_WITH_AND = {"returns_refunds", "payment_billing", "account_login", "delivery_shipping", "shipping_delivery"}
DAYS_WINDOW = re.compile(r"^(\d+)d$")
# Topics (seed text_topics) as a reader names what the answers were about.
TOPICS = {"delivery": "delivery problems", "returns_refunds": "returns and refunds", "payment_billing":
          "payment and billing", "product_quality": "product quality", "account_login": "account and login problems",
          "store_experience": "the store experience", "praise": "praise", "other": "other matters",
          "no_topic": "no classified text"}


def words(code: str) -> str:
    """A machine name as readers write it: 'returns_refunds' -> 'returns and refunds', 'vip_omnichannel' ->
    'VIP omnichannel', 'service_contacts_90d' -> 'service contacts (90 days)'."""
    if code in JOINED_WITH_AND:
        return code.replace("_", " and ")
    parts = []
    for part in code.split("_"):
        window = DAYS_WINDOW.match(part)
        parts.append(f"({window.group(1)} days)" if window else part.upper() if part in ACRONYMS else part)
    return " ".join(parts)


def slice_words(dimension: str, code: str, persona_names: Mapping[str, str] | None = None) -> str:
    """A slice of a KPI as readers name it: 'topic delivery problems', 'entry channel chat agent', 'channel ×
    segment phone / VIP', 'persona Frequent store shoppers' (persona ids named by `persona_names`)."""
    if dimension == "topic":
        return f"topic {TOPICS.get(code, words(code))}"
    if dimension == "persona" and code in (persona_names or {}):
        return f"persona {persona_names[code]}"
    return f"{words(dimension)} {' / '.join(words(part) for part in code.split(' / '))}"
