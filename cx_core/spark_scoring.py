"""Text scoring partitioned on Spark, for the `spark` dbt target.

The marts Spark wrote are read as Parquet straight from the Spark warehouse folder (no DuckDB copy), split
into partitions, and every partition is scored by the same pure functions the DuckDB path uses
(`ml.sentiment`, `ml.text_cache`): Arrow batches become polars frames, the functions run, polars goes back
to Arrow (`mapInArrow`, the Arrow-native form of `mapInPandas`, so no pandas conversion sits in between).
The result is written as Parquet next to the marts, where `spark_catalog` publishes it like every Spark table.

The session takes the `spark` output's `server_side_parameters` from `dbt_models/profiles.yml`, so dbt and
the scoring run with the same master, time zone and warehouse folder. With `SPARK_REMOTE` set (Spark
Connect), pyspark connects to that cluster instead and the master from the profile is left out.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from functools import cache
from pathlib import Path

import jinja2
import polars as pl
import pyarrow as pa
import yaml
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, StringType, StructField, StructType

from cx_core.settings import REPO_ROOT, Settings
from cx_core.spark_catalog import SPARK_SCHEMA_FOLDER
from ml.sentiment import SentimentModel, load_sentiment_model, score_texts, with_languages
from ml.text_cache import with_text_hash

PROFILES_FILE = REPO_ROOT / "dbt_models" / "profiles.yml"
TEXT_COLUMNS = ["touchpoint_id", "customer_key", "occurred_at", "channel", "text", "language"]
SCORED_COLUMNS = ["touchpoint_id", "customer_key", "occurred_at", "channel", "label", "score", "language"]
SENTIMENT_TABLE = "ml_sentiment"


def profile_spark_conf(settings: Settings) -> dict[str, str]:
    """The `spark` output's session parameters, rendered with the settings' CX_ values as dbt renders them."""
    environ = {**os.environ, **settings.as_env()}
    rendered = jinja2.Template(PROFILES_FILE.read_text(encoding="utf-8")).render(
        env_var=lambda name, default=None: environ.get(name, default))
    output = yaml.safe_load(rendered)["cx_pipeline"]["outputs"]["spark"]
    return {key: str(value) for key, value in output.get("server_side_parameters", {}).items()}


def spark_session(settings: Settings):
    """A SparkSession with the profile's parameters; Python workers run this interpreter (this venv)."""
    conf = profile_spark_conf(settings) | {"spark.pyspark.python": sys.executable}
    if "SPARK_REMOTE" in os.environ:  # Spark Connect: the cluster owns master and resources
        conf = {key: value for key, value in conf.items() if not key.startswith(("spark.master", "spark.driver"))}
    builder = SparkSession.builder.appName("cx-ml-scoring")
    for key, value in conf.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def table_path(settings: Settings, table: str) -> str:
    """Where dbt-spark keeps a table of the `main` schema (and where the scoring writes its output)."""
    return str(settings.spark_dir / "warehouse" / SPARK_SCHEMA_FOLDER / table)


@cache
def worker_model(model_id: str | None, head_path: str) -> SentimentModel:
    """One model per Python worker process, loaded on its first partition and reused (workers are reused)."""
    return load_sentiment_model(model_id, Path(head_path))


def score_touchpoint_texts(touchpoints: pl.DataFrame, model: SentimentModel) -> pl.DataFrame:
    """Touchpoints with text -> SCORED_COLUMNS: language detected, each distinct text scored once."""
    hashed = with_languages(with_text_hash(touchpoints))
    scores = score_texts(hashed.select("text_hash", "text").unique("text_hash", maintain_order=True), model)
    return hashed.join(scores, on="text_hash", how="left").select(SCORED_COLUMNS)


def score_sentiment_on_spark(settings: Settings, model: SentimentModel, head_path: Path,
                             partitions: int | None = None) -> int:
    """Score every text touchpoint of the Spark `fct_touchpoints` in `partitions` partitions (default: the
    session's parallelism); write `ml_sentiment` as Parquet beside the marts and return its row count."""
    spark = spark_session(settings)
    touchpoints = (spark.read.parquet(table_path(settings, "fct_touchpoints"))
                   .where(F.col("text").isNotNull()).select(*TEXT_COLUMNS))
    touchpoints = touchpoints.repartition(partitions or spark.sparkContext.defaultParallelism, "touchpoint_id")
    model_id, model_path = settings.sentiment_model, str(head_path)

    def score_partition(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            if batch.num_rows:
                scored = score_touchpoint_texts(pl.from_arrow(batch), worker_model(model_id, model_path))
                yield from scored.to_arrow().to_batches()

    kept = [touchpoints.schema[name] for name in SCORED_COLUMNS if name in TEXT_COLUMNS and name != "language"]
    output_schema = StructType([*kept, StructField("label", StringType()), StructField("score", DoubleType()),
                                StructField("language", StringType())])
    sentiment = (
        touchpoints.mapInArrow(score_partition, output_schema)
        .withColumn("model_id", F.lit(model.model_id))
        .withColumn("model_version", F.lit(model.model_version))
        .withColumn("scored_at", F.lit(datetime.now(timezone.utc)))
    )
    sentiment.write.mode("overwrite").parquet(table_path(settings, SENTIMENT_TABLE))
    return spark.read.parquet(table_path(settings, SENTIMENT_TABLE)).count()
