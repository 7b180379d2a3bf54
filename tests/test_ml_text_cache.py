"""The text cache of every kind (sentiment, topic evidence and urgency words, language, embeddings): keyed by text
hash and version, pruned to a window in the same write, erased by hash; `ml_text_insights` computes only texts the
cache lacks and writes the same table as a run without cache; a changed topic set or rule version starts afresh."""

from dataclasses import replace
from datetime import datetime, timedelta

import dagster as dg
import duckdb
import numpy as np
import polars as pl
import pytest

import dagster_project.defs.assets.ml_text as ml_text_assets
from dagster_project.defs.assets.ml_text import ml_text
from dagster_project.defs.resources import pipeline_resources
from ml.sentiment import MultilingualEncoder, shared_multilingual_encoder
from ml.text_cache import CACHE_KINDS, EMBEDDINGS, TEXT_INSIGHTS, CachedEncoder, TextCache, text_hash, with_text_hash
from ml.text_insights import evidence_version, text_evidence
from ml.topics import TopicClassifier, load_topics
from tests.helpers.materializations import materialization_of
from tests.helpers.settings_env import point_settings_at


@pytest.fixture(scope="module")
def encoder():
    return shared_multilingual_encoder()


def null_values(kind, hashes: list[str]) -> pl.DataFrame:
    """Entries of `kind` for `hashes` with every value column null: the cache logic does not look at values."""
    return pl.DataFrame({"text_hash": hashes}).with_columns(
        pl.lit(None, dtype).alias(name) for name, dtype in kind.values.items())


@pytest.mark.parametrize("kind", CACHE_KINDS, ids=lambda kind: kind.name)
def test_every_kind_has_its_own_file_and_keeps_versions_apart(tmp_path, kind):
    cache = TextCache(tmp_path, kind)
    texts = with_text_hash(pl.DataFrame({"text": ["gut", "schlecht", " gut ", "ok"]}))
    hits, misses = cache.split(texts, "v1")
    assert (hits.height, misses["text"].to_list()) == (0, ["gut", "schlecht", "ok"])  # " gut " is "gut"
    cache.add(null_values(kind, misses["text_hash"].to_list()), "v1")
    assert [p.name for p in tmp_path.iterdir()] == [f"{kind.name}.parquet"]
    assert tuple(len(part) for part in cache.split(texts, "v1")) == (3, 0)
    assert tuple(len(part) for part in cache.split(texts, "v2")) == (0, 3)


def test_a_window_fill_drops_the_texts_the_window_left_behind_in_one_write_and_remove_erases_texts(tmp_path,
                                                                                                  monkeypatch):
    cache = TextCache(tmp_path, EMBEDDINGS)
    cache.add(null_values(EMBEDDINGS, [text_hash(t) for t in ("a", "b", "c")]), "v1")
    cache.add(null_values(EMBEDDINGS, [text_hash("a")]), "v2")
    writes = []
    write = cache._write
    monkeypatch.setattr(cache, "_write", lambda entries: writes.append(entries.height) or write(entries))
    window = with_text_hash(pl.DataFrame({"text": ["a", "b", "d"]}))
    lookup = cache.fill(window, "v1", lambda misses: null_values(EMBEDDINGS, misses["text_hash"].to_list()),
                        window=True)
    # d is computed; c (in v1) left the window; a stays in both versions
    assert (lookup.computed, lookup.reused, lookup.dropped, writes) == (1, 2, 1, [4])
    assert cache.remove({text_hash("a")}) == 2  # a, in both versions
    assert sorted(cache.read()["text_hash"].to_list()) == sorted([text_hash("b"), text_hash("d")])


def test_cached_encoder_encodes_each_text_once_and_returns_the_encoders_vectors(tmp_path, encoder, monkeypatch):
    texts = ["Paket fehlt", "Where is my refund?", "Paket fehlt "]
    first = CachedEncoder(encoder, TextCache(tmp_path, EMBEDDINGS))
    vectors = first.encode(texts)
    assert (first.computed, first.reused) == (2, 0)
    np.testing.assert_array_equal(vectors, encoder.encode(["Paket fehlt", "Where is my refund?", "Paket fehlt"]))
    again = CachedEncoder(encoder, TextCache(tmp_path, EMBEDDINGS))  # a later run
    np.testing.assert_array_equal(again.encode(texts + ["Neu hier"]), encoder.encode(
        ["Paket fehlt", "Where is my refund?", "Paket fehlt", "Neu hier"]))
    assert (again.computed, again.reused) == (1, 2)
    assert again.encode([]).shape == (0, encoder.dimension)
    # another release of the encoder package is another version: its vectors are computed again
    monkeypatch.setattr(MultilingualEncoder, "version", "use-multilingual-v3@next")
    released = CachedEncoder(encoder, TextCache(tmp_path, EMBEDDINGS))
    released.encode(texts)
    assert (released.computed, released.reused) == (2, 0)


def test_evidence_version_follows_the_topic_set_and_the_encoder(encoder):
    topics = load_topics()
    version = evidence_version(TopicClassifier(topics, encoder), encoder.version)
    assert version == evidence_version(TopicClassifier(load_topics(), encoder), encoder.version)
    more_keywords = [replace(t, keywords=(*t.keywords, "sendung")) if t.topic == "delivery" else t for t in topics]
    assert evidence_version(TopicClassifier(more_keywords, encoder), encoder.version) != version
    assert evidence_version(TopicClassifier(topics, encoder), "another-encoder@1") != version


def test_text_evidence_is_the_classifiers_evidence_and_the_urgency_words(encoder):
    classifier = TopicClassifier(load_topics(), encoder)
    texts = with_text_hash(pl.DataFrame({"text": ["Mein Paket ist nicht da. Ich gehe zum Anwalt! ", "Ihr seid super"]}))
    evidence = text_evidence(texts, classifier)
    assert evidence.select("topic", "topic_method", "signal", "signal_words").rows() == [
        ("delivery", "keywords", "legal", "Anwalt"),
        # no evidence from the text alone: `praise` or `other` is decided per touchpoint by its sentiment
        ("other", "fallback", None, None),
    ]


TOUCHPOINT_DDL = ("CREATE TABLE fct_touchpoints (touchpoint_id VARCHAR, customer_key VARCHAR, occurred_at TIMESTAMP, "
                  "channel VARCHAR, direction VARCHAR, text VARCHAR, language VARCHAR)")
DAY_ONE = [
    ("t1", "inbound", "Mein Paket ist nicht angekommen."),
    ("t2", "inbound", "Wann kommt meine Rückerstattung?"),
    ("t3", "inbound", "Mein Paket ist nicht angekommen."),  # the same text: computed once
    ("t4", "outbound", "Wir haben Ihre Nachricht erhalten."),
    ("t5", "inbound", "Vielen Dank, alles bestens!"),  # no topic evidence: praise by its sentiment
]
DAY_TWO = [
    ("t6", "inbound", "Ich schalte jetzt meinen Anwalt ein."),  # new
    ("t7", "inbound", "Wann kommt meine Rückerstattung?"),  # seen yesterday
]


def add_touchpoints(warehouse, rows, day):
    with duckdb.connect(str(warehouse)) as connection:
        connection.executemany("INSERT INTO fct_touchpoints VALUES (?, 'c1', ?, 'email', ?, ?, 'de')",
                               [(tid, day + timedelta(hours=i), direction, text)
                                for i, (tid, direction, text) in enumerate(rows)])


def insights_run(warehouse, *assets):
    result = dg.materialize([ml_text], selection=list(assets or ["ml_text_insights"]), resources=pipeline_resources())
    materialization = materialization_of(result, "ml_text_insights")
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        table = connection.sql("SELECT * FROM ml_text_insights ORDER BY touchpoint_id").pl()
    return (metadata["texts_computed"], metadata["texts_reused"]), table


@pytest.mark.slow
def test_insights_compute_only_new_texts_and_equal_a_run_without_cache(tmp_path, monkeypatch):
    warehouse, cache_dir = tmp_path / "warehouse.duckdb", tmp_path / "ml_cache"
    point_settings_at(monkeypatch, tmp_path, CX_WAREHOUSE=str(warehouse), CX_ML_CACHE_DIR=str(cache_dir))
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute(TOUCHPOINT_DDL)
    add_touchpoints(warehouse, DAY_ONE, datetime(2026, 3, 1, 9))

    counts, first = insights_run(warehouse, "ml_sentiment", "ml_text_insights")
    assert counts == (4, 0)  # 5 touchpoints, 4 distinct texts
    assert dict(first.select("touchpoint_id", "topic").rows())["t5"] == "praise"
    counts, second = insights_run(warehouse)
    assert counts == (0, 4) and second.equals(first)

    add_touchpoints(warehouse, DAY_TWO, datetime(2026, 3, 2, 9))
    counts, refreshed = insights_run(warehouse, "ml_sentiment", "ml_text_insights")
    assert counts == (1, 4)
    assert refreshed.filter(pl.col("touchpoint_id") == "t6").select("urgency_reason", "routing_team").row(0) == (
        "legal words ('Anwalt')", "escalations")
    (cache_dir / TEXT_INSIGHTS.file_name).unlink()
    counts, uncached = insights_run(warehouse)
    assert counts == (5, 0) and uncached.equals(refreshed)

    # another topic set or rule code is another version: every text is computed again, the old entries stay
    monkeypatch.setattr(ml_text_assets, "evidence_version", lambda *_: "changed-rules")
    counts, changed = insights_run(warehouse)
    assert counts == (5, 0) and changed.equals(refreshed)
    assert TextCache(cache_dir, TEXT_INSIGHTS).read().group_by("model_version").len().height == 2
