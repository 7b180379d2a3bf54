"""Topic, urgency and routing team per text touchpoint (`ml_text_insights`), in two parts so a daily refresh
computes only the new day's texts (issue 19):

* per distinct text, a pure function of the text and versioned rules: the topic evidence (`ml.topics`: keywords,
  else the nearest topic description by the multilingual encoder, the slow part) and the explicit urgency
  signal (`ml.urgency`: safety, legal or cancellation words). These are kept in the text cache
  (`ml.text_cache.TEXT_INSIGHTS`) under `evidence_version`;
* per touchpoint, cheap and recomputed on every run because it depends on more than the text: the topic of a
  text without evidence by its sentiment (`praise` or `other`), the customer's contacts in the last 7 days,
  urgency with its reason, and the team.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl

from ml import topics, urgency
from ml.topics import TopicClassifier, TopicDecision, with_sentiment
from ml.urgency import ESCALATIONS_TEAM, contacts_in_window, explicit_signal, urgency_of_signal

INSIGHT_SCHEMA = {"touchpoint_id": pl.Utf8, "topic": pl.Utf8, "topic_label": pl.Utf8, "topic_score": pl.Float64,
                  "urgency": pl.Utf8, "urgency_reason": pl.Utf8, "routing_team": pl.Utf8}


def evidence_version(classifier: TopicClassifier, encoder_version: str) -> str:
    """Changes whenever a text's evidence could: the topic set (keywords, descriptions), the code of `ml.topics`
    and `ml.urgency` (thresholds, signal words) or the encoder."""
    rules = (repr(classifier.topics).encode() + Path(topics.__file__).read_bytes()
             + Path(urgency.__file__).read_bytes())
    return f"{encoder_version}+rules-{hashlib.sha256(rules).hexdigest()[:12]}"


def text_evidence(texts: pl.DataFrame, classifier: TopicClassifier) -> pl.DataFrame:
    """(text_hash, text) rows -> text_hash, topic, topic_score, topic_method, signal, signal_words: the values of
    `ml.text_cache.TEXT_INSIGHTS`. Texts are stripped, as they are hashed."""
    stripped = [(text or "").strip() for text in texts["text"].to_list()]
    decisions = classifier.evidence(stripped)
    signals = [explicit_signal(text) or (None, None) for text in stripped]
    return pl.DataFrame(
        {
            "text_hash": texts["text_hash"],
            "topic": [d.topic for d in decisions],
            "topic_score": [d.topic_score for d in decisions],
            "topic_method": [d.method for d in decisions],
            "signal": [name for name, _ in signals],
            "signal_words": [words for _, words in signals],
        },
        schema={"text_hash": pl.Utf8, "topic": pl.Utf8, "topic_score": pl.Float64, "topic_method": pl.Utf8,
                "signal": pl.Utf8, "signal_words": pl.Utf8},
    )


# What a touchpoint's insight depends on besides its id: its sentiment and direction, the customer's recent contacts
# and its text's evidence. Few combinations occur (~7,300 of ~138,000 text touchpoints at 100k customers), so each
# is decided once (issue 19).
DECISION_INPUTS = ("sentiment", "direction", "contacts", "evidence_topic", "evidence_score", "evidence_method",
                   "signal", "signal_words")
DECISION_SCHEMA = {name: dtype for name, dtype in INSIGHT_SCHEMA.items() if name != "touchpoint_id"} | {
    "topic_method": pl.Utf8}


def decision(classifier: TopicClassifier, sentiment: str | None, direction: str | None, contacts: int,
             topic: str, score: float, method: str, signal: str | None, words: str | None) -> tuple:
    """The `DECISION_SCHEMA` values of one combination of `DECISION_INPUTS`."""
    decided = with_sentiment(TopicDecision(topic, score, method), sentiment)
    assessed = urgency_of_signal((signal, words) if signal else None, sentiment, decided.topic, contacts,
                                 inbound=direction != "outbound")
    team = ESCALATIONS_TEAM if assessed.escalate else classifier.routing_team(decided.topic)
    return (decided.topic, classifier.label(decided.topic), decided.topic_score, assessed.urgency, assessed.reason,
            team, decided.method)


def text_insights(touchpoints: pl.DataFrame, evidence: pl.DataFrame, classifier: TopicClassifier) -> pl.DataFrame:
    """`touchpoints` (touchpoint_id, customer_key, occurred_at, sentiment, direction, text_hash) with `evidence`
    (`text_evidence` rows of their texts) -> one row per touchpoint, in input order: `INSIGHT_SCHEMA` plus
    `topic_method` (keywords | nearest_topic | sentiment | fallback)."""
    rows = touchpoints.with_columns(contacts=contacts_in_window(touchpoints)).join(
        evidence.rename({"topic": "evidence_topic", "topic_score": "evidence_score",
                         "topic_method": "evidence_method"}),
        on="text_hash", how="left", maintain_order="left",
    )
    combinations = rows.select(DECISION_INPUTS).unique(maintain_order=True)
    decided = pl.DataFrame([decision(classifier, *inputs) for inputs in combinations.iter_rows()],
                           schema=DECISION_SCHEMA, orient="row")
    return rows.join(pl.concat([combinations, decided], how="horizontal"), on=list(DECISION_INPUTS), how="left",
                     maintain_order="left", nulls_equal=True).select("touchpoint_id", *DECISION_SCHEMA)
