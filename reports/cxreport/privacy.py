"""Verbatims go into reports pseudonymised: e-mail addresses, phone numbers, social handles and known
customer names are replaced by placeholders before any text is shown."""

from __future__ import annotations

import re
from collections.abc import Iterable

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# A run of 7+ digits, optionally grouped by spaces, dots, slashes, dashes or brackets, optionally with + or 00.
PHONE = re.compile(r"(?:\+|\b00|\b0)?\(?\d[\d\s./()-]{5,}\d")
HANDLE = re.compile(r"(?<![\w@])@\w{2,}")
DATE = re.compile(r"\d{1,2}\.\d{1,2}\.\d{2,4}")


def _phone_placeholder(match: re.Match[str]) -> str:
    digits = sum(character.isdigit() for character in match.group())
    return match.group() if digits < 7 or DATE.fullmatch(match.group()) else "[phone]"


def pseudonymise(text: str, names: Iterable[str] = ()) -> str:
    text = EMAIL.sub("[e-mail]", text)
    text = HANDLE.sub("[handle]", text)
    text = PHONE.sub(_phone_placeholder, text)
    words = sorted({name for name in names if name and len(name) > 1}, key=len, reverse=True)
    if words:
        pattern = re.compile(r"\b(?:" + "|".join(re.escape(word) for word in words) + r")\b", re.IGNORECASE)
        text = pattern.sub("[name]", text)
    return text
