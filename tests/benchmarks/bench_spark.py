"""dbt on Spark (local session) next to dbt on DuckDB, on the same raw Parquet: seconds for `dbt seed` + `dbt run`;
then churn (features, backtest, fit and scores of every customer) partitioned on Spark (`cx_core.spark_churn`)
against `ml.churn.train_and_score` in one process on the DuckDB marts, and sentiment scoring of every text
touchpoint, partitioned on Spark (`cx_core.spark_scoring`, mapInArrow over the session's partitions) against the
same functions in one process on the DuckDB marts (both from an empty text cache), and Spark's second run, which
finds every text in the cache.

Reads the raw layer of the settings' data folder (`make bench` runs the default demo first). Spark's local
session pays for a JVM, a metastore and a task per file and partition: the ratio says what the switch costs on
one machine, which a cluster then earns back on data one machine cannot hold.
"""

import dataclasses
import tempfile
import time
from pathlib import Path

import duckdb

from cx_core.customer_history import load_history
from cx_core.settings import Settings, get_settings
from cx_core.spark_churn import SparkChurn
from cx_core.spark_scoring import TEXT_COLUMNS, score_sentiment_on_spark, score_touchpoint_texts
from cx_core.spark_session import spark_session
from cx_core.warehouse import WarehouseFile
from ml.churn import train_and_score
from ml.features import last_event_date
from ml.sentiment import HEAD_PATH, load_sentiment_model
from tests.helpers.dbt_engines import dbt_on


def build_seconds(target: str, raw_dir: Path, work: Path) -> float:
    started = time.perf_counter()
    for command in ("seed", "run"):
        dbt_on(target, raw_dir, work, command).check_returncode()
    return time.perf_counter() - started


def spark_settings(work: Path) -> Settings:
    return dataclasses.replace(get_settings(), dbt_target="spark", spark_dir=work / "spark",
                               warehouse_path=work / "spark.duckdb", ml_cache_dir=work / "ml_cache")


def session_seconds(work: Path) -> dict[str, float]:
    """The JVM start, timed apart from the scoring paths (which then reuse the session)."""
    started = time.perf_counter()
    spark_session(spark_settings(work))
    return {"spark_session_start_seconds": round(time.perf_counter() - started, 1)}


def churn_seconds(work: Path) -> dict[str, float]:
    """Both churn paths on the marts just built under `work` (before sentiment is scored on Spark: the DuckDB
    marts have no ml_sentiment, so both paths use the same feature families)."""
    history = load_history(WarehouseFile(work / "duckdb.duckdb"))
    horizon_days = get_settings().churn_horizon_days
    as_of = last_event_date(history)
    started = time.perf_counter()
    result = train_and_score(history, as_of, horizon_days)
    duckdb_seconds = time.perf_counter() - started
    started = time.perf_counter()
    SparkChurn(spark_settings(work)).train_and_score(as_of, horizon_days)
    spark_seconds = time.perf_counter() - started
    return {
        "churn_customers_scored": result.scores.height,
        "churn_duckdb_one_process_seconds": round(duckdb_seconds, 1),
        "churn_spark_partitioned_seconds": round(spark_seconds, 1),
        "churn_spark_vs_duckdb": round(spark_seconds / duckdb_seconds, 2),
    }


def scoring_seconds(work: Path) -> dict[str, float]:
    """Both sentiment scoring paths on the marts just built under `work`, the model loaded once before timing."""
    model = load_sentiment_model(None, HEAD_PATH)
    with duckdb.connect(str(work / "duckdb.duckdb"), read_only=True) as connection:
        touchpoints = connection.sql(f"SELECT {', '.join(TEXT_COLUMNS)} FROM fct_touchpoints WHERE text IS NOT NULL").pl()
    started = time.perf_counter()
    score_touchpoint_texts(touchpoints, model)
    duckdb_seconds = time.perf_counter() - started
    started = time.perf_counter()
    score_sentiment_on_spark(spark_settings(work), model, HEAD_PATH)
    spark_seconds = time.perf_counter() - started
    started = time.perf_counter()
    rerun = score_sentiment_on_spark(spark_settings(work), model, HEAD_PATH)
    rerun_seconds = time.perf_counter() - started
    return {
        "texts_scored": touchpoints.height,
        "sentiment_duckdb_one_process_seconds": round(duckdb_seconds, 1),
        "sentiment_spark_partitioned_seconds": round(spark_seconds, 1),
        "sentiment_spark_vs_duckdb": round(spark_seconds / duckdb_seconds, 2),
        "sentiment_spark_cached_rerun_seconds": round(rerun_seconds, 1),
        "sentiment_spark_cached_rerun_texts_scored": rerun.texts_scored,
    }


def run() -> dict[str, float]:
    raw_dir = get_settings().raw_dir
    if not any(raw_dir.glob("*/load_date=*")):
        raise FileNotFoundError(f"needs ingested raw data in {raw_dir}: run `make run` first")
    with tempfile.TemporaryDirectory(prefix="cx-bench-spark-") as tmp:
        duckdb_seconds = build_seconds("duckdb", raw_dir, Path(tmp))
        spark_seconds = build_seconds("spark", raw_dir, Path(tmp))
        scoring = session_seconds(Path(tmp)) | churn_seconds(Path(tmp)) | scoring_seconds(Path(tmp))
    return {
        "dbt_duckdb_seconds": round(duckdb_seconds, 1),
        "dbt_spark_local_seconds": round(spark_seconds, 1),
        "spark_vs_duckdb": round(spark_seconds / duckdb_seconds, 2),
        **scoring,
    }


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name:>40}: {value}")
