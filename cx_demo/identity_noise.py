"""How one person's identifiers look in each export: case and stray spaces in e-mails, typos typed into a
web form, local vs E.164 phone numbers, household landlines and withheld numbers."""

from __future__ import annotations

import numpy as np
import polars as pl

# Per source: share of e-mails Capitalised, ALL CAPS, with stray spaces, with a typo.
EMAIL_NOISE = {
    "crm_customers": (0.12, 0.02, 0.04, 0.0),
    "orders": (0.05, 0.03, 0.01, 0.0),
    "support_tickets": (0.08, 0.02, 0.03, 0.04),
    "chat_conversations": (0.05, 0.0, 0.02, 0.0),
    "surveys": (0.02, 0.0, 0.0, 0.0),
    "email_events": (0.0, 0.0, 0.0, 0.0),
}
DOMAIN_TYPOS = {"gmail.com": "gmial.com", "gmx.de": "gmx.d", "web.de": "wbe.de", "t-online.de": "t-onlien.de", "outlook.de": "outlok.de"}


def _typo(address: str) -> str:
    local, _, domain = address.partition("@")
    if domain in DOMAIN_TYPOS:
        return f"{local}@{DOMAIN_TYPOS[domain]}"
    return f"{local[:-1]}@{domain}" if len(local) > 3 else f"{local}{local[-1:]}@{domain}"


def emails_as_written(rng: np.random.Generator, emails: np.ndarray, source: str) -> np.ndarray:
    """The canonical addresses as the given source writes them (None stays None)."""
    capitalised, upper, spaced, typo = EMAIL_NOISE[source]
    u = rng.random((4, len(emails)))
    out = emails.astype(object).copy()
    for i in np.flatnonzero(u[3] < typo):
        out[i] = _typo(out[i]) if out[i] else out[i]
    for i in np.flatnonzero(u[0] < capitalised):
        out[i] = out[i][:1].upper() + out[i][1:] if out[i] else out[i]
    for i in np.flatnonzero(u[1] < upper):
        out[i] = out[i].upper() if out[i] else out[i]
    for i in np.flatnonzero(u[2] < spaced):
        out[i] = f" {out[i]} " if out[i] and u[2, i] < spaced / 2 else (f"{out[i]} " if out[i] else out[i])
    return out


def phones_as_written(rng: np.random.Generator, people: pl.DataFrame, person: np.ndarray, source: str) -> np.ndarray:
    """Phone per row: E.164 or local mobile, sometimes the household landline, in calls sometimes withheld.

    Austrian and Swiss numbers are written in international form (E.164, or 00-prefixed in the CRM) so that a
    reader defaulting local numbers to +49 does not misplace them.
    """
    n = len(person)
    e164 = people["phone_e164"].to_numpy()[person]
    local = people["phone_local"].to_numpy()[person]
    house_e164 = people["household_phone_e164"].to_numpy()[person]
    house_local = people["household_phone_local"].to_numpy()[person]
    german = people["country"].to_numpy()[person] == "DE"
    u = rng.random((3, n))
    mobile = np.where(german & (u[0] < 0.45), local, e164)
    if source == "crm_customers":
        international = np.array([f"00{p[1:]}" if p else None for p in e164], dtype=object)
        mobile = np.where(~german & (u[1] < 0.3), international, mobile)
        return np.where(mobile == None, np.where(german, house_local, house_e164), mobile)  # noqa: E711
    house = np.where(german & (u[1] < 0.5), house_local, house_e164)
    uses_house = (house != None) & ((u[2] < 0.35) | (mobile == None))  # noqa: E711
    phone = np.where(uses_house, house, mobile)
    return np.where(rng.random(n) < 0.07, None, phone)
