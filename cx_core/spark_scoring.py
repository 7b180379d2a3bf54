"""Text scoring partitioned on Spark, for the `spark` dbt target.

The marts Spark wrote are read as Parquet straight from the Spark warehouse folder (no DuckDB copy), split
into partitions, and every partition runs the same pure functions the DuckDB path uses (`ml.sentiment`,
`ml.text_cache`): Arrow batches become polars frames, the functions run, polars goes back to Arrow
(`mapInArrow`, the Arrow-native form of `mapInPandas`, so no pandas conversion sits in between).

Texts scored before are not scored again. The driver reads the DuckDB path's text cache (ml/text_cache.py: one
entry per text hash and model version) and sends this model version's entries to the executors as a broadcast
table; only the distinct texts missing there are scored, on the executors, and their scores (hash, label,
score: small) come back to the driver, which adds them to the cache. Switching engines keeps the cache.
The result is written as Parquet to `<CX_SPARK_DIR>/ml/ml_sentiment` (cx_core.spark_catalog), where the Spark
models read it and from where it is published to DuckDB as a view.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import polars as pl
import pyarrow as pa
from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, StringType, StructField, StructType

from cx_core.settings import Settings
from cx_core.spark_catalog import SPARK_SCHEMA_FOLDER, ml_table_folder
from cx_core.spark_session import spark_session
from ml.sentiment import SentimentModel, load_sentiment_model, score_texts, with_languages
from ml.text_cache import SENTIMENT, TextCache, with_text_hash

TEXT_COLUMNS = ["touchpoint_id", "customer_key", "occurred_at", "channel", "text", "language"]
SCORED_COLUMNS = ["touchpoint_id", "customer_key", "occurred_at", "channel", "label", "score", "language"]
SCORES_SCHEMA = StructType([StructField("text_hash", StringType()), StructField("label", StringType()),
                            StructField("score", DoubleType())])
SENTIMENT_TABLE = "ml_sentiment"


@dataclass(frozen=True)
class SparkScoring:
    rows: int  # rows of ml_sentiment: text touchpoints
    texts_scored: int  # distinct texts scored in this run
    cache_hits: int  # distinct texts whose score came from the cache


def table_path(settings: Settings, table: str) -> str:
    """Where dbt-spark keeps a table of the `main` schema."""
    return str(settings.spark_dir / "warehouse" / SPARK_SCHEMA_FOLDER / table)


def sentiment_folder(settings: Settings) -> Path:
    return ml_table_folder(settings.spark_dir, SENTIMENT_TABLE)


@cache
def worker_model(model_id: str | None, head_path: str) -> SentimentModel:
    """One model per Python worker process, loaded on its first partition and reused (workers are reused)."""
    return load_sentiment_model(model_id, Path(head_path))


def score_touchpoint_texts(touchpoints: pl.DataFrame, model: SentimentModel) -> pl.DataFrame:
    """Touchpoints with text -> SCORED_COLUMNS in one process, without the cache: language detected, each
    distinct text scored once."""
    hashed = with_languages(with_text_hash(touchpoints))
    scores = score_texts(hashed.select("text_hash", "text").unique("text_hash", maintain_order=True), model)
    return hashed.join(scores, on="text_hash", how="left").select(SCORED_COLUMNS)


def per_batch(function: Callable[[pl.DataFrame], pl.DataFrame], columns: list[str]):
    """A mapInArrow function applying `function` to every non-empty batch as a polars frame, `columns` out."""
    def apply(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            if batch.num_rows:
                yield from function(pl.from_arrow(batch)).select(columns).to_arrow().to_batches()
    return apply


def hashed_text_touchpoints(settings: Settings, partitions: int | None) -> DataFrame:
    """Text touchpoints of the Spark `fct_touchpoints` in `partitions` partitions, with text hash and detected
    language."""
    spark = spark_session(settings)
    touchpoints = (spark.read.parquet(table_path(settings, "fct_touchpoints"))
                   .where(F.col("text").isNotNull()).select(*TEXT_COLUMNS))
    touchpoints = touchpoints.repartition(partitions or spark.sparkContext.defaultParallelism, "touchpoint_id")
    schema = StructType([*touchpoints.schema.fields, StructField("text_hash", StringType())])
    return touchpoints.mapInArrow(per_batch(lambda frame: with_languages(with_text_hash(frame)), schema.names), schema)


def score_sentiment_on_spark(settings: Settings, model: SentimentModel, head_path: Path,
                             partitions: int | None = None) -> SparkScoring:
    """Sentiment of every text touchpoint of the Spark `fct_touchpoints`, in `partitions` partitions (default:
    the session's parallelism), scoring only texts the cache lacks; `ml_sentiment` written as Parquet."""
    spark = spark_session(settings)
    text_cache = TextCache(settings.ml_cache_dir, SENTIMENT)
    cached = (text_cache.read().filter(pl.col("model_version") == model.model_version)
              .select("text_hash", "label", "score", "scored_at"))
    cached_on_spark = F.broadcast(spark.createDataFrame(cached.to_arrow()))
    hashed = hashed_text_touchpoints(settings, partitions).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        misses = (hashed.select("text_hash", "text").dropDuplicates(["text_hash"])
                  .join(cached_on_spark.select("text_hash"), on="text_hash", how="left_anti"))
        model_id, model_path = settings.sentiment_model, str(head_path)
        scored = misses.mapInArrow(
            per_batch(lambda texts: score_texts(texts, worker_model(model_id, model_path)), SCORES_SCHEMA.names),
            SCORES_SCHEMA)
        new_scores = pl.from_arrow(scored.toArrow())
        added = text_cache.add(new_scores, model.model_version).select(cached.columns)
        results = F.broadcast(spark.createDataFrame(pl.concat([cached, added]).to_arrow()))
        sentiment = (
            hashed.join(results, on="text_hash", how="left")
            .withColumn("model_id", F.lit(model.model_id))
            .withColumn("model_version", F.lit(model.model_version))
            .select(*SCORED_COLUMNS, "model_id", "model_version", "scored_at")
        )
        sentiment.write.mode("overwrite").parquet(str(sentiment_folder(settings)))
        distinct_texts = hashed.select("text_hash").distinct().count()
    finally:
        hashed.unpersist()
    rows = spark.read.parquet(str(sentiment_folder(settings))).count()
    return SparkScoring(rows=rows, texts_scored=new_scores.height, cache_hits=distinct_texts - new_scores.height)
