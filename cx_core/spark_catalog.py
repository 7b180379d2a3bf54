"""Tables dbt built on Spark, made readable for the DuckDB readers (ML assets, reports, checks).

With `CX_DBT_TARGET=spark` the marts are Parquet tables under the Spark warehouse folder. Each one becomes a
view of the same name in the DuckDB warehouse file over its Parquet files, so every reader keeps its SQL and
reads in streamed batches, never collecting a table onto one machine's memory at once. Spark writes
timestamps as UTC instants; the views cast them to plain UTC `TIMESTAMP`, as the DuckDB marts have them.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from cx_core.sources.reader import quote_identifier, sql_literal

SPARK_SCHEMA_FOLDER = "main.db"  # the dbt schema `main` in the Spark warehouse folder


def spark_table_folders(spark_dir: Path) -> dict[str, Path]:
    """Every table of the dbt schema that has Parquet files, by name."""
    schema_dir = spark_dir / "warehouse" / SPARK_SCHEMA_FOLDER
    folders = sorted(path for path in schema_dir.glob("*") if path.is_dir()) if schema_dir.is_dir() else []
    return {folder.name: folder for folder in folders if any(folder.glob("*.parquet"))}


def publish_spark_tables(spark_dir: Path, warehouse: Path) -> list[str]:
    """Create or replace one DuckDB view per Spark table; return the table names."""
    tables = spark_table_folders(spark_dir)
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(warehouse)) as connection:
        base_tables = {row[0] for row in connection.sql(
            "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'").fetchall()}
        for name, folder in tables.items():
            files = f"read_parquet({sql_literal(str(folder / '*.parquet'))})"
            columns = connection.sql(f"DESCRIBE SELECT * FROM {files}").fetchall()
            selected = ", ".join(
                f"CAST({quote_identifier(column)} AS TIMESTAMP) AS {quote_identifier(column)}"
                if column_type == "TIMESTAMP WITH TIME ZONE" else quote_identifier(column)
                for column, column_type, *_ in columns
            )
            if name in base_tables:  # built by an earlier DuckDB run of the same data folder
                connection.execute(f"DROP TABLE {quote_identifier(name)}")
            connection.execute(f"CREATE OR REPLACE VIEW {quote_identifier(name)} AS SELECT {selected} FROM {files}")
    return list(tables)
