"""Lexicon sentiment for English (VADER) and German (German Polarity Lexicon): the baseline and model features.

Both lexicons ship inside pip packages, so nothing is downloaded: VADER in `vaderSentiment` (MIT) and the German
Polarity Lexicon of Klenner, Clematide et al. in `textblob-de` (Apache-2.0; we read its XML file directly
because textblob-de's own classes no longer import with current textblob). The same three numbers per text,
(compound, positive, negative), serve as the lexicon baseline in the quality figures and as language-neutral
features of the trained head: an English lexicon hit and a German one land in the same slots, so what the head
learns about lexicon polarity on English training text carries over to German text.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ElementTree
from functools import cache
from importlib.metadata import distribution

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

NEGATIVE, NEUTRAL, POSITIVE = "negative", "neutral", "positive"
LABELS = (NEGATIVE, NEUTRAL, POSITIVE)
# VADER's published convention for turning its compound score into three classes.
COMPOUND_THRESHOLD = 0.05
# VADER's normalisation constant: compound = sum / sqrt(sum² + alpha) maps any sum into (-1, 1).
NORMALISATION_ALPHA = 15.0
GERMAN_NEGATIONS = frozenset({"nicht", "kein", "keine", "keinen", "keinem", "keiner", "nie", "niemals", "ohne", "nix"})
NEGATION_REACH = 3
# The lexicon lists base forms ("schlecht"); German inflects adjectives ("schlechter", "schlechten"), so a word
# that is not found is looked up again without its inflection ending.
GERMAN_ENDINGS = ("em", "en", "er", "es", "e", "n", "s")
WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
# Emojis and other symbols (not letters, digits, spaces or ASCII punctuation): VADER's emoji lexicon rates them
# for any language.
SYMBOLS = re.compile(r"[^\w\s!-~]+", re.UNICODE)

LexiconScores = tuple[float, float, float]


@cache
def _vader() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


@cache
def german_polarity_lexicon() -> dict[str, float]:
    """Case-folded word form -> polarity in [-1, 1]; neutral (0) entries are dropped."""
    # Located through the distribution's file list: importing textblob_de itself fails (see module docstring).
    path = distribution("textblob-de").locate_file("textblob_de/data/de-sentiment.xml")
    polarities: dict[str, list[float]] = {}
    for word in ElementTree.parse(str(path)).getroot().iter("word"):
        polarity = float(word.get("polarity", "0"))
        if polarity:
            polarities.setdefault(word.get("form", "").casefold(), []).append(polarity)
    return {form: sum(values) / len(values) for form, values in polarities.items()}


def german_polarity(word: str) -> float:
    lexicon = german_polarity_lexicon()
    if word in lexicon:
        return lexicon[word]
    for ending in GERMAN_ENDINGS:
        if word.endswith(ending) and word[: -len(ending)] in lexicon:
            return lexicon[word[: -len(ending)]]
    return 0.0


def vader_scores(text: str) -> LexiconScores:
    scores = _vader().polarity_scores(text)
    return scores["compound"], scores["pos"], scores["neg"]


def german_scores(text: str) -> LexiconScores:
    """VADER-shaped scores from the German lexicon, with negation flipping the next few words."""
    words = [w.casefold() for w in WORD.findall(text)]
    if not words:
        return 0.0, 0.0, 0.0
    total = positive = negative = 0.0
    negated_until = -1
    for index, word in enumerate(words):
        if word in GERMAN_NEGATIONS:
            negated_until = index + NEGATION_REACH
            continue
        polarity = german_polarity(word) * (-1 if index <= negated_until else 1)
        total += polarity
        positive += max(polarity, 0.0)
        negative += max(-polarity, 0.0)
    symbols = " ".join(SYMBOLS.findall(text))
    if symbols:
        total += vader_scores(symbols)[0]
    compound = total / math.sqrt(total * total + NORMALISATION_ALPHA)
    return compound, positive / len(words), negative / len(words)


def lexicon_scores(text: str, language: str) -> LexiconScores:
    """German lexicon for German text, VADER for everything else (English and undetermined)."""
    return german_scores(text) if language == "de" else vader_scores(text)


def lexicon_label(compound: float) -> str:
    if compound >= COMPOUND_THRESHOLD:
        return POSITIVE
    if compound <= -COMPOUND_THRESHOLD:
        return NEGATIVE
    return NEUTRAL
