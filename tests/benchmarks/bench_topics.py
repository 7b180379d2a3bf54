"""Topics and emerging themes: `run()` returns the figures `make bench` prints.

* the share of "other" among the customers' texts (company replies left out) in the demo warehouse that the
  pipeline run of `make bench` wrote (`ml_text_insights`), with its rank among the topics (target: below 15 %,
  not the second-largest topic);
* the same classifier on real public text nobody here wrote: the Hutto & Gilbert Amazon review sentences (about
  products, so partly on topic) and tweets (chatter about anything: "other" should stay high there), with the
  default sentiment model's labels for the praise fallback, as in the pipeline; and the share without evidence
  for any topic (`other`, or `praise` only because the text is positive);
* topic accuracy on the hand-written sample (`ml/data/topic_sample.csv`, a sanity check);
* `ml.emerging_topics` on the demo warehouse's customer texts: wall seconds of the step (embedding included),
  themes, and how many are flagged new or growing.
"""

from __future__ import annotations

import time
from datetime import date

import duckdb
import polars as pl

from cx_core.settings import get_settings
from dagster_project.defs.assets.ml_emerging_topics import CUSTOMER_TEXTS_SQL
from ml.emerging_topics import emerging_topics
from ml.sentiment import load_sentiment_model, shared_multilingual_encoder, with_languages
from ml.topics import OTHER, TOPIC_SAMPLE, TopicClassifier, load_topics
from ml.train_sentiment import load_corpus

OTHER_TARGET = 0.15
DEMO_TOPICS_SQL = """
    SELECT insights.topic, count(*) AS texts
    FROM ml_text_insights AS insights JOIN fct_touchpoints AS touchpoints USING (touchpoint_id)
    WHERE touchpoints.direction = 'inbound'
    GROUP BY insights.topic ORDER BY texts DESC
"""


def demo_other_share(connection: duckdb.DuckDBPyConnection) -> dict[str, float]:
    topics = connection.sql(DEMO_TOPICS_SQL).pl()
    ranks = topics["topic"].to_list()
    return {
        "demo_customer_texts": int(topics["texts"].sum()),
        "demo_other_share": round(topics.filter(topic=OTHER)["texts"].sum() / topics["texts"].sum(), 4),
        "demo_other_rank": ranks.index(OTHER) + 1 if OTHER in ranks else 0,
        "other_share_target": OTHER_TARGET,
    }


def public_other_share(classifier: TopicClassifier) -> dict[str, float]:
    corpus = load_corpus().filter(pl.col("source").is_in(["vader_amazon_reviews", "vader_tweets"]))
    model = load_sentiment_model()
    figures: dict[str, float] = {}
    for (source,), group in corpus.group_by("source", maintain_order=True):
        texts = group["text"].to_list()
        sentiments = [label for label, _ in model.predict(texts)]
        decisions = classifier.classify(texts, sentiments)
        figures[f"{source}_texts"] = len(texts)
        figures[f"{source}_other_share"] = round(sum(d.topic == OTHER for d in decisions) / len(texts), 4)
        # `other` plus `praise` only because the sentiment is positive: no evidence for any topic
        no_evidence = sum(d.topic == OTHER or d.method == "sentiment" for d in decisions)
        figures[f"{source}_no_topic_evidence_share"] = round(no_evidence / len(texts), 4)
    return figures


def emerging_step(connection: duckdb.DuckDBPyConnection) -> dict[str, float]:
    texts = with_languages(connection.sql(CUSTOMER_TEXTS_SQL).pl())
    settings = get_settings()
    as_of = date.fromisoformat(settings.as_of) if settings.as_of else texts["occurred_at"].max().date()
    started = time.perf_counter()
    themes = emerging_topics(texts, shared_multilingual_encoder().encode, as_of, settings.emerging_topics_period_days)
    return {
        "emerging_step_seconds": round(time.perf_counter() - started, 1),
        "emerging_themes": themes.height,
        "emerging_flagged_new": int((themes["status"] == "new").sum()),
        "emerging_flagged_growing": int((themes["status"] == "growing").sum()),
    }


def run() -> dict[str, float]:
    classifier = TopicClassifier(load_topics(), shared_multilingual_encoder())
    figures: dict[str, float] = {"topic_accuracy_handwritten": classifier.accuracy(pl.read_csv(TOPIC_SAMPLE))}
    warehouse = get_settings().warehouse_path
    if warehouse.exists():
        with duckdb.connect(str(warehouse), read_only=True) as connection:
            tables = {name for (name,) in connection.sql("SELECT table_name FROM information_schema.tables").fetchall()}
            if {"ml_text_insights", "fct_touchpoints"} <= tables:
                figures |= demo_other_share(connection) | emerging_step(connection)
            else:
                print(f"{warehouse} has no ml_text_insights: run the pipeline first (make bench does)")
    return figures | public_other_share(classifier)


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name:>45}: {value}")
