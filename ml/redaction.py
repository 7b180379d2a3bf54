"""Redact personal data from free text before it reaches the marts that reports read.

Rules, not a model: a named-entity model (presidio-analyzer on spaCy) needs German and English spaCy pipelines,
which are not installable from PyPI here (the `de-core-news-*` names there are placeholders; the English ones
are third-party re-uploads), and nothing may download weights at run time. The rules are:
  IBAN        country code, check digits, 11-30 letters/digits (spaces allowed), accepted only if mod-97 holds
  card        13-19 digits in groups, accepted only if the Luhn check holds
  e-mail      local@domain.tld
  handle      @name (social media)
  phone       +, 00 or a national 0, then 7-15 digits with spaces, dashes, slashes, dots or one (0)/(area)
  address     German street (…straße/str./weg/gasse/platz/allee/ring/damm + number), a 4-5 digit postcode
              before a capitalised town, an English house number before …Street/Road/Avenue/Lane
  name        a first name from ml/data/first_names_de_en.txt (+ a capitalised surname), or capitalised words
              after a cue ("mein Name ist", "Herr", "Frau", "my name is", "Mr", "Mrs", "Grüße", "regards", …)
Each finding becomes a placeholder such as [EMAIL]. Recall on the hand-labelled comments in
tests/fixtures/redaction_comments.csv is measured by tests/test_redaction.py and `make bench`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path

NAMES_FILE = Path(__file__).parent / "data" / "first_names_de_en.txt"
# the kinds of personal data a labelled comment lists, each as "|"-separated values found in its text
LABELLED_KINDS = ("emails", "phones", "ibans", "cards", "addresses", "names")

_UPPER = "A-ZÄÖÜ"
_WORD = rf"[{_UPPER}][a-zäöüßé]+(?:-[{_UPPER}][a-zäöüßé]+)?"
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")
CARD = re.compile(r"\b\d(?:[ -]?\d){12,18}\b")
EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}\b")
HANDLE = re.compile(r"(?<![\w@])@\w{2,}")
DATE = re.compile(r"\d{1,2}\.\d{1,2}\.\d{2,4}")
PHONE = re.compile(r"(?<![\w+])(?:\+|00|\(0\d{0,4}\) ?|0)\d[\d ()/.\-]{5,20}\d(?!\d)")
ADDRESS = re.compile(
    rf"\b{_WORD}(?:straße|strasse|str\.|weg|gasse|platz|allee|ring|damm)\s+\d+\s?[a-z]?\b"
    rf"|\b{_WORD} (?:Straße|Strasse|Weg|Gasse|Platz|Allee|Ring)\s+\d+\s?[a-z]?\b"
    rf"|\b\d{{4,5}} {_WORD}\b"
    rf"|\b\d+[a-z]? {_WORD} (?:Street|St\.|Road|Rd\.|Avenue|Ave\.|Lane|Drive|Close|Way)\b"
)
NAME_CUES = re.compile(
    rf"(?i:mein name ist|mein name:|ich heiße|ich heisse|hier ist|hier schreibt|herrn?|frau|kollegin|kollege|"
    rf"my name is|name:|this is|mr\.?|mrs\.?|ms\.?|dr\.?|grüßen?|gruß|regards,?|cheers,?|thanks,?|"
    rf"danke,?|lg,?|mfg,?|sincerely,?|best,?)\s+({_WORD}(?: {_WORD})?)",
)
# Capitalised words a cue may precede that are not names (German capitalises every noun).
NOT_NAMES = {"Ich", "Sie", "Du", "Der", "Die", "Das", "Ein", "Eine", "Kunde", "Kundin", "Team", "Service",
             "The", "A", "An", "I", "We", "Support", "Ihr", "Ihre", "Und", "And", "Vielen", "Many", "For", "Für"}


@cache
def first_names() -> frozenset[str]:
    lines = NAMES_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def _iban_valid(candidate: str) -> bool:
    compact = candidate.replace(" ", "")
    rearranged = compact[4:] + compact[:4]
    return 15 <= len(compact) <= 34 and int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _luhn_valid(candidate: str) -> bool:
    digits = [int(c) for c in candidate if c.isdigit()]
    checksum = sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(reversed(digits)))
    return checksum % 10 == 0


def _phone_plausible(candidate: str) -> bool:
    return 7 <= sum(c.isdigit() for c in candidate) <= 15 and not DATE.fullmatch(candidate.strip())


def _names(text: str) -> list[tuple[int, int]]:
    spans = []
    for match in NAME_CUES.finditer(text):
        words = match.group(1).split(" ")
        if words[0] not in NOT_NAMES:
            kept = words if len(words) == 1 or words[1] not in NOT_NAMES else words[:1]
            spans.append((match.start(1), match.start(1) + len(" ".join(kept))))
    names = first_names()
    words = list(re.finditer(_WORD, text))
    for index, word in enumerate(words):
        if word.group(0) in names:
            end = word.end()
            following = words[index + 1] if index + 1 < len(words) else None
            if following and following.start() == end + 1 and following.group(0) not in NOT_NAMES:
                end = following.end()  # the surname
            spans.append((word.start(), end))
    return spans


def _replace(text: str, spans: list[tuple[int, int]], placeholder: str) -> str:
    merged: list[list[int]] = []
    for start, end in sorted(spans):  # a cue and the name list may find overlapping parts of one name
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    for start, end in reversed(merged):
        text = text[:start] + placeholder + text[end:]
    return text


def redact(text: str | None) -> str | None:
    """`text` with every e-mail, social handle, phone, IBAN, card number, address and person name replaced by a
    placeholder."""
    if not text:
        return text
    text = IBAN.sub(lambda m: "[IBAN]" if _iban_valid(m.group(0)) else m.group(0), text)
    text = CARD.sub(lambda m: "[CARD]" if _luhn_valid(m.group(0)) else m.group(0), text)
    text = EMAIL.sub("[EMAIL]", text)
    text = HANDLE.sub("[HANDLE]", text)
    text = PHONE.sub(lambda m: "[PHONE]" if _phone_plausible(m.group(0)) else m.group(0), text)
    text = ADDRESS.sub("[ADDRESS]", text)
    return _replace(text, _names(text), "[NAME]")


def recall_by_kind(labelled: Iterable[Mapping[str, str]]) -> dict[str, tuple[int, int]]:
    """kind -> (labelled values no longer in the redacted text, labelled values), over rows with a `text` and
    one column per LABELLED_KINDS."""
    counts = {kind: [0, 0] for kind in LABELLED_KINDS}
    for row in labelled:
        redacted = redact(row["text"])
        for kind in LABELLED_KINDS:
            for value in filter(None, row[kind].split("|")):
                counts[kind][1] += 1
                counts[kind][0] += value not in redacted
    return {kind: (found, total) for kind, (found, total) in counts.items()}
