"""Topic of a customer text from the topic set in `seeds/text_topics.csv`.

Method, in order:
1. Keywords: each topic's English and German keyword stems (seed column `keywords`) matched at word starts;
   the topic with most hits wins (ties go to the topic whose description is most similar). A stem like
   "rückerstatt" is unambiguous, and keyword hits are easy to explain to an agent.
2. Nearest topic: a text without keyword hits (or with a tie) is embedded with the multilingual sentence encoder
   (Universal Sentence Encoder v3, German and English in one space, `ml.sentiment.shared_multilingual_encoder`)
   and compared (cosine) with the embedding of each topic's descriptions (English and German averaged). The
   nearest topic wins if it is at least `MIN_SIMILARITY` similar; `other` has a description too ("newsletters,
   website or app problems, ..."), so a text nearest to it stays `other`.
3. Otherwise `praise` when the text's sentiment is positive (thanks without a specific issue), else `other`:
   text unrelated to every topic.

`topic_score` is the confidence in [0, 1]: the winning topic's share of all keyword hits, or its cosine
similarity for a nearest-topic decision, or 0 for the fallbacks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import polars as pl

from ml.sentiment_lexicon import POSITIVE

TOPICS_SEED = Path(__file__).resolve().parent.parent / "seeds" / "text_topics.csv"
# Hand-written German/English texts with their intended topic and sentiment (see ml/data/README.md).
TOPIC_SAMPLE = Path(__file__).resolve().parent / "data" / "topic_sample.csv"
OTHER = "other"
PRAISE = "praise"
# Cosine similarity below which the nearest description is no evidence: 92 % of 4,200 general tweets (the Hutto &
# Gilbert tweets in ml/data/sentiment, chatter about anything but a shop) are less similar to every topic.
MIN_SIMILARITY = 0.15


class TextEncoder(Protocol):
    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One embedding per text, in input order."""


@dataclass(frozen=True)
class Topic:
    topic: str
    label: str
    description_en: str
    description_de: str
    keywords: tuple[str, ...]
    routing_team: str


@dataclass(frozen=True)
class TopicDecision:
    topic: str
    topic_score: float
    method: str  # keywords | nearest_topic | sentiment | fallback


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """`vectors` scaled to length 1 per row (cosine similarity is then a dot product)."""
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def load_topics(path: Path = TOPICS_SEED) -> list[Topic]:
    seed = pl.read_csv(path, infer_schema=False).fill_null("")
    return [
        Topic(
            topic=row["topic"],
            label=row["label"],
            description_en=row["description_en"],
            description_de=row["description_de"],
            keywords=tuple(k.strip().casefold() for k in row["keywords"].split("|") if k.strip()),
            routing_team=row["routing_team"],
        )
        for row in seed.iter_rows(named=True)
    ]


def keyword_pattern(keywords: Sequence[str]) -> re.Pattern[str] | None:
    """Stems match at the start of a word; the longest stems are tried first."""
    if not keywords:
        return None
    alternatives = "|".join(re.escape(k) for k in sorted(keywords, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})", re.IGNORECASE)


def with_sentiment(decision: TopicDecision, sentiment: str | None) -> TopicDecision:
    """Step 3: a text without evidence for any topic is `praise` when its sentiment is positive."""
    if decision.method == "fallback" and sentiment == POSITIVE:
        return TopicDecision(PRAISE, 0.0, "sentiment")
    return decision


class TopicClassifier:
    def __init__(self, topics: Sequence[Topic], encoder: TextEncoder) -> None:
        self.topics = list(topics)
        self.encoder = encoder
        self.patterns = [keyword_pattern(t.keywords) for t in self.topics]
        descriptions = unit_rows(encoder.encode([d for t in self.topics for d in (t.description_en, t.description_de)]))
        self.centroids = unit_rows(descriptions.reshape(len(self.topics), 2, -1).mean(axis=1))

    def keyword_hits(self, text: str) -> np.ndarray:
        return np.array([len(p.findall(text)) if p else 0 for p in self.patterns])

    def classify(self, texts: Sequence[str], sentiments: Sequence[str] | None = None) -> list[TopicDecision]:
        return [
            with_sentiment(decision, sentiments[i] if sentiments is not None else None)
            for i, decision in enumerate(self.evidence(texts))
        ]

    def evidence(self, texts: Sequence[str]) -> list[TopicDecision]:
        """The decision of steps 1 and 2, from the text alone; `fallback` where neither found evidence."""
        hits = np.array([self.keyword_hits(text) for text in texts]).reshape(len(texts), len(self.topics))
        # Only texts that need similarity (ties or no keyword at all) are embedded: that is the slow part.
        needs_similarity = [i for i in range(len(texts)) if texts[i] and (hits[i] == hits[i].max()).sum() != 1]
        similarity = np.zeros((len(texts), len(self.topics)))
        if needs_similarity:
            embeddings = unit_rows(self.encoder.encode([texts[i] for i in needs_similarity]))
            similarity[needs_similarity] = embeddings @ self.centroids.T
        return [self._decide(hits[i], similarity[i]) for i in range(len(texts))]

    def _decide(self, hits: np.ndarray, similarity: np.ndarray) -> TopicDecision:
        if hits.max() > 0:
            best = int(np.argmax(hits + similarity * (hits == hits.max())))
            return TopicDecision(self.topics[best].topic, round(float(hits[best] / hits.sum()), 4), "keywords")
        best = int(np.argmax(similarity))
        if similarity[best] >= MIN_SIMILARITY:
            return TopicDecision(self.topics[best].topic, round(float(similarity[best]), 4), "nearest_topic")
        return TopicDecision(OTHER, 0.0, "fallback")

    def accuracy(self, labelled: pl.DataFrame) -> float:
        """Share of `labelled` (text, topic, sentiment) whose topic this classifier gets right."""
        decisions = self.classify(labelled["text"].to_list(), labelled["sentiment"].to_list())
        return round(sum(d.topic == t for d, t in zip(decisions, labelled["topic"].to_list())) / max(labelled.height, 1), 4)

    def routing_team(self, topic: str) -> str:
        return next(t.routing_team for t in self.topics if t.topic == topic)

    def label(self, topic: str) -> str:
        """The topic's name for people ("Returns & refunds")."""
        return next(t.label for t in self.topics if t.topic == topic)
