"""Adapt the sentiment head to one company's own words, using survey comments whose score is the label.

A detractor's comment (NPS 0-6, CSAT 1-2) is negative, a promoter's (NPS 9-10, CSAT 4-5) positive; passives
(NPS 7-8, CSAT 3) are neutral but count half, because a passive often writes a mixed comment. CES and other
survey types carry no sentiment direction and are not used.

Guards:
* leakage: comments are deduplicated by text first, and a text that got contradicting labels is dropped; the
  held-out slice is chosen by text hash (`ml.train_sentiment.is_held_out`), so the same words never sit on both
  sides and the split does not move between refreshes;
* too few comments: without `MIN_COMMENTS_PER_LABEL` training comments for every label and as many held-out
  comments, the shipped head is kept;
* no gain: the adapted head is adopted only when its held-out macro-F1 beats the shipped head's.

The adapted head is a stack: a logistic regression on the shipped head's logits plus the head features. Both
parts are linear in the features, so it folds back into one `SentimentHead` of the shipped shape.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import polars as pl
# scikit-learn: imported in the functions that use it, not here. The Dagster definitions import this module, and
# every `cx run` paid for the import at start-up, before its first step (issue 19, tests/test_definitions_imports.py).

from ml.sentiment import MultilingualEncoder, SentimentHead, head_features
from ml.sentiment_lexicon import LABELS, NEGATIVE, NEUTRAL, POSITIVE
from ml.train_sentiment import head_labels, is_held_out, macro_f1

MIN_COMMENTS_PER_LABEL = 20
PASSIVE_WEIGHT = 0.5
# Stronger regularisation than the shipped head: a company has hundreds of comments, not thousands.
ADAPTATION_C = 0.1


def survey_label(survey_type: str | None, score: float | None) -> str | None:
    if score is None:
        return None
    if survey_type == "nps":
        return NEGATIVE if score <= 6 else POSITIVE if score >= 9 else NEUTRAL
    if survey_type == "csat":
        return NEGATIVE if score <= 2 else POSITIVE if score >= 4 else NEUTRAL
    return None


def survey_examples(responses: pl.DataFrame) -> pl.DataFrame:
    """(text, label, held_out) per distinct comment of `responses` (survey_type, score, comment)."""
    labelled = responses.select(
        pl.col("comment").str.strip_chars().alias("text"),
        pl.struct("survey_type", "score").map_elements(
            lambda row: survey_label(row["survey_type"], row["score"]), return_dtype=pl.Utf8
        ).alias("label"),
    ).filter(pl.col("text").is_not_null() & (pl.col("text") != "") & pl.col("label").is_not_null())
    consistent = labelled.group_by("text", maintain_order=True).agg(pl.col("label").unique()).filter(
        pl.col("label").list.len() == 1
    )
    return consistent.with_columns(
        pl.col("label").list.first(),
        pl.col("text").map_elements(is_held_out, return_dtype=pl.Boolean).alias("held_out"),
    )


@dataclass(frozen=True)
class Adaptation:
    head: SentimentHead  # the adapted head when adopted, else the shipped one
    card: dict


def too_few(labels: list[str]) -> bool:
    return any(labels.count(label) < MIN_COMMENTS_PER_LABEL for label in LABELS)


def adapt_head(head: SentimentHead, encoder: MultilingualEncoder, examples: pl.DataFrame) -> Adaptation:
    from sklearn.linear_model import LogisticRegression
    train, held_out = examples.filter(~pl.col("held_out")), examples.filter(pl.col("held_out"))
    card: dict = {"comments": examples.height, "training_comments": train.height, "held_out_comments": held_out.height,
                  "min_comments_per_label": MIN_COMMENTS_PER_LABEL, "macro_f1_before": None, "macro_f1_after": None}
    if too_few(train["label"].to_list()) or too_few(held_out["label"].to_list()):
        return Adaptation(head, card | {"adopted": False, "reason": "too few comments per label"})
    train_features = head_features(encoder, train["text"].to_list())
    logits = train_features @ head.coef.T + head.intercept
    weights = np.where(train["label"].to_numpy() == NEUTRAL, PASSIVE_WEIGHT, 1.0)
    stacked = LogisticRegression(C=ADAPTATION_C, class_weight="balanced", max_iter=5000)
    stacked.fit(np.hstack([logits, train_features]), train["label"].to_numpy(), sample_weight=weights)
    on_logits, on_features = stacked.coef_[:, : len(head.classes)], stacked.coef_[:, len(head.classes):]
    adapted = SentimentHead(
        tuple(stacked.classes_),
        on_logits @ head.coef + on_features,
        on_logits @ head.intercept + stacked.intercept_,
        dict(head.quality),
    )
    texts, truth = held_out["text"].to_list(), held_out["label"].to_list()
    features = head_features(encoder, texts)
    before = macro_f1(truth, head_labels(head, features, texts))
    after = macro_f1(truth, head_labels(adapted, features, texts))
    card |= {"macro_f1_before": before, "macro_f1_after": after, "adopted": after > before,
             "reason": "held-out macro-F1 improved" if after > before else "no held-out gain: shipped head kept"}
    if after <= before:
        return Adaptation(head, card)
    return Adaptation(dataclasses.replace(adapted, quality=adapted.quality | {"company_adaptation": card}), card)
