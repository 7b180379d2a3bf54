"""Service-failure events: a delay, a cancellation, a refund, an outage, a lost parcel, waiting; and the intent
to leave ("find a new airline", "kündige").

Customers report these as facts ("Meine S-Bahn ist ausgefallen und jetzt muss ich warten.", "Flight delayed
again"), without a single opinion word, so neither a lexicon nor an encoder trained on reviews and tweets calls
them negative. For a customer-experience pipeline such a report *is* a negative experience, so the sentiment
model turns a neutral decision into a negative one when the text names a failure event (see
`ml.sentiment.EncoderHeadModel`). Opinions the head is sure about are left alone: "thanks for the quick refund"
stays positive.

Stems match at the start of a word, case-insensitively, in English and German.
"""

from __future__ import annotations

import re

FAILURE_STEMS_EN = (
    "delay", "cancel", "refund", "outage", "down again", "is down", "not working", "doesn't work",
    "does not work", "lost", "missing", "waiting", "still wait", "still no", "never arrived", "never received",
    "not arrived", "hasn't arrived", "didn't arrive", "broken", "damaged", "overcharg", "charged twice",
    "no signal", "no response", "no reply", "on hold", "stranded", "overbook", "misplaced",
    # the customer is leaving: as telling as a failure, and as free of opinion words ("Time to find new airline.")
    "find new", "find a new", "find another", "switching to", "never again",
)
FAILURE_STEMS_DE = (
    "verspät", "verzöger", "ausgefallen", "fällt aus", "fiel aus", "ausfall", "rückerstatt", "erstatt", "storn",
    "gestrichen", "warte", "verloren", "fehlt", "nicht angekommen", "nie angekommen", "noch nicht da",
    "immer noch nicht", "kaputt", "defekt", "beschädigt", "funkloch", "funklöcher", "kein netz", "störung",
    "teurer", "doppelt abgebucht", "keine antwort", "überfüllt", "verpasst",
    "nie wieder", "kündig", "anbieter wechseln",
)
FAILURE_EVENT = re.compile(
    r"(?<!\w)(?:" + "|".join(re.escape(s) for s in sorted(FAILURE_STEMS_EN + FAILURE_STEMS_DE, key=len, reverse=True)) + ")",
    re.IGNORECASE,
)


def failure_events(text: str) -> list[str]:
    """The failure-event stems `text` contains, case-folded, in order of appearance."""
    return [match.casefold() for match in FAILURE_EVENT.findall(text or "")]


def names_failure_event(text: str) -> bool:
    return bool(FAILURE_EVENT.search(text or ""))
