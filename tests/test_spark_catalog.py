"""Tables crossing between DuckDB and the `spark` target's folders (cx_core/spark_catalog.py), without Spark: the
ML tables copied for Spark's models and the Parquet folders published back as DuckDB views. Spark reading them
is in tests/test_spark_parity.py."""

from datetime import datetime, timezone

import duckdb
import pyarrow.parquet as pq

from cx_core.spark_catalog import ml_table_folder, publish_parquet_views, share_tables_with_spark
from dagster_project.dbt_child import runs_models_on_spark


def test_ml_tables_are_shared_with_spark_as_parquet_with_utc_instants(tmp_path):
    warehouse, spark_dir = tmp_path / "warehouse.duckdb", tmp_path / "spark"
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("CREATE TABLE ml_text_insights AS SELECT 't1' AS touchpoint_id, 'delivery' AS topic, "
                           "TIMESTAMP '2024-03-01 10:00:00' AS classified_at")
        connection.execute("CREATE VIEW ml_sentiment AS SELECT 't1' AS touchpoint_id")  # Spark's own table
    stale = ml_table_folder(spark_dir, "ml_text_insights") / "part-00000.parquet"  # an earlier writer's file
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"")

    shared = share_tables_with_spark(warehouse, spark_dir, ["ml_sentiment", "ml_text_insights", "ml_personas"])

    assert shared == ["ml_text_insights"]  # the view reads Spark's files already; ml_personas was not written
    [written] = ml_table_folder(spark_dir, "ml_text_insights").glob("*.parquet")
    rows = pq.read_table(written).to_pylist()
    assert rows == [{"touchpoint_id": "t1", "topic": "delivery",
                     "classified_at": datetime(2024, 3, 1, 10, tzinfo=timezone.utc)}]
    assert not (spark_dir / "ml" / "ml_sentiment").exists()


def test_parquet_folders_become_views_with_plain_utc_timestamps(tmp_path):
    warehouse, folder = tmp_path / "warehouse.duckdb", tmp_path / "ml_sentiment"
    folder.mkdir()
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("SET TimeZone = 'UTC'")
        connection.execute(f"COPY (SELECT TIMESTAMPTZ '2024-03-01 10:00:00+00' AS occurred_at) TO '{folder}/a.parquet'")
        connection.execute("CREATE TABLE ml_sentiment AS SELECT 1 AS earlier_duckdb_run")

    assert publish_parquet_views({"ml_sentiment": folder}, warehouse) == ["ml_sentiment"]

    with duckdb.connect(str(warehouse), read_only=True) as connection:
        assert connection.sql("SELECT table_type FROM information_schema.tables").fetchall() == [("VIEW",)]
        assert connection.sql("SELECT * FROM ml_sentiment").fetchall() == [(datetime(2024, 3, 1, 10),)]


def test_cx_dbt_opens_spark_only_for_model_sql_on_the_spark_target(monkeypatch):
    monkeypatch.setenv("CX_DBT_TARGET", "spark")
    assert runs_models_on_spark(["--log-format", "json", "build", "--select", "kpi_metrics"])
    assert not runs_models_on_spark(["parse", "--quiet"])
    assert not runs_models_on_spark(["build", "--target", "duckdb"])
    monkeypatch.setenv("CX_DBT_TARGET", "duckdb")
    assert not runs_models_on_spark(["run"])
    assert runs_models_on_spark(["run", "-t", "spark"])
