"""Identifiers as the identity graph stores them, in Python: the same rules as the dbt macros
`normalize_email`, `normalize_phone_e164`, `normalize_handle`, `normalize_plain_id` and `normalize_loyalty_id`
(dbt_models/macros/), so a value typed into `cx forget` or found in a raw file meets the graph's value.
"""

from __future__ import annotations

import re

from cx_core.sources.contracts import IDENTIFIER_TYPES

_PHONE_CHARACTERS = re.compile(r"[0-9 +()/.\-]+")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


def normalize_phone_e164(value: str, default_country_code: str) -> str | None:
    dialable = re.sub(r"[^0-9+]", "", value.replace("(0)", ""))
    if dialable.startswith("+"):
        candidate = dialable
    elif dialable.startswith("00"):
        candidate = "+" + dialable[2:]
    elif dialable.startswith("0"):
        candidate = f"+{default_country_code}{dialable[1:]}"
    else:
        return None
    return candidate if _PHONE_CHARACTERS.fullmatch(value) and _E164.fullmatch(candidate) else None


def normalize_identifier(identifier_type: str, value: str | None, default_country_code: str = "49") -> str | None:
    """The graph's form of `value` as an identifier of `identifier_type`, or None when it is not one."""
    if value is None:
        return None
    if identifier_type == "email":
        return value.strip().lower() or None
    if identifier_type == "phone":
        return normalize_phone_e164(value, default_country_code)
    if identifier_type == "social_handle":
        bare = value.strip().lower().lstrip("@")
        return "@" + bare if bare else None
    if identifier_type == "loyalty_id":
        return value.strip().upper() or None
    if identifier_type in IDENTIFIER_TYPES:
        return value.strip() or None
    raise ValueError(f"unknown identifier type {identifier_type!r}, expected one of {IDENTIFIER_TYPES}")


def candidate_identifiers(value: str, default_country_code: str = "49") -> set[tuple[str, str]]:
    """Every (type, normalised value) a bare identifier typed by a user can stand for: `cx forget` does not ask
    which kind an identifier is; the identity graph tells which of the candidates exist."""
    candidates = set()
    for identifier_type in IDENTIFIER_TYPES:
        if identifier_type == "email" and "@" not in value.strip().lstrip("@"):
            continue
        if identifier_type == "social_handle" and not value.strip().startswith("@"):
            continue
        normalised = normalize_identifier(identifier_type, value, default_country_code)
        if normalised:
            candidates.add((identifier_type, normalised))
    return candidates
