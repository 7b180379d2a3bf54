"""What the dbt process needs in its Spark session beyond SQL, set up before dbt starts (`cx-dbt` on the `spark`
target, dagster_project/dbt_child.py): the Spark counterpart of the dbt-duckdb plugin
cx_core.privacy.dbt_plugin.

- `cx_redact(text)`: the free-text redaction of ml/redaction.py as a Python UDF, so int_touchpoints_unioned and
  fct_survey_responses redact on Spark exactly as on DuckDB (macros/personal_data.sql).
- `cx_pseudonym(text)`: the keyed HMAC-SHA-256 pseudonym of cx_core/privacy/pseudonym.py, the same values as on
  DuckDB; the key stays in Python (the UDF's closure), never in the SQL that dbt compiles and logs.
- the ML tables under `<CX_SPARK_DIR>/ml/` (cx_core.spark_catalog) as external Parquet tables of dbt's schema,
  so the models that read the `ml` source (kpi_voice_of_customer, dim_customers, ...) find what the ML assets
  wrote; a table not written yet stays undeclared and those models build empty, as on DuckDB.

dbt-spark's `session` method calls `SparkSession.builder.getOrCreate()` for every statement, which returns the
session made here with the same parameters: temporary functions and tables declared in it are dbt's.
"""

from __future__ import annotations

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType

from cx_core.privacy.pseudonym import pseudonym, pseudonym_key
from cx_core.settings import Settings
from cx_core.spark_catalog import ml_table_folders
from cx_core.spark_session import spark_session
from ml.redaction import redact

DBT_SCHEMA = "main"


def register_functions(spark: SparkSession, settings: Settings) -> None:
    key = pseudonym_key(settings.pseudonym_key_file)
    # Arrow batches between the JVM and the Python worker: no row-by-row pickling
    spark.udf.register("cx_redact", F.udf(redact, StringType(), useArrow=True))
    # DuckDB passes no NULL into a Python function; Spark does
    spark.udf.register("cx_pseudonym", F.udf(lambda value: None if value is None else pseudonym(key, value),
                                             StringType(), useArrow=True))


def register_ml_tables(spark: SparkSession, settings: Settings) -> list[str]:
    """Declare (again: new files and columns are seen) every ML table folder; return the table names."""
    folders = ml_table_folders(settings.spark_dir)
    spark.sql(f"CREATE SCHEMA IF NOT EXISTS {DBT_SCHEMA}")
    for table, folder in folders.items():
        spark.sql(f"DROP TABLE IF EXISTS {DBT_SCHEMA}.`{table}`")  # external: its files stay
        spark.sql(f"CREATE TABLE {DBT_SCHEMA}.`{table}` USING parquet LOCATION '{folder}'")
    return list(folders)


def prepare_dbt_session(settings: Settings) -> SparkSession:
    spark = spark_session(settings, metastore=True)
    register_functions(spark, settings)
    register_ml_tables(spark, settings)
    return spark
