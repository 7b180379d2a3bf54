"""Train the default sentiment head and record its measured quality: `python -m ml.train_sentiment`.

Data: every `ml/data/sentiment/*.csv` with columns text, mean_rating (human rating on -4..+4), language, source
(see ml/data/README.md for what ships and its licence). A rating of at most -0.5 is negative, at least +0.5
positive, in between neutral. A fixed quarter of the texts, chosen by text hash so the split never changes
between runs or machines, is held out for evaluation and never trained on.

Output: `ml/data/sentiment_head.json` (the head's weights and, under "quality", macro-F1 per language of the head
and of the lexicon baseline on the held-out split). Training is deterministic up to
floating-point rounding in multi-threaded encoding: a re-run changes weights in the fourth decimal and leaves the
held-out figures as they were.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import polars as pl
from sklearn.linear_model import LogisticRegressionCV
from sklearn.metrics import accuracy_score, f1_score

from ml.language import GERMAN, detect_language
from ml.sentiment import HEAD_PATH, DEFAULT_MODEL_ID, MiniLMEncoder, SentimentHead, head_features, shared_encoder
from ml.sentiment_lexicon import LABELS, NEGATIVE, NEUTRAL, POSITIVE, lexicon_label, lexicon_scores

CORPUS_DIR = Path(__file__).resolve().parent / "data" / "sentiment"
RATING_THRESHOLD = 0.5
HELD_OUT_SHARE = 0.25
# Candidate inverse regularisation strengths; 5-fold cross-validation on the training texts picks one (the
# held-out texts are never used for this choice).
REGULARISATION_CANDIDATES = (0.05, 0.1, 0.2, 0.5, 1.0)
CV_FOLDS = 5


def rating_label(mean_rating: float) -> str:
    if mean_rating <= -RATING_THRESHOLD:
        return NEGATIVE
    if mean_rating >= RATING_THRESHOLD:
        return POSITIVE
    return NEUTRAL


def is_held_out(text: str) -> bool:
    """Stable split: the first byte of the text's SHA-256 decides, independent of file order."""
    return hashlib.sha256(text.encode("utf-8")).digest()[0] < 256 * HELD_OUT_SHARE


def load_corpus(corpus_dir: Path = CORPUS_DIR) -> pl.DataFrame:
    """All labelled texts with `label` and `held_out` columns."""
    frames = [pl.read_csv(path, schema_overrides={"mean_rating": pl.Float64}) for path in sorted(corpus_dir.glob("*.csv"))]
    corpus = pl.concat(frames, how="vertical_relaxed").filter(pl.col("text").str.strip_chars() != "")
    return corpus.with_columns(
        pl.col("mean_rating").map_elements(rating_label, return_dtype=pl.Utf8).alias("label"),
        pl.col("text").map_elements(is_held_out, return_dtype=pl.Boolean).alias("held_out"),
    )


def macro_f1(truth: list[str], predicted: list[str]) -> float:
    return round(float(f1_score(truth, predicted, labels=list(LABELS), average="macro", zero_division=0)), 4)


def lexicon_baseline(texts: list[str]) -> list[str]:
    return [lexicon_label(lexicon_scores(text, detect_language(text))[0]) for text in texts]


def evaluate(head: SentimentHead, features: np.ndarray, held_out: pl.DataFrame) -> dict:
    """Macro-F1 and accuracy of head and lexicon baseline per language of the held-out texts."""
    predicted = [head.classes[i] for i in head.probabilities(features).argmax(axis=1)]
    baseline = lexicon_baseline(held_out["text"].to_list())
    scored = held_out.with_columns(pl.Series("predicted", predicted), pl.Series("baseline", baseline))
    quality = {}
    for (language,), group in scored.group_by("language", maintain_order=True):
        truth = group["label"].to_list()
        quality[language] = {
            "texts": group.height,
            "macro_f1": macro_f1(truth, group["predicted"].to_list()),
            "accuracy": round(float(accuracy_score(truth, group["predicted"].to_list())), 4),
            "baseline_macro_f1": macro_f1(truth, group["baseline"].to_list()),
            "baseline": "VADER" if language == "en" else "German Polarity Lexicon",
            "sources": sorted(set(group["source"].to_list())),
        }
    return quality


def train(corpus: pl.DataFrame, encoder: MiniLMEncoder) -> SentimentHead:
    """Fit the head on the training texts, plus a copy of every third one with the "no evidence" embedding that
    German texts get at inference, so the head also learns to decide from the lexicon features alone."""
    width = encoder.model.config.hidden_size
    features = head_features(encoder, corpus["text"].to_list(), np.zeros(width, dtype=np.float32))
    held_out = corpus["held_out"].to_numpy()
    german = np.array([detect_language(text) == GERMAN for text in corpus["text"].to_list()])
    german_embedding = features[~held_out & ~german, :width].mean(axis=0)
    features[german, :width] = german_embedding
    train_rows = np.flatnonzero(~held_out)
    lexicon_only = features[train_rows[::3]].copy()
    lexicon_only[:, :width] = german_embedding
    labels = corpus["label"].to_numpy()
    classifier = LogisticRegressionCV(
        Cs=list(REGULARISATION_CANDIDATES), l1_ratios=(0.0,), cv=CV_FOLDS, scoring="f1_macro",
        class_weight="balanced", max_iter=5000, use_legacy_attributes=False,
    )
    classifier.fit(np.vstack([features[train_rows], lexicon_only]), np.concatenate([labels[train_rows], labels[train_rows[::3]]]))
    head = SentimentHead(tuple(classifier.classes_), classifier.coef_, classifier.intercept_, german_embedding, {})
    quality = {
        "model_id": DEFAULT_MODEL_ID,
        "encoder": MiniLMEncoder.name,
        "trained_on_texts": len(train_rows),
        "regularisation_c": float(classifier.C_),
        "held_out": evaluate(head, features[held_out], corpus.filter(pl.col("held_out"))),
    }
    return dataclasses.replace(head, quality=quality)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=HEAD_PATH)
    args = parser.parse_args(argv)
    head = train(load_corpus(), shared_encoder())
    args.output.write_text(head.to_json(), encoding="utf-8")
    for language, figures in head.quality["held_out"].items():
        print(f"{language}: macro-F1 {figures['macro_f1']} vs {figures['baseline']} {figures['baseline_macro_f1']} "
              f"on {figures['texts']} held-out texts")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
