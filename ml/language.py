"""German / English language detection without any downloaded model.

The demo retailer's customers write German or English, often short and informal ("paket immer noch nicht da??").
A statistical detector trained on Wikipedia is overkill and brittle on five-word texts; counting frequent function
words plus German-only letters (ä, ö, ü, ß) is transparent, needs no data files and is right on the texts we see.
When no function word decides ("Poor talk time performance.", "Welche Bahn?", a tweet of hashtags and a link),
a character n-gram model restricted to German and English decides: langid.py's (`py3langid`, BSD-3-Clause,
model inside the wheel, loaded on first need). It needs two words of three letters or more and a confident
answer. Texts with no evidence either way (empty, emoji only, a single product name) get `und` (undetermined),
and the caller may fall back to a language the source system declared.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import re
from functools import cache
from pathlib import Path

GERMAN = "de"
ENGLISH = "en"
UNDETERMINED = "und"

GERMAN_WORDS = frozenset(
    """
    der die das den dem des ein eine einen einem einer ich du er sie es wir ihr mein meine mir mich dich
    und oder aber nicht kein keine keinen ist sind war waren bin bist hat habe haben hatte wird wurde
    mit von zu zum zur auf für bei nach aus über unter noch schon immer sehr auch nur wie wo warum
    wann bitte danke leider gut schlecht toll hallo hier heute gestern jetzt mal doch ja nein
    bestellung lieferung paket rechnung rücksendung kundenservice filiale geld zurück kommt kam
    """.split()
)
ENGLISH_WORDS = frozenset(
    """
    the a and or but not no is are were be been have has had would can could should
    i you he she it we they my your our me us to of on at for with from by about this that these
    those there here what where why when how please thanks thank very still yet just again already
    order delivery parcel package refund invoice store money back great good bad terrible love hate
    """.split()
)
GERMAN_LETTERS = re.compile(r"[äöüß]", re.IGNORECASE)
WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
# Below this many words of at least three letters (a product name, "ok") an n-gram model is guessing.
MIN_NGRAM_WORDS = 2
MIN_NGRAM_CONFIDENCE = 0.7
# What cached languages (ml.text_cache.LANGUAGE) are keyed by: the rules of this module and the n-gram model's wheel.
DETECTOR_VERSION = (f"py3langid@{importlib.metadata.version('py3langid')}"
                    f"+rules-{hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]}")


@cache
def ngram_identifier():
    """The n-gram model for German and English, loaded once per process (`cx run` loads it ahead: warm_up.py)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages([GERMAN, ENGLISH])
    return identifier


def ngram_language(text: str) -> str:
    """German or English by character n-grams, `und` for too little text or an unsure answer."""
    if sum(len(word) >= 3 for word in WORD.findall(text)) < MIN_NGRAM_WORDS:
        return UNDETERMINED
    language, confidence = ngram_identifier().classify(text)
    return language if confidence >= MIN_NGRAM_CONFIDENCE else UNDETERMINED


def detect_language(text: str | None) -> str:
    """`de`, `en` or `und` for one text. Ties go to `und` rather than a guess."""
    if not text:
        return UNDETERMINED
    words = [w.casefold() for w in WORD.findall(text)]
    german = sum(w in GERMAN_WORDS for w in words) + len(GERMAN_LETTERS.findall(text))
    english = sum(w in ENGLISH_WORDS for w in words)
    if german > english:
        return GERMAN
    if english > german:
        return ENGLISH
    return ngram_language(text)


def with_declared_fallback(detected: str, declared: str | None) -> str:
    """The `detect_language` result, or the source's declared `de`/`en` when the text itself is inconclusive."""
    if detected != UNDETERMINED:
        return detected
    declared_code = (declared or "").strip().casefold()[:2]
    return declared_code if declared_code in (GERMAN, ENGLISH) else UNDETERMINED
