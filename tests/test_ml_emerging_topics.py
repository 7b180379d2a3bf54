"""Emerging themes on hand-written German and English texts: a planted new theme is found and flagged
significant, steady themes on Poisson noise are not, verbatims are masked, and a seed gives the same result; the
asset embeds only texts its embeddings cache lacks."""

from datetime import date, datetime, timedelta

import dagster as dg
import duckdb
import numpy as np
import polars as pl
import pytest

import ml.emerging_topics as emerging
from dagster_project.defs.assets.ml_emerging_topics import ml_emerging_topics
from dagster_project.defs.resources import pipeline_resources
from tests.helpers.settings_env import point_settings_at
from ml.emerging_topics import emerging_topics, too_little_text
from ml.emerging_topics_rules import BASELINE_PERIODS
from ml.language import detect_language
from ml.sentiment import shared_multilingual_encoder
from ml.text_cache import EMBEDDINGS, TextCache, text_hash

AS_OF = date(2026, 3, 31)
STEADY_THEMES = [
    ["My parcel is late again.", "Where is my package? The tracking shows nothing.",
     "Mein Paket ist immer noch nicht angekommen.", "Die Lieferung verspätet sich schon wieder."],
    ["Still waiting for my refund.", "I sent the item back two weeks ago and have no money yet.",
     "Wann bekomme ich mein Geld zurück?", "Die Erstattung für meine Retoure fehlt noch."],
    ["I can't log into my account.", "The password reset link does not work.",
     "Ich komme nicht in mein Kundenkonto.", "Passwort zurücksetzen funktioniert nicht."],
    ["The staff in the store were very friendly.", "The shop assistant gave me great advice.",
     "Die Verkäuferin in der Filiale war sehr nett.", "Super Beratung im Laden, danke!"],
]
# The planted theme: the app crashes when a voucher code is scanned. Each text carries personal data.
PLANTED = [
    "The app crashes every time I scan my voucher code. Anna Berg, anna.berg@example.com",
    "Since the update the app closes when I open the coupon scanner, call me on 0171 2345678",
    "Your app keeps crashing when I scan the QR code of my voucher. Regards, Peter Klein",
    "Die App stürzt beim Scannen des Gutscheins ab. Gruß Maria Schmidt, maria.s@example.de",
    "Seit dem Update schließt sich die App, wenn ich den Gutschein scanne. Tel. 0160 9876543",
    "Gutschein-Code scannen: die App stürzt jedes Mal ab! Mein Name ist Jonas Weber",
]


def texts_per_day(rows: list[tuple[date, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        {"occurred_at": [datetime(d.year, d.month, d.day, 10) for d, _ in rows], "text": [t for _, t in rows],
         "language": [detect_language(t) for _, t in rows]},
        schema={"occurred_at": pl.Datetime("us"), "text": pl.Utf8, "language": pl.Utf8},
    )


def steady_weeks(rng: np.random.Generator, rate_per_theme: float = 8.0) -> list[tuple[date, str]]:
    """Every steady theme with a Poisson number of texts in each of the 9 weeks (same rate throughout)."""
    rows = []
    for week in range(BASELINE_PERIODS + 1):
        for theme in STEADY_THEMES:
            for _ in range(rng.poisson(rate_per_theme)):
                rows.append((AS_OF - timedelta(days=7 * week + int(rng.integers(7))), theme[rng.integers(len(theme))]))
    return rows


@pytest.fixture(scope="module")
def embed():
    return shared_multilingual_encoder().encode


@pytest.fixture(scope="module")
def planted_result(embed):
    rng = np.random.default_rng(1)
    rows = steady_weeks(rng) + [(AS_OF - timedelta(days=i % 7), PLANTED[i % len(PLANTED)]) for i in range(12)]
    return emerging_topics(texts_per_day(rows), embed, AS_OF, period_days=7)


def test_a_planted_new_theme_is_found_and_flagged_significant(planted_result):
    flagged = planted_result.filter(pl.col("significant"))
    assert flagged.height == 1, flagged
    theme = flagged.row(0, named=True)
    assert theme["status"] == "new"
    assert theme["texts_latest"] == 12 and theme["texts_earlier"] == 0
    assert theme["p_adjusted"] < 0.001 and theme["growth"] is None
    # both languages' words describe the planted theme
    assert "app" in theme["top_words_en"].split(", ") and "app" in theme["top_words_de"].split(", ")
    assert (theme["period_start"], theme["period_end"]) == (date(2026, 3, 25), AS_OF)


def test_a_theme_that_was_there_before_and_grew_is_growing_not_new(embed):
    # the app theme twice a week for 8 weeks (16 texts), then 14 times in the last week
    earlier = [(AS_OF - timedelta(days=7 * week + day), PLANTED[(week + day) % 6])
               for week in range(1, BASELINE_PERIODS + 1) for day in (1, 4)]
    latest = [(AS_OF - timedelta(days=i % 7), PLANTED[i % 6]) for i in range(14)]
    rows = steady_weeks(np.random.default_rng(1)) + earlier + latest
    themes = emerging_topics(texts_per_day(rows), embed, AS_OF)
    [theme] = themes.filter(pl.col("significant")).iter_rows(named=True)
    assert (theme["status"], theme["texts_latest"], theme["texts_earlier"]) == ("growing", 14, 16)
    # growth = its share of the last week's texts over its share of the 8 weeks' texts before
    texts_last_week = sum(day > AS_OF - timedelta(days=7) for day, _ in rows)
    assert theme["growth"] == round((14 / texts_last_week) / (16 / (len(rows) - texts_last_week)), 2)
    assert theme["growth"] > 4 and theme["p_adjusted"] < 0.001


def test_verbatims_are_the_planted_texts_with_personal_data_masked(planted_result):
    [verbatims] = planted_result.filter(pl.col("significant"))["verbatims"].to_list()
    assert len(verbatims) == 3 and len(set(verbatims)) == 3
    for verbatim in verbatims:
        assert "@" not in verbatim and not any(char.isdigit() for char in verbatim), verbatim
        assert not {"Anna", "Berg", "Peter", "Klein", "Maria", "Schmidt", "Jonas", "Weber"} & set(verbatim.split())
        assert "[" in verbatim  # a placeholder such as [EMAIL] or [NAME] took the personal data's place


def test_steady_themes_on_poisson_noise_are_not_flagged(embed):
    # Ten independent noise draws at the same rate in every week: every flag is a false alarm. At a 5 % false
    # discovery rate about one draw in twenty carries one; these seeds give one (seed 4: a wording of the store
    # theme drawn 6 times in the last week, 8 times in the 8 weeks before). More would mean a miscalibrated test.
    flags = [
        emerging_topics(texts_per_day(steady_weeks(np.random.default_rng(seed))), embed, AS_OF)["significant"].sum()
        for seed in range(10)
    ]
    assert sum(flags) <= 1, flags


def test_the_steady_themes_are_found_with_their_counts(embed):
    # one German text per theme, repeated (the German ones are at most 0.33 similar to each other)
    rows = [(AS_OF - timedelta(days=7 * week), theme[2])
            for week in range(3) for theme in STEADY_THEMES for _ in range(6)]
    themes = emerging_topics(texts_per_day(rows), embed, AS_OF)
    # the four themes, 6 texts each in the latest week and 12 in the two weeks before: exactly their share
    assert themes.height == 4
    assert themes["texts_latest"].to_list() == [6] * 4 and themes["texts_earlier"].to_list() == [12] * 4
    assert themes["expected_latest"].to_list() == [6.0] * 4 and themes["growth"].to_list() == [1.0] * 4
    assert themes["status"].to_list() == ["steady"] * 4


def test_same_seed_same_themes_when_a_sample_is_clustered(embed, monkeypatch):
    monkeypatch.setattr(emerging, "MAX_CLUSTERED_TEXTS", 10)  # below the distinct texts: a seeded sample is used
    rng = np.random.default_rng(3)
    texts = texts_per_day(steady_weeks(rng) + [(AS_OF, text) for text in PLANTED * 2])
    first, second = (emerging_topics(texts, embed, AS_OF, seed=7) for _ in range(2))
    assert first.equals(second)


def test_clusters_from_the_matrix_product_are_scikit_learns_cosine_clusters():
    # cluster_centroids computes the cosine distances of its unit rows itself; the clusters must be the ones
    # scikit-learn's own cosine metric gives.
    from sklearn.cluster import AgglomerativeClustering
    rng = np.random.default_rng(2)
    centres = rng.normal(size=(40, 64))
    rows = centres[rng.integers(0, 40, 600)] + rng.normal(scale=0.6, size=(600, 64))
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    labels = AgglomerativeClustering(n_clusters=None, metric="cosine", linkage="average",
                                     distance_threshold=1 - emerging.CLUSTER_SIMILARITY).fit_predict(rows)
    expected = emerging.unit_rows(np.array([rows[labels == label].mean(axis=0) for label in range(labels.max() + 1)]))
    centroids = emerging.cluster_centroids(rows)
    assert 1 < len(centroids) < 600
    assert centroids.shape == expected.shape and np.allclose(centroids, expected)


def test_too_little_text_says_why():
    few = texts_per_day([(AS_OF, "Paket fehlt")] * 10 + [(AS_OF - timedelta(days=9), "Paket fehlt")])
    assert too_little_text(few, AS_OF, 7) == "10 texts in the 7 days to 2026-03-31: at least 30 are needed"
    only_latest = texts_per_day([(AS_OF, "Paket fehlt")] * 40)
    assert too_little_text(only_latest, AS_OF, 7) == "no texts in the 8 periods before the latest one to compare with"
    assert too_little_text(texts_per_day([(AS_OF, "x")] * 40 + [(AS_OF - timedelta(days=7), "y")]), AS_OF, 7) is None


def warehouse_with_texts(path, rows: list[tuple[date, str]], direction: str = "inbound"):
    with duckdb.connect(str(path)) as connection:
        connection.execute("CREATE TABLE IF NOT EXISTS fct_touchpoints "
                           "(occurred_at TIMESTAMP, text VARCHAR, language VARCHAR, direction VARCHAR)")
        connection.executemany("INSERT INTO fct_touchpoints VALUES (?, ?, NULL, ?)",
                               [(datetime(d.year, d.month, d.day, 10), text, direction) for d, text in rows])
    return path


def materialised(tmp_path, monkeypatch, warehouse):
    point_settings_at(monkeypatch, tmp_path, CX_WAREHOUSE=str(warehouse), CX_EMERGING_TOPICS_PERIOD_DAYS="7")
    result = dg.materialize([ml_emerging_topics], resources=pipeline_resources())
    [materialization] = result.asset_materializations_for_node("ml_emerging_topics")
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        table = connection.sql("SELECT * FROM ml_emerging_topics").pl()
    return {key: value.value for key, value in materialization.metadata.items()}, table


@pytest.mark.slow
def test_asset_writes_the_themes_of_customer_texts_only(tmp_path, monkeypatch):
    rows = steady_weeks(np.random.default_rng(1)) + [(AS_OF - timedelta(days=i % 7), PLANTED[i % 6]) for i in range(12)]
    warehouse = warehouse_with_texts(tmp_path / "warehouse.duckdb", rows)
    # the company's replies are no customer voice: a burst of them is no theme
    warehouse_with_texts(warehouse, [(AS_OF, "Danke für Ihre Nachricht, wir melden uns per DM.")] * 30, "outbound")
    metadata, table = materialised(tmp_path, monkeypatch, warehouse)
    assert (metadata["new_themes"], metadata["growing_themes"]) == (1, 0)
    assert metadata["period"] == "2026-03-25 to 2026-03-31"
    assert metadata["dagster/row_count"] == table.height >= 3
    assert table.filter(pl.col("significant"))["texts_latest"].to_list() == [12]
    assert not table["verbatims"].explode().str.contains("DM").any()


@pytest.mark.slow
def test_asset_is_skipped_with_its_reason_when_there_is_too_little_text(tmp_path, monkeypatch):
    warehouse = warehouse_with_texts(tmp_path / "warehouse.duckdb", [(AS_OF, "Paket fehlt")] * 10)
    metadata, table = materialised(tmp_path, monkeypatch, warehouse)
    assert metadata["status"] == "skipped"
    assert metadata["skip_reason"] == "10 texts in the 7 days to 2026-03-31: at least 30 are needed"
    assert table.is_empty() and table.columns == list(emerging.THEME_SCHEMA)


@pytest.mark.slow
def test_asset_embeds_only_texts_the_cache_lacks_and_the_cache_follows_the_window(tmp_path, monkeypatch):
    steady = [text for theme in STEADY_THEMES for text in theme]  # 16 distinct texts
    umbrella = "Der Regenschirm ist nach einem Tag kaputt gegangen."
    # the latest week twice over, the fourth week before it once, and one text 60 days before (the 9th week)
    rows = ([(AS_OF, text) for text in steady * 2] + [(AS_OF - timedelta(days=21), text) for text in steady]
            + [(AS_OF - timedelta(days=60), umbrella)])
    warehouse = warehouse_with_texts(tmp_path / "warehouse.duckdb", rows)
    cache = TextCache(tmp_path / "ml_cache", EMBEDDINGS)

    def run():
        metadata, table = materialised(tmp_path, monkeypatch, warehouse)
        return (metadata["texts_computed"], metadata["texts_reused"], metadata["embeddings_dropped"]), table

    counts, first = run()
    assert counts == (17, 0, 0)
    counts, second = run()
    assert counts == (0, 17, 0) and second.equals(first)

    # a week later: the umbrella text leaves the compared periods, one new text arrives
    next_week = AS_OF + timedelta(days=7)
    warehouse_with_texts(warehouse, [(next_week, text) for text in steady * 2] + [(next_week, PLANTED[0])])
    counts, refreshed = run()
    assert counts == (1, 16, 1)
    assert set(cache.read()["text_hash"]) == {text_hash(text) for text in [*steady, PLANTED[0]]}
    cache.path.unlink()
    counts, uncached = run()
    assert counts == (17, 0, 0) and uncached.equals(refreshed)
