"""Voice-of-the-customer assets (group `ml`): sentiment per text touchpoint, then topic, urgency and routing.

`ml_sentiment_model_card` adapts the sentiment head to the company's survey comments first (see
`ml.sentiment_adaptation`); `ml_sentiment` then scores (and detects the language of) only texts whose (text hash,
model version) is not in the cache yet, so a daily re-run costs the new day's texts (a newly adopted head is a new
model version, so an adopted head is kept for CX_MODEL_MAX_AGE_DAYS instead of adapted again on every refresh).
`ml_text_insights` likewise computes the per-text part (topic evidence, urgency words: `ml.text_insights`) only
for texts its cache lacks. The assets replace their warehouse table atomically and hold no connection while the model runs.
"""


import hashlib
import time
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
import polars as pl

from dagster_duckdb import DuckDBResource

from cx_core.settings import Settings
from cx_core.spark_catalog import publish_parquet_views
from cx_core.warehouse import read_frame, replace_table
from dagster_project.defs.assets.dbt import warehouse_table_key
from dagster_project.defs.metadata import frame_metadata, skipped
from dagster_project.defs.resources import PipelineSettings, WarehouseResource, holds_warehouse_open
from ml.model_store import ModelInfo, ModelStore, library_versions, retrain_reason
from ml.sentiment import (
    DEFAULT_MODEL_ID,
    HEAD_PATH,
    EncoderHeadModel,
    SentimentHead,
    SentimentModel,
    load_sentiment_model,
    score_texts,
    shared_multilingual_encoder,
    with_languages,
)
from ml.sentiment_adaptation import adapt_head, survey_examples
from ml.sentiment_lexicon import LABELS
from ml.text_cache import LANGUAGE, SENTIMENT, TEXT_INSIGHTS, TextCache, with_text_hash
from ml.text_insights import INSIGHT_SCHEMA, evidence_version, text_evidence, text_insights
from ml.topics import OTHER, TOPIC_SAMPLE, TopicClassifier, load_topics

TEXT_TOUCHPOINTS_SQL = """
    SELECT touchpoint_id, customer_key, occurred_at, channel, text, language
    FROM fct_touchpoints
    WHERE text IS NOT NULL
"""
SENTIMENT_COLUMNS = [
    "touchpoint_id", "customer_key", "occurred_at", "channel", "label", "score", "language", "model_id",
    "model_version", "scored_at",
]
MODEL_CARD_SCHEMA = {
    "comments": pl.Int64, "training_comments": pl.Int64, "held_out_comments": pl.Int64,
    "min_comments_per_label": pl.Int64, "macro_f1_before": pl.Float64, "macro_f1_after": pl.Float64,
    "adopted": pl.Boolean, "reason": pl.Utf8, "built_at": pl.Datetime("us", "UTC"),
}
SURVEY_COMMENTS_SQL = "SELECT survey_type, score, comment FROM fct_survey_responses WHERE comment IS NOT NULL"
ADAPTED_HEAD_FILE = "sentiment_head_adapted.json"
ADAPTED_HEAD_MODEL = "sentiment_head"  # its card in the model store (ml.model_store): when it was adapted, on what
NO_SURVEY_COMMENTS = ("no survey comments with an NPS or CSAT score: nothing to adapt the sentiment head to or "
                      "score it on")


def quality_metadata(model) -> dict[str, object]:
    """The held-out figures measured when the default head was trained (hub models carry none)."""
    if not isinstance(model, EncoderHeadModel):
        return {}
    metadata: dict[str, object] = {}
    for source, figures in model.head.quality.get("held_out", {}).items():
        metadata[f"macro_f1_{source}"] = figures["macro_f1"]
        metadata[f"baseline_macro_f1_{source}"] = figures["baseline_macro_f1"]
        metadata[f"majority_macro_f1_{source}"] = figures["majority_macro_f1"]
        metadata[f"held_out_texts_{source}"] = figures["texts"]
    return metadata


def write_sentiment_model_card(context: dg.AssetExecutionContext, settings: Settings, warehouse: DuckDBResource
                               ) -> dg.MaterializeResult:
    now = datetime.now(timezone.utc)
    card_row, adaptation_note = kept_adaptation(settings, now)
    if card_row is None:
        card_row = adapt_sentiment_head(settings, read_frame(warehouse, SURVEY_COMMENTS_SQL), now)
    card = pl.DataFrame([card_row], schema=MODEL_CARD_SCHEMA)
    replace_table(warehouse, "ml_sentiment_model_card", card)
    context.log.info(f"sentiment adaptation: {adaptation_note}; {card_row['reason']}")
    # Without a held-out score (no comments, or too few per label) the adaptation could not run: skipped, not failed.
    status = skipped(card_row["reason"]) if card_row.get("macro_f1_before") is None else {}
    return dg.MaterializeResult(
        asset_key="ml_sentiment_model_card",
        metadata={**frame_metadata(card), **status, "adaptation": adaptation_note,
                  **{key: value for key, value in card_row.items() if value is not None and key != "built_at"}}
    )


def shipped_head_parameters() -> dict[str, object]:
    """What an adapted head was adapted from: a new shipped head means adapting again."""
    return {"shipped_head": hashlib.sha256(HEAD_PATH.read_bytes()).hexdigest()[:12]}


def kept_adaptation(settings: Settings, now: datetime) -> tuple[dict | None, str]:
    """(the card of the adapted head in use when it is kept, else None; what happens, in words). Adapting on every
    refresh makes a new head from a few more comments, so a new model version, and the sentiment cache then
    scores every text again: like the churn model, an adopted head is kept for CX_MODEL_MAX_AGE_DAYS."""
    store = ModelStore(settings.models_dir)
    stored = store.info(ADAPTED_HEAD_MODEL)
    reason = retrain_reason(stored, shipped_head_parameters(), now.date(), now, settings.model_max_age_days)
    if reason is None and (settings.ml_cache_dir / ADAPTED_HEAD_FILE).exists():
        return store.load(ADAPTED_HEAD_MODEL), f"kept the head adapted on {stored.trained_at.date().isoformat()}"
    return None, f"adapted: {reason or 'no adopted head in use'}"


def adapt_sentiment_head(settings: Settings, comments: pl.DataFrame, now: datetime) -> dict:
    """Adapt the shipped head to the survey comments; an adopted head replaces the one in use and is kept with its
    card (ml.model_store), otherwise the shipped head is used. Returns the card row."""
    adapted_path = settings.ml_cache_dir / ADAPTED_HEAD_FILE
    examples = survey_examples(comments)
    shipped = SentimentHead.from_json(HEAD_PATH.read_text(encoding="utf-8"))
    adaptation = adapt_head(shipped, shared_multilingual_encoder(), examples) if examples.height else None
    card_row = (adaptation.card if adaptation else {"comments": 0, "adopted": False, "reason": NO_SURVEY_COMMENTS}
                ) | {"built_at": now}
    if adaptation and adaptation.card["adopted"]:
        adapted_path.parent.mkdir(parents=True, exist_ok=True)
        adapted_path.write_text(adaptation.head.to_json(), encoding="utf-8")
        ModelStore(settings.models_dir).save(card_row, ModelInfo(
            name=ADAPTED_HEAD_MODEL, trained_at=now, as_of=now.date(), features=[],
            training_rows=card_row["training_comments"], parameters=shipped_head_parameters(),
            library_versions=library_versions()))
    else:
        adapted_path.unlink(missing_ok=True)
    return card_row


def sentiment_head_path(settings: Settings) -> Path:
    """The company-adapted head when the model card adopted one, else the shipped head."""
    adapted = settings.ml_cache_dir / ADAPTED_HEAD_FILE
    return adapted if adapted.exists() else HEAD_PATH


def sentiment_with_cache(
    settings: Settings, warehouse: DuckDBResource, model: SentimentModel, _head_path: Path
) -> tuple[pl.DataFrame, int, int]:
    """In this process from the DuckDB marts, scoring only texts the cache lacks: (ml_sentiment, texts scored,
    cache hits)."""
    touchpoints = with_languages(with_text_hash(read_frame(warehouse, TEXT_TOUCHPOINTS_SQL)),
                                 TextCache(settings.ml_cache_dir, LANGUAGE))
    cache = TextCache(settings.ml_cache_dir, SENTIMENT)
    lookup = cache.fill(touchpoints, model.model_version, lambda misses: score_texts(misses, model))
    results = lookup.entries.select("text_hash", "label", "score", "scored_at")
    sentiment = (
        touchpoints.join(results, on="text_hash", how="left")
        .with_columns(pl.lit(model.model_id).alias("model_id"), pl.lit(model.model_version).alias("model_version"))
        .select(SENTIMENT_COLUMNS)
    )
    replace_table(warehouse, "ml_sentiment", sentiment)
    return sentiment, lookup.computed, lookup.reused


def sentiment_on_spark(
    settings: Settings, warehouse: DuckDBResource, model: SentimentModel, head_path: Path
) -> tuple[pl.DataFrame, int, int]:
    """Partitioned on Spark from the Parquet marts (cx_core.spark_scoring), scoring only texts the cache lacks,
    published as a view. The frame read back feeds the asset's metadata."""
    # Imported here, not at the top: it loads PySpark, which every `cx run` on DuckDB paid for at start-up (issue 19).
    from cx_core.spark_scoring import SENTIMENT_TABLE, score_sentiment_on_spark, sentiment_folder

    scoring = score_sentiment_on_spark(settings, model, head_path)
    publish_parquet_views({SENTIMENT_TABLE: sentiment_folder(settings)}, settings.warehouse_path)
    return (read_frame(warehouse, f"SELECT {', '.join(SENTIMENT_COLUMNS)} FROM {SENTIMENT_TABLE}"),
            scoring.texts_scored, scoring.cache_hits)


def write_sentiment(context: dg.AssetExecutionContext, settings: Settings, warehouse: DuckDBResource
                    ) -> dg.MaterializeResult:
    head_path = sentiment_head_path(settings)
    model = load_sentiment_model(settings.sentiment_model, head_path)
    score = sentiment_on_spark if settings.dbt_target == "spark" else sentiment_with_cache
    started = time.perf_counter()
    sentiment, rows_scored, cache_hits = score(settings, warehouse, model, head_path)
    seconds = time.perf_counter() - started
    context.log.info(f"scored {rows_scored} new texts in {seconds:.1f}s; {cache_hits} from the cache")

    distribution = dict(sentiment.group_by("label").len().iter_rows())
    return dg.MaterializeResult(
        asset_key="ml_sentiment",
        metadata={
            **frame_metadata(sentiment),
            "rows_scored": rows_scored,
            "cache_hits": cache_hits,
            "texts_per_second": round(rows_scored / seconds, 1) if rows_scored else 0.0,
            **{f"share_{label}": round(distribution.get(label, 0) / max(sentiment.height, 1), 4) for label in LABELS},
            "model_id": model.model_id,
            "model_version": model.model_version,
            "offline_default_model": model.model_id == DEFAULT_MODEL_ID,
            **quality_metadata(model),
        }
    )


def write_text_insights(context: dg.AssetExecutionContext, settings: Settings, warehouse: DuckDBResource
                        ) -> dg.MaterializeResult:
    touchpoints = with_text_hash(read_frame(
        warehouse,
        """
        SELECT s.touchpoint_id, s.customer_key, s.occurred_at, s.label AS sentiment, t.text, t.direction
        FROM ml_sentiment AS s JOIN fct_touchpoints AS t USING (touchpoint_id)
        """,
    ))
    encoder = shared_multilingual_encoder()
    classifier = TopicClassifier(load_topics(), encoder)
    version = evidence_version(classifier, encoder.version)
    cache = TextCache(settings.ml_cache_dir, TEXT_INSIGHTS)
    started = time.perf_counter()
    lookup = cache.fill(touchpoints, version, lambda misses: text_evidence(misses, classifier))
    insights = text_insights(touchpoints, lookup.entries, classifier)
    seconds = time.perf_counter() - started
    replace_table(warehouse, "ml_text_insights", insights.select(list(INSIGHT_SCHEMA)))
    inbound_topics = insights.filter(touchpoints["direction"].ne_missing("outbound"))["topic"]
    context.log.info(f"classified {insights.height} texts in {seconds:.1f}s: {lookup.computed} distinct texts "
                     f"computed, {lookup.reused} from the cache")
    methods = dict(insights.group_by("topic_method").len().iter_rows())
    return dg.MaterializeResult(
        asset_key="ml_text_insights",
        metadata={
            **frame_metadata(insights.select(list(INSIGHT_SCHEMA))),
            "texts_per_second": round(insights.height / seconds, 1) if seconds else 0.0,
            # distinct texts whose topic evidence and urgency words were computed, and read from the text cache
            "texts_computed": lookup.computed,
            "texts_reused": lookup.reused,
            "text_cache_version": version,
            "topics": dg.MetadataValue.json(
                dict(insights.group_by("topic_label").len().sort("len", descending=True).iter_rows())
            ),
            # texts that fit no topic of the taxonomy, of customers' own texts (company replies left out)
            "other_share": round(float((inbound_topics == OTHER).mean()), 4) if inbound_topics.len() else 0.0,
            "urgency": dg.MetadataValue.json(dict(insights.group_by("urgency").len().iter_rows())),
            "topic_accuracy_on_labelled_sample": classifier.accuracy(pl.read_csv(TOPIC_SAMPLE)),
            "keyword_decisions": methods.get("keywords", 0),
            "nearest_topic_decisions": methods.get("nearest_topic", 0),
            "classified_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
    )


TEXT_PARTS = {
    "ml_sentiment_model_card": write_sentiment_model_card,
    "ml_sentiment": write_sentiment,
    "ml_text_insights": write_text_insights,
}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "ml_sentiment_model_card", group_name="ml", kinds={"python", "duckdb"},
            deps=[warehouse_table_key("fct_survey_responses")],
            description="The sentiment head adapted to this company's survey comments (score as label), with the "
                        "held-out macro-F1 before and after; the adapted head is used only when it is better.",
        ),
        dg.AssetSpec(
            "ml_sentiment", group_name="ml", kinds={"python", "duckdb"},
            deps=[warehouse_table_key("fct_touchpoints"), "ml_sentiment_model_card"],
            description="Sentiment (negative/neutral/positive, score in [-1, 1]) and language per text touchpoint.",
        ),
        dg.AssetSpec(
            "ml_text_insights", group_name="ml", kinds={"python", "duckdb"},
            deps=["ml_sentiment", warehouse_table_key("fct_touchpoints")],
            description="Topic, urgency with its reason, and the team to route to, per text touchpoint.",
        ),
    ],
    can_subset=True,
    pool="duckdb",
)
@holds_warehouse_open
def ml_text(context: dg.AssetExecutionContext, cx: PipelineSettings, warehouse: WarehouseResource):
    """The three text assets, in order, each when selected (each can be materialised alone).

    One definition, not three: Dagster runs the dbt models in one step per number of asset hops from the sources,
    and the chain model card -> sentiment -> insights put the two dbt models that read the text insights
    (`kpi_voice_of_customer`, `kpi_metric_slices`) into a dbt step of their own, 3-4 s of dbt start-up and
    publishing in every refresh (issue 19)."""
    for key, part in TEXT_PARTS.items():
        if dg.AssetKey(key) in context.selected_asset_keys:
            yield part(context, cx.settings, warehouse)
