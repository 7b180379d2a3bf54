"""Voice-of-the-customer quality and speed: `run()` returns the figures `make bench` prints.

* accuracy and macro-F1 per dev set (source) of the default sentiment model, VADER / the German lexicon and
  the majority class on the held-out split of the shipped real labelled texts (recomputed here from the
  committed head, not copied from the training log);
* the same on the hand-written German/English sample (`ml/data/topic_sample.csv`; written by the project, so a
  sanity check rather than a quality claim), and topic accuracy on that sample;
* accuracy and macro-F1 on public dev sets like issue 14's held-out sets (`tests/benchmarks/sentiment_dev_sets.py`,
  not shipped; set CX_SENTIMENT_DEV_DIR), with the majority class, the lexicon, the confusion matrix, the
  language detection rate and a ceiling: what a head trained on that dev set itself reaches under 5-fold
  cross-validation (same features), i.e. how far the encoder's features can go on that kind of text at all.
  Binary sets are scored as binary: the sign of P(positive) - P(negative) decides. On the 3-class sets also the
  company adaptation (`ml.sentiment_adaptation.adapt_head`) fed with the set's labelled texts as if they were
  scored survey comments: held-out macro-F1 before and after, i.e. what a company's own labels can add;
* model load time (a fresh process, imports included), peak memory of the sentiment work, and texts/second
  for short texts (one chat message or survey comment each) through the
  default model, first pass, no cache: wall clock and per CPU-second (the second is what an idle machine gives
  per core; on a shared machine the wall figure mostly measures the neighbours);
* when `data/demo_truth/texts.parquet` exists: agreement with the demo generator's intended sentiment and topic.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from cx_core.settings import REPO_ROOT, get_settings
from cx_core.sources.contracts import CONTRACTS
from cx_core.sources.reader import quote_identifier
from ml.language import detect_language
from ml.sentiment import EncoderHeadModel, scores_from_probabilities, shared_multilingual_encoder
from ml.sentiment_adaptation import adapt_head
from ml.sentiment_lexicon import LABELS, NEGATIVE, POSITIVE
from ml.topics import TOPIC_SAMPLE, TopicClassifier, load_topics
from ml.train_sentiment import accuracy, binary_label, evaluate, is_held_out, lexicon_baseline, load_corpus, macro_f1
from tests.benchmarks.sentiment_dev_sets import load_dev_sets

SHORT_TEXTS = 2_000
DEMO_SAMPLE = 3_000
TARGET_TEXTS_PER_SECOND = 250
CEILING_FOLDS = 5
COLD_LOAD = "from ml.language import ngram_language; from ml.sentiment import EncoderHeadModel; " \
    "EncoderHeadModel(); ngram_language('warm up the n-gram model')"


def held_out_quality(model: EncoderHeadModel) -> dict[str, float]:
    held_out = load_corpus().filter(pl.col("held_out"))
    quality = evaluate(model.head, model.features(held_out["text"].to_list()), held_out)
    figures = {}
    for source, values in quality.items():
        for name in ("texts", "accuracy", "macro_f1", "baseline_accuracy", "baseline_macro_f1", "majority_accuracy",
                     "majority_macro_f1"):
            figures[f"held_out_{source}_{name}"] = values[name]
    return figures


def labelled_agreement(model: EncoderHeadModel, frame: pl.DataFrame, prefix: str) -> dict[str, float]:
    """Sentiment macro-F1 (model and lexicon) per language and topic accuracy on a frame with intended labels."""
    texts = frame["text"].to_list()
    predicted = [label for label, _ in model.predict(texts)]
    baseline = lexicon_baseline(texts)
    topics = TopicClassifier(load_topics(), shared_multilingual_encoder()).classify(texts, predicted) if "topic" in frame.columns else None
    scored = frame.with_columns(
        pl.Series("predicted", predicted),
        pl.Series("baseline", baseline),
        pl.Series("predicted_topic", [d.topic for d in topics] if topics else [None] * frame.height, dtype=pl.Utf8),
    )
    figures: dict[str, float] = {}
    for (language,), group in scored.group_by("language", maintain_order=True):
        truth = group["sentiment"].to_list()
        figures[f"{prefix}_{language}_macro_f1"] = macro_f1(truth, group["predicted"].to_list())
        figures[f"{prefix}_{language}_baseline_macro_f1"] = macro_f1(truth, group["baseline"].to_list())
        figures[f"{prefix}_{language}_sentiment_accuracy"] = round((group["predicted"] == group["sentiment"]).mean(), 4)
        if topics:
            figures[f"{prefix}_{language}_topic_accuracy"] = round((group["predicted_topic"] == group["topic"]).mean(), 4)
    return figures


def dev_set_quality(model: EncoderHeadModel, name: str, dev: pl.DataFrame) -> dict[str, object]:
    """Model, lexicon and majority class on one public dev set, the confusion matrix, language detection and the
    in-domain ceiling."""
    texts, truth = dev["text"].to_list(), dev["label"].to_list()
    features = model.features(texts)
    probabilities = model.probabilities_from_features(features, texts)
    labels = sorted(set(truth))
    binary = labels == [NEGATIVE, POSITIVE]
    if binary:
        predicted = [binary_label(score) for _, score in scores_from_probabilities(model.head.classes, probabilities)]
        baseline = [POSITIVE if label == POSITIVE else NEGATIVE for label in lexicon_baseline(texts)]
    else:
        predicted = [model.head.classes[i] for i in probabilities.argmax(axis=1)]
        baseline = lexicon_baseline(texts)
    majority = [max(labels, key=truth.count)] * len(truth)
    folds = StratifiedKFold(CEILING_FOLDS, shuffle=True, random_state=0)
    ceiling = cross_val_predict(LogisticRegression(C=1.0, class_weight="balanced", max_iter=3000), features,
                                np.array(truth), cv=folds)
    return {
        f"dev_{name}_texts": len(truth),
        f"dev_{name}_accuracy": accuracy(truth, predicted),
        f"dev_{name}_macro_f1": macro_f1(truth, predicted),
        f"dev_{name}_lexicon_accuracy": accuracy(truth, baseline),
        f"dev_{name}_lexicon_macro_f1": macro_f1(truth, baseline),
        f"dev_{name}_majority_accuracy": accuracy(truth, majority),
        f"dev_{name}_majority_macro_f1": macro_f1(truth, majority),
        f"dev_{name}_confusion_rows_truth_{'_'.join(labels)}":
            confusion_matrix(truth, predicted, labels=labels).tolist(),
        f"dev_{name}_in_domain_ceiling_macro_f1": macro_f1(truth, ceiling.tolist()),
        f"dev_{name}_language_detected": accuracy(dev["language"].to_list(), [detect_language(t) for t in texts]),
    }


def company_adaptation(model: EncoderHeadModel, name: str, dev: pl.DataFrame) -> dict[str, object]:
    """The dev set's texts as labelled company comments: adaptation's held-out macro-F1 before and after."""
    examples = dev.select("text", "label").unique("text", keep="first", maintain_order=True).with_columns(
        pl.col("text").map_elements(is_held_out, return_dtype=pl.Boolean).alias("held_out")
    )
    card = adapt_head(model.head, model.encoder, examples).card
    return {f"dev_{name}_adaptation_{key}": card[key] for key in
            ("training_comments", "held_out_comments", "macro_f1_before", "macro_f1_after")}


def public_dev_sets(model: EncoderHeadModel) -> dict[str, object]:
    location = os.environ.get("CX_SENTIMENT_DEV_DIR")
    if not location:
        print("bench_sentiment: set CX_SENTIMENT_DEV_DIR to score the public dev sets (skipped)")
        return {}
    figures: dict[str, object] = {}
    for name, dev in load_dev_sets(Path(location)).items():
        figures |= dev_set_quality(model, name, dev)
        if dev["label"].n_unique() == len(LABELS):
            figures |= company_adaptation(model, name, dev)
    return figures


def short_text_speed(model: EncoderHeadModel, language: str) -> dict[str, float]:
    """Texts/second (wall clock and per CPU-second of this process) on the held-out texts of one language, the
    first SHORT_TEXTS of them (tweets, review sentences and subtitles: tweet length)."""
    held_out = load_corpus().filter(pl.col("held_out") & (pl.col("language") == language))
    texts = held_out["text"].head(SHORT_TEXTS).to_list()
    wall, cpu = time.perf_counter(), time.process_time()
    model.predict(texts)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        f"short_texts_{language}": len(texts),
        f"short_text_{language}_mean_characters": round(sum(map(len, texts)) / len(texts), 1),
        f"short_texts_per_second_{language}_wall": round(len(texts) / wall, 1),
        f"short_texts_per_cpu_second_{language}": round(len(texts) / cpu, 1),
    }


def text_column_sql(field: str) -> str:
    """SQL for one truth `field`: a plain text column, or `messages[k]` (1-based) of a chat's message list."""
    match = re.fullmatch(r"(\w+)\[(\d+)\]", field)
    return f"{quote_identifier(match[1])}[{int(match[2])}].text" if match else quote_identifier(field)


def demo_truth() -> pl.DataFrame | None:
    """The generator's intended sentiment and topic per demo text, joined to the text in the raw exports."""
    settings = get_settings()
    path = settings.demo_truth_dir / "texts.parquet"
    if not path.exists():
        return None
    truth = pl.read_parquet(path)
    selects = [
        f"SELECT '{source}' AS source, {quote_identifier(CONTRACTS[source].primary_key[0])} AS record_id, "
        f"'{field}' AS field, {text_column_sql(field)} AS text "
        f"FROM read_parquet('{settings.raw_dir / source}/**/*.parquet', union_by_name=true)"
        for source, field in truth.select("source", "field").unique().iter_rows()
    ]
    with duckdb.connect() as connection:
        texts = connection.sql(" UNION ALL ".join(selects)).pl()
    joined = truth.join(texts, on=["source", "record_id", "field"]).rename({"intended_sentiment": "sentiment"})
    joined = joined.filter(pl.col("text").is_not_null() & pl.col("sentiment").is_in(LABELS))
    return joined.sample(n=min(DEMO_SAMPLE, joined.height), seed=0)


def cold_load() -> dict[str, float]:
    """Seconds for a fresh process to import the sentiment code, load the model and detect one language with the
    n-gram model (what a Dagster step pays before its first text): wall clock and CPU (user + system) of that
    process; on a shared machine the wall figure mostly measures the neighbours."""
    before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run([sys.executable, "-c", COLD_LOAD], check=True, cwd=REPO_ROOT)
    wall, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "model_load_seconds_cold_process_wall": round(wall, 2),
        "model_load_cpu_seconds_cold_process": round(cpu, 2),
    }


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # ru_maxrss is in KiB on Linux


def run() -> dict[str, object]:
    figures: dict[str, object] = cold_load()
    started = time.perf_counter()
    model = EncoderHeadModel()
    figures["model_load_seconds_warm_imports"] = round(time.perf_counter() - started, 2)
    figures |= short_text_speed(model, "en") | short_text_speed(model, "de")
    figures["target_texts_per_second"] = TARGET_TEXTS_PER_SECOND
    figures |= public_dev_sets(model)
    figures |= held_out_quality(model)
    # before the topic classifier runs: the sentiment step's own memory
    figures["peak_rss_mb_sentiment"] = peak_rss_mb()
    figures |= labelled_agreement(model, pl.read_csv(TOPIC_SAMPLE), "handwritten")
    truth = demo_truth()
    if truth is not None:
        figures |= labelled_agreement(model, truth, "demo")
    figures["peak_rss_mb_with_topics"] = peak_rss_mb()
    return figures


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name:>45}: {value}")
