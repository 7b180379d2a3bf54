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
GERMAN_NEGATIONS = frozenset({"nicht", "kein", "keine", "keinen", "keinem", "keiner", "nie", "niemals", "nix"})
NEGATION_REACH = 3
# The lexicon lists base forms ("schlecht", "beste"); German inflects adjectives ("schlechter", "bester"), so a
# word that is not found is looked up again without its inflection ending.
GERMAN_ENDINGS = ("em", "en", "er", "es", "e", "n", "r", "s")
WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
# Punctuation ends a negation's scope ("nicht angekommen, schlechter Service" is negative).
CLAUSE_END = re.compile(r"[.,;:!?\n]+")
# Matched against case-folded text, in which "ß" has become "ss".
GERMAN_FORMULAS = re.compile(
    r"sehr geehrte[rs]?(?: damen und herren| frau| herr)?"
    r"|(?:mit )?(?:freundlichen|besten|lieben|vielen|herzlichen|schönen) grüssen"
    r"|(?:liebe|viele|beste|freundliche|herzliche|schöne) grüsse"
    r"|(?:hallo )?ihr lieben|liebe[rs]? [\w-]*team|guten (?:tag|morgen|abend)"
    r"|freue mich auf (?:ihre |eine |deine )?(?:antwort|rückmeldung)|(?:vielen )?dank im voraus",
)
# Emojis and other symbols (not letters, digits, spaces or ASCII punctuation): VADER's emoji lexicon rates them
# for any language.
SYMBOLS = re.compile(r"[^\w\s!-~]+", re.UNICODE)

LexiconScores = tuple[float, float, float]


@cache
def _vader() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


# Customer-service corrections to the general-language lexicon, on its scale: failure words it lacks, and words
# it rates positive that are neutral in service requests ("kommt einfach nicht an", "bitte korrigieren",
# "nur eine Kasse offen"). A 0 removes the word.
GERMAN_SERVICE_WORDS = {
    "kaputt": -1.0, "defekt": -1.0, "beschädigt": -1.0, "zerdrückt": -0.7, "unbrauchbar": -1.0, "katastrophe": -1.0,
    "gesperrt": -0.7, "überfällig": -0.7, "verspätet": -0.7, "verschoben": -0.7, "nervt": -0.7, "stürzt": -0.7, "abgestürzt": -0.7,
    "unterirdisch": -1.0, "problemlos": 0.7, "reibungslos": 0.7, "blitzschnell": 1.0, "funktioniert": 0.5, "gefällt": 0.7,
    "einfach": 0.0, "korrigieren": 0.0, "offen": 0.0, "qualität": 0.0,
}


@cache
def german_polarity_lexicon() -> dict[str, float]:
    """Case-folded word form -> polarity in [-1, 1] with the service corrections; neutral (0) entries dropped."""
    # Located through the distribution's file list: importing textblob_de itself fails (see module docstring).
    path = distribution("textblob-de").locate_file("textblob_de/data/de-sentiment.xml")
    polarities: dict[str, list[float]] = {}
    for word in ElementTree.parse(str(path)).getroot().iter("word"):
        polarity = float(word.get("polarity", "0"))
        if polarity:
            polarities.setdefault(word.get("form", "").casefold(), []).append(polarity)
    averaged = {form: sum(values) / len(values) for form, values in polarities.items()}
    return {form: polarity for form, polarity in (averaged | GERMAN_SERVICE_WORDS).items() if polarity}


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
    """VADER-shaped (compound, positive, negative) from the German lexicon on VADER's valence scale.

    As in VADER, compound normalises the summed valence into (-1, 1) and positive/negative are the shares of
    positive and negative intensity among all words. Salutations and closings are dropped first ("Sehr geehrte
    Damen und Herren", "Mit freundlichen Grüßen" would make every complaint look friendly). Emojis and other
    symbols get VADER's own valence, since they mean the same in German.
    """
    without_formulas = GERMAN_FORMULAS.sub(" ", text.casefold())
    valences = [v for clause in CLAUSE_END.split(without_formulas) for v in clause_valences(WORD.findall(clause))]
    symbols = " ".join(SYMBOLS.findall(text))
    if symbols:
        valences.append(summed_valence(vader_scores(symbols)[0]))
    if not valences:
        return 0.0, 0.0, 0.0
    total = sum(valences)
    # VADER adds 1 to each sentiment word's intensity and counts neutral words once.
    positive = sum(v + 1 for v in valences if v > 0)
    negative = sum(1 - v for v in valences if v < 0)
    neutral = sum(1 for v in valences if v == 0)
    intensity = positive + negative + neutral
    return total / math.sqrt(total * total + NORMALISATION_ALPHA), positive / intensity, negative / intensity


def clause_valences(words: list[str]) -> list[float]:
    """Valence per word of one clause. German negates forwards ("nicht gut": the next few words) and, at the end
    of a clause, backwards ("funktioniert einfach nicht": the last opinion word before it)."""
    valences: list[float] = []
    negated_until = -1
    for index, word in enumerate(words):
        if word in GERMAN_NEGATIONS:
            opinions = [i for i, v in enumerate(valences) if v]
            if index == len(words) - 1 and opinions:
                valences[opinions[-1]] = -valences[opinions[-1]]
            negated_until = index + NEGATION_REACH
            continue
        valences.append(german_polarity(word) * german_to_vader_scale() * (-1 if index <= negated_until else 1))
    return valences


def summed_valence(compound: float) -> float:
    """Invert VADER's normalisation compound = s / sqrt(s² + alpha) to get the summed valence s back."""
    compound = max(min(compound, 0.999), -0.999)
    return compound * math.sqrt(NORMALISATION_ALPHA / (1 - compound * compound))


@cache
def german_to_vader_scale() -> float:
    """German polarities lie in [-1, 1], VADER valences in [-4, 4]: scale by the ratio of mean magnitudes so a
    typical German opinion word weighs as much as a typical English one."""
    vader_mean = sum(abs(v) for v in _vader().lexicon.values()) / len(_vader().lexicon)
    german = german_polarity_lexicon()
    return vader_mean / (sum(abs(v) for v in german.values()) / len(german))


def lexicon_scores(text: str, language: str) -> LexiconScores:
    """German lexicon for German text, VADER for everything else (English and undetermined)."""
    return german_scores(text) if language == "de" else vader_scores(text)


def lexicon_label(compound: float) -> str:
    if compound >= COMPOUND_THRESHOLD:
        return POSITIVE
    if compound <= -COMPOUND_THRESHOLD:
        return NEGATIVE
    return NEUTRAL
