"""Sentiment: hub label mapping, language handling, lexicon, cache, known answers and the incremental asset."""

from datetime import datetime, timedelta

import dagster as dg
import duckdb
import numpy as np
import polars as pl
import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

from dagster_project.defs.assets.ml_text import ml_sentiment, ml_text_insights
from dagster_project.defs.resources import pipeline_resources
from ml.language import detect_language, resolve_language
from ml.sentiment import (
    DEFAULT_MODEL_ID,
    HubModel,
    MiniLMEncoder,
    canonical_label,
    load_sentiment_model,
    scores_from_probabilities,
)
from ml.sentiment_lexicon import german_scores, lexicon_label
from ml.text_cache import TextCache, text_hash, with_text_hash
from tests.helpers.settings_env import point_settings_at


@pytest.mark.parametrize(
    ("label", "index", "num_labels", "expected"),
    [
        ("LABEL_0", 0, 3, "negative"), ("LABEL_1", 1, 3, "neutral"), ("LABEL_2", 2, 3, "positive"),
        ("LABEL_0", 0, 2, "negative"), ("LABEL_1", 1, 2, "positive"),
        ("LABEL_1", 1, 5, "negative"), ("LABEL_2", 2, 5, "neutral"), ("LABEL_4", 4, 5, "positive"),
        ("1 star", 0, 5, "negative"), ("2 stars", 1, 5, "negative"), ("3 stars", 2, 5, "neutral"),
        ("4 stars", 3, 5, "positive"), ("5 stars", 4, 5, "positive"),
        ("negative", 0, 3, "negative"), ("Neutral", 1, 3, "neutral"), ("POSITIVE", 2, 3, "positive"),
        ("neg", 0, 3, "negative"), ("pos", 2, 3, "positive"), ("negativ", 0, 3, "negative"), ("positiv", 2, 3, "positive"),
    ],
)
def test_hub_labels_map_to_ours(label, index, num_labels, expected):
    assert canonical_label(label, index, num_labels) == expected


def test_unknown_hub_label_is_an_error_not_a_guess():
    with pytest.raises(ValueError, match="joy"):
        canonical_label("joy", 0, 6)


def test_star_probabilities_fold_into_three_labels():
    classes = [canonical_label(f"{n} stars", n - 1, 5) for n in range(1, 6)]
    # negative = 0.1 + 0.2, neutral = 0.1, positive = 0.3 + 0.3 -> positive, score 0.6 - 0.3
    [(label, score)] = scores_from_probabilities(classes, np.array([[0.1, 0.2, 0.1, 0.3, 0.3]]))
    assert label == "positive"
    assert score == pytest.approx(0.3)


def test_hub_model_from_a_local_directory_uses_its_labels(tmp_path):
    """A real (tiny, randomly initialised) transformers classifier with LABEL_k names, loaded like a hub id."""
    torch.manual_seed(0)
    config = BertConfig(vocab_size=30522, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, num_labels=3)
    BertForSequenceClassification(config).save_pretrained(tmp_path)
    MiniLMEncoder().tokenizer.save_pretrained(tmp_path)

    model = load_sentiment_model(str(tmp_path))

    assert isinstance(model, HubModel)
    assert model.classes == ("negative", "neutral", "positive")
    assert model.model_version == f"{tmp_path}@local"
    predictions = model.predict(["Das Paket ist nie angekommen 😡", "great service", "ß"])
    assert [label for label, _ in predictions] and all(label in model.classes for label, _ in predictions)
    assert all(-1.0 <= score <= 1.0 for _, score in predictions)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Meine Rücksendung ist immer noch nicht erstattet", "de"),
        ("Straße gesperrt, Paket kommt später?", "de"),
        ("ich hab mein passwort vergessen 🙄🙄", "de"),
        ("Where is my parcel? Still nothing 😡", "en"),
        ("thanks a lot, love the jacket", "en"),
        ("", "und"),
        ("😡😡😡", "und"),
        ("Sneaker X2 #12345", "und"),
    ],
)
def test_language_detection(text, expected):
    assert detect_language(text) == expected


def test_declared_language_is_the_fallback_only_for_inconclusive_text():
    assert resolve_language("👍", "de-AT") == "de"
    assert resolve_language("👍", None) == "und"
    assert resolve_language("thank you so much", "de") == "en"


def test_german_lexicon_handles_negation_inflection_and_emojis():
    assert german_scores("Das ist gut")[0] > 0
    assert german_scores("Das ist nicht gut")[0] < 0
    assert german_scores("schlechter Kundenservice")[0] < 0  # inflected form of "schlecht"
    assert german_scores("Danke 😊")[0] > german_scores("Danke")[0]
    assert german_scores("") == (0.0, 0.0, 0.0)
    assert lexicon_label(german_scores("Das ist nicht gut")[0]) == "negative"


@pytest.fixture(scope="module")
def default_model():
    return load_sentiment_model(None)


KNOWN_ANSWERS = [
    ("Die Lieferung ist seit zwei Wochen überfällig, total enttäuschend und keiner antwortet.", "negative"),
    ("Schlechter Service, ich bin wirklich sauer!", "negative"),
    ("Vielen Dank, die Beratung war super freundlich und hilfreich!", "positive"),
    ("Tolle Qualität, ich bin begeistert 😊", "positive"),
    ("This is the worst customer service I have ever had.", "negative"),
    ("The jacket broke after two days, terrible quality.", "negative"),
    ("Thank you so much, the delivery was fast and the staff were lovely!", "positive"),
    ("I love this shop, great prices and friendly people.", "positive"),
]


@pytest.mark.parametrize(("text", "expected"), KNOWN_ANSWERS)
def test_default_model_known_answers(default_model, text, expected):
    [(label, score)] = default_model.predict([text])
    assert label == expected
    assert (score > 0) == (expected == "positive")


def test_default_model_is_offline_and_versioned(default_model):
    assert default_model.model_id == DEFAULT_MODEL_ID
    assert default_model.model_version.startswith("all-MiniLM-L6-v2+head-")
    assert default_model.predict([]) == []


def test_text_hash_ignores_surrounding_whitespace_and_keeps_umlauts_apart():
    assert text_hash("  Größe passt ") == text_hash("Größe passt")
    assert text_hash("Grösse passt") != text_hash("Größe passt")
    assert text_hash(None) == text_hash("")


def test_cache_returns_hits_per_model_version(tmp_path):
    cache = TextCache(tmp_path / "cache" / "sentiment.parquet")
    texts = with_text_hash(pl.DataFrame({"text": ["gut", "schlecht", "gut", "ok"]}))

    hits, misses = cache.split(texts, "v1")
    assert (hits.height, misses["text"].to_list()) == (0, ["gut", "schlecht", "ok"])  # duplicates scored once

    scored = misses.select("text_hash").with_columns(label=pl.lit("neutral"), score=pl.lit(0.0))
    cache.add(scored, "v1")
    hits, misses = cache.split(texts, "v1")
    assert (hits.height, misses.height) == (3, 0)

    hits, misses = cache.split(texts, "v2")  # another model version starts fresh
    assert (hits.height, misses.height) == (0, 3)
    assert cache.read().height == 3


TOUCHPOINT_DDL = """
    CREATE TABLE fct_touchpoints (
        touchpoint_id VARCHAR, customer_key VARCHAR, occurred_at TIMESTAMP, channel VARCHAR, source VARCHAR,
        touchpoint_type VARCHAR, direction VARCHAR, journey_stage VARCHAR, text VARCHAR, language VARCHAR,
        value_eur DOUBLE, conversation_ref VARCHAR
    )
"""
DAY_ONE = [
    ("t1", "c1", "email", "Mein Paket ist nicht angekommen, schlechter Service!", "de"),
    ("t2", "c2", "chat_agent", "Thank you so much, great help!", "en"),
    ("t3", "c1", "social", "Mein Paket ist nicht angekommen, schlechter Service!", "de"),  # same text, scored once
    ("t4", None, "survey", "", None),  # empty comment: neutral, no model call
    ("t5", "c3", "web", None, None),  # no text: not a text touchpoint
]
DAY_TWO = [
    ("t6", "c1", "phone", "Ich schalte jetzt meinen Anwalt ein.", "de"),
    ("t7", "c2", "email", "Thank you so much, great help!", "en"),  # seen yesterday: cache hit
]


def insert_touchpoints(warehouse, rows, day):
    with duckdb.connect(str(warehouse)) as connection:
        connection.executemany(
            "INSERT INTO fct_touchpoints (touchpoint_id, customer_key, occurred_at, channel, source, direction, text,"
            " language) VALUES (?, ?, ?, ?, 'test', 'inbound', ?, ?)",
            [(tid, customer, day + timedelta(minutes=i), channel, text, language)
             for i, (tid, customer, channel, text, language) in enumerate(rows)],
        )


def materialised_metadata(result, asset_name):
    [materialization] = result.asset_materializations_for_node(asset_name)
    return {key: value.value for key, value in materialization.metadata.items()}


@pytest.mark.slow
def test_assets_score_only_new_texts_on_the_next_day(tmp_path, monkeypatch):
    warehouse = tmp_path / "warehouse.duckdb"
    point_settings_at(monkeypatch, tmp_path, CX_WAREHOUSE=str(warehouse), CX_ML_CACHE_DIR=str(tmp_path / "ml_cache"))
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute(TOUCHPOINT_DDL)
    insert_touchpoints(warehouse, DAY_ONE, datetime(2026, 3, 1, 9))

    first = dg.materialize([ml_sentiment, ml_text_insights], resources=pipeline_resources())
    assert first.success
    metadata = materialised_metadata(first, "ml_sentiment")
    assert (metadata["dagster/row_count"], metadata["rows_scored"], metadata["cache_hits"]) == (4, 3, 0)
    assert metadata["macro_f1_en"] > metadata["baseline_macro_f1_en"]

    insert_touchpoints(warehouse, DAY_TWO, datetime(2026, 3, 2, 9))
    second = dg.materialize([ml_sentiment, ml_text_insights], resources=pipeline_resources())
    metadata = materialised_metadata(second, "ml_sentiment")
    # 6 text touchpoints with 4 distinct texts; only the lawyer text is new
    assert (metadata["dagster/row_count"], metadata["rows_scored"], metadata["cache_hits"]) == (6, 1, 3)

    with duckdb.connect(str(warehouse), read_only=True) as connection:
        sentiment = dict(connection.sql("SELECT touchpoint_id, label FROM ml_sentiment").fetchall())
        languages = dict(connection.sql("SELECT touchpoint_id, language FROM ml_sentiment").fetchall())
        insights = {row[0]: row[1:] for row in connection.sql(
            "SELECT touchpoint_id, topic, urgency, urgency_reason, routing_team FROM ml_text_insights").fetchall()}
    assert (sentiment["t1"], sentiment["t2"], sentiment["t4"]) == ("negative", "positive", "neutral")
    assert (languages["t1"], languages["t2"], languages["t4"], languages["t6"]) == ("de", "en", "und", "de")
    assert insights["t1"][:2] == ("delivery", "normal")
    # c1 wrote on 1 March (twice) and 2 March: the lawyer text is high by its legal words and goes to escalations
    assert insights["t6"][1:] == ("high", "legal words ('Anwalt')", "escalations")
    assert set(insights) == {"t1", "t2", "t3", "t4", "t6", "t7"}
