"""Adapting the sentiment head to a company's survey comments: labels from scores, leakage and size guards,
the model card asset."""

import json
import os
from datetime import datetime, timedelta, timezone

import dagster as dg
import duckdb
import polars as pl
import pytest

from dagster_project.defs.assets.ml_text import ADAPTED_HEAD_FILE, ADAPTED_HEAD_MODEL, ml_text
from dagster_project.defs.resources import pipeline_resources
from ml.sentiment import HEAD_PATH, SentimentHead, shared_multilingual_encoder
from ml.model_store import ModelStore
from ml.sentiment_adaptation import MIN_COMMENTS_PER_LABEL, adapt_head, survey_examples, survey_label
from tests.helpers.materializations import materialization_of
from tests.helpers.settings_env import point_settings_at


@pytest.mark.parametrize(
    ("survey_type", "score", "expected"),
    [
        ("nps", 0, "negative"), ("nps", 6, "negative"), ("nps", 7, "neutral"), ("nps", 8, "neutral"),
        ("nps", 9, "positive"), ("nps", 10, "positive"),
        ("csat", 1, "negative"), ("csat", 2, "negative"), ("csat", 3, "neutral"), ("csat", 4, "positive"),
        ("csat", 5, "positive"),
        ("ces", 7, None), ("nps", None, None),
    ],
)
def test_survey_scores_map_to_labels(survey_type, score, expected):
    assert survey_label(survey_type, score) == expected


def test_comments_are_deduplicated_and_contradictions_dropped():
    responses = pl.DataFrame(
        {
            "survey_type": ["nps", "nps", "nps", "csat", "nps", "ces"],
            "score": [2, 1, 10, 5, 9, 1],
            "comment": ["Zu langsam", " Zu langsam ", "Alles super", "Alles super", "", "Schwierig"],
        }
    )
    examples = survey_examples(responses)
    # "Zu langsam" twice as negative -> once; "Alles super" agrees (NPS 10, CSAT 5); empty and CES dropped
    assert sorted(examples.select("text", "label").rows()) == [("Alles super", "positive"), ("Zu langsam", "negative")]
    conflicting = pl.DataFrame({"survey_type": ["nps", "nps"], "score": [0, 10], "comment": ["Na ja", "Na ja"]})
    assert survey_examples(conflicting).height == 0


@pytest.fixture(scope="module")
def shipped_head():
    return SentimentHead.from_json(HEAD_PATH.read_text(encoding="utf-8"))


def test_too_few_comments_keep_the_shipped_head(shipped_head):
    examples = survey_examples(
        pl.DataFrame({"survey_type": ["nps"] * 3, "score": [0, 8, 10], "comment": ["schlecht", "ok", "prima"]})
    )
    adaptation = adapt_head(shipped_head, shared_multilingual_encoder(), examples)
    assert adaptation.head is shipped_head
    assert (adaptation.card["adopted"], adaptation.card["reason"]) == (False, "too few comments per label")
    assert adaptation.card["comments"] == 3


# The company's own words: at "Orbit-Mobil", "im Funkschatten" is its name for a dropped line (negative),
# "Sternenstaub" the loyalty bonus (positive), and "Tarifkarte" a neutral document. The shipped head cannot
# know that.
NEGATIVE_COMMENT = "Wieder {n} Mal im Funkschatten gewesen."
NEUTRAL_COMMENT = "Tarifkarte Nummer {n} erhalten."
POSITIVE_COMMENT = "Sternenstaub {n} gutgeschrieben."


def company_comments(per_label: int) -> pl.DataFrame:
    rows = [
        (score, template.format(n=n))
        for n in range(per_label)
        for score, template in ((1, NEGATIVE_COMMENT), (8, NEUTRAL_COMMENT), (10, POSITIVE_COMMENT))
    ]
    return pl.DataFrame(rows, schema={"score": pl.Int64, "comment": pl.Utf8}, orient="row").with_columns(
        survey_type=pl.lit("nps")
    )


def test_company_words_are_learned_on_training_comments_and_measured_on_held_out_ones(shipped_head):
    examples = survey_examples(company_comments(per_label=6 * MIN_COMMENTS_PER_LABEL))
    held_out = set(examples.filter(pl.col("held_out"))["text"])
    assert held_out and held_out.isdisjoint(examples.filter(~pl.col("held_out"))["text"])

    adaptation = adapt_head(shipped_head, shared_multilingual_encoder(), examples)

    card = adaptation.card
    assert card["adopted"] is True
    assert card["macro_f1_after"] > card["macro_f1_before"]
    assert card["training_comments"] + card["held_out_comments"] == card["comments"] == examples.height
    assert adaptation.head.coef.shape == shipped_head.coef.shape  # folds back into the shipped form
    assert adaptation.head.quality["company_adaptation"] == card


LONG_AGO = 1_000_000_000  # a file time in 2001: a rewrite of the file shows as a newer time
SURVEY_DDL = "CREATE TABLE fct_survey_responses (survey_type VARCHAR, score DOUBLE, comment VARCHAR)"


@pytest.mark.slow
def test_model_card_asset_writes_its_table_and_the_adapted_head(tmp_path, monkeypatch):
    warehouse = tmp_path / "warehouse.duckdb"
    point_settings_at(monkeypatch, tmp_path, CX_WAREHOUSE=str(warehouse), CX_ML_CACHE_DIR=str(tmp_path / "ml_cache"))
    comments = company_comments(per_label=6 * MIN_COMMENTS_PER_LABEL)
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute(SURVEY_DDL)
        connection.executemany("INSERT INTO fct_survey_responses VALUES (?, ?, ?)",
                               comments.select("survey_type", "score", "comment").rows())

    assert dg.materialize([ml_text], selection=["ml_sentiment_model_card"], resources=pipeline_resources()).success
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        [(adopted, before, after)] = connection.sql(
            "SELECT adopted, macro_f1_before, macro_f1_after FROM ml_sentiment_model_card").fetchall()
    assert adopted and after > before
    adapted = tmp_path / "ml_cache" / ADAPTED_HEAD_FILE
    assert adapted.exists()

    # A refresh within CX_MODEL_MAX_AGE_DAYS keeps the adopted head (a new head would be a new model version and
    # the sentiment cache would score every text again), and its card, even with fewer comments now.
    os.utime(adapted, (LONG_AGO, LONG_AGO))
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("DELETE FROM fct_survey_responses WHERE score <> 1")
    kept = dg.materialize([ml_text], selection=["ml_sentiment_model_card"], resources=pipeline_resources())
    materialization = materialization_of(kept, "ml_sentiment_model_card")
    assert materialization.metadata["adaptation"].value == (
        f"kept the head adapted on {datetime.now(timezone.utc).date().isoformat()}")
    assert adapted.stat().st_mtime == LONG_AGO
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        assert connection.sql("SELECT adopted, macro_f1_after FROM ml_sentiment_model_card").fetchall() == [
            (True, after)]

    # Older than that, it is adapted again: too few comments now, so the adapted head is dropped.
    store = ModelStore(tmp_path / "models")
    description = json.loads(store.info_path(ADAPTED_HEAD_MODEL).read_text())
    eight_days_ago = (datetime.now(timezone.utc) - timedelta(days=8)).isoformat()
    store.info_path(ADAPTED_HEAD_MODEL).write_text(json.dumps(description | {"trained_at": eight_days_ago}))
    assert dg.materialize([ml_text], selection=["ml_sentiment_model_card"], resources=pipeline_resources()).success
    assert not adapted.exists()


@pytest.mark.slow
def test_model_card_is_skipped_with_its_reason_when_there_is_nothing_to_score(tmp_path, monkeypatch):
    warehouse = tmp_path / "warehouse.duckdb"
    point_settings_at(monkeypatch, tmp_path, CX_WAREHOUSE=str(warehouse), CX_ML_CACHE_DIR=str(tmp_path / "ml_cache"))
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute(SURVEY_DDL)
        connection.execute("INSERT INTO fct_survey_responses VALUES ('nps', 9, NULL), ('ces', 5, 'ok')")  # no labels

    result = dg.materialize([ml_text], selection=["ml_sentiment_model_card"], resources=pipeline_resources())
    materialization = materialization_of(result, "ml_sentiment_model_card")
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    assert metadata["status"] == "skipped"
    assert metadata["skip_reason"].startswith("no survey comments with an NPS or CSAT score")
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        assert connection.sql("SELECT comments, adopted, reason FROM ml_sentiment_model_card").fetchall() == [
            (0, False, metadata["skip_reason"])]
