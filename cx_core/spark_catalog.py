"""The tables of the `spark` dbt target, made readable on both sides: for the DuckDB readers (ML assets, reports,
checks) and, for the ML tables the dbt models read, for Spark.

With `CX_DBT_TARGET=spark` the marts are Parquet tables under the Spark warehouse folder. Each one becomes a
view of the same name in the DuckDB warehouse file over its Parquet files, so every reader keeps its SQL and
reads in streamed batches, never collecting a table onto one machine's memory at once. Spark writes
timestamps as UTC instants; the views cast them to plain UTC `TIMESTAMP`, as the DuckDB marts have them.

The ML tables live in `<CX_SPARK_DIR>/ml/<table>/`: `ml_sentiment` is scored on Spark and written there (and
published to DuckDB as a view like the marts); the ML assets that run in one process write DuckDB tables, and
`share_tables_with_spark` copies the ones dbt reads there as Parquet before each Spark build.
`cx_core.spark_dbt` declares every folder a table of dbt's schema, as DuckDB's models see the ML tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import duckdb

from cx_core.files import write_atomically
from cx_core.sources.reader import quote_identifier, sql_literal

SPARK_SCHEMA_FOLDER = "main.db"  # the dbt schema `main` in the Spark warehouse folder
ML_TABLES_FOLDER = "ml"  # under CX_SPARK_DIR: the ML tables the Spark models read


def parquet_folders(parent: Path) -> dict[str, Path]:
    """Every sub-folder of `parent` that has Parquet files, by name."""
    folders = sorted(path for path in parent.glob("*") if path.is_dir()) if parent.is_dir() else []
    return {folder.name: folder for folder in folders if any(folder.glob("*.parquet"))}


def spark_table_folders(spark_dir: Path) -> dict[str, Path]:
    """Every table of the dbt schema that has Parquet files, by name."""
    return parquet_folders(spark_dir / "warehouse" / SPARK_SCHEMA_FOLDER)


def ml_table_folder(spark_dir: Path, table: str) -> Path:
    return spark_dir / ML_TABLES_FOLDER / table


def ml_table_folders(spark_dir: Path) -> dict[str, Path]:
    """Every ML table written for Spark (see the module docstring), by name."""
    return parquet_folders(spark_dir / ML_TABLES_FOLDER)


def base_table_names(connection: duckdb.DuckDBPyConnection) -> set[str]:
    return {row[0] for row in connection.sql(
        "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'").fetchall()}


def columns_cast(connection: duckdb.DuckDBPyConnection, relation: str, from_type: str, to_type: str) -> str:
    """The select list of every column of `relation`, those of type `from_type` cast to `to_type`."""
    return ", ".join(
        f"CAST({quote_identifier(column)} AS {to_type}) AS {quote_identifier(column)}"
        if column_type == from_type else quote_identifier(column)
        for column, column_type, *_ in connection.sql(f"DESCRIBE SELECT * FROM {relation}").fetchall()
    )


def publish_parquet_views(folders: Mapping[str, Path], warehouse: Path) -> list[str]:
    """Create or replace one DuckDB view per Parquet folder, named by its key; return the names."""
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(warehouse)) as connection:
        base_tables = base_table_names(connection)
        for name, folder in folders.items():
            files = f"read_parquet({sql_literal(str(folder / '*.parquet'))})"
            selected = columns_cast(connection, files, "TIMESTAMP WITH TIME ZONE", "TIMESTAMP")
            if name in base_tables:  # built by an earlier DuckDB run of the same data folder
                connection.execute(f"DROP TABLE {quote_identifier(name)}")
            connection.execute(f"CREATE OR REPLACE VIEW {quote_identifier(name)} AS SELECT {selected} FROM {files}")
    return list(folders)


def publish_spark_tables(spark_dir: Path, warehouse: Path) -> list[str]:
    """Create or replace one DuckDB view per table dbt built on Spark; return the table names."""
    return publish_parquet_views(spark_table_folders(spark_dir), warehouse)


def share_tables_with_spark(warehouse: Path, spark_dir: Path, tables: Iterable[str]) -> list[str]:
    """Write each of `tables` that is a DuckDB table (not a view: those already read Spark's files) as
    `<CX_SPARK_DIR>/ml/<table>/<table>.parquet`, replacing the earlier copy; return the tables written.
    Plain timestamps (UTC) become UTC instants, the timestamp type Spark reads as its own."""
    if not warehouse.exists():
        return []
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        connection.execute("SET TimeZone = 'UTC'")
        base_tables = base_table_names(connection)
        shared = [table for table in tables if table in base_tables]
        for table in shared:
            selected = columns_cast(connection, quote_identifier(table), "TIMESTAMP", "TIMESTAMP WITH TIME ZONE")
            query = f"SELECT {selected} FROM {quote_identifier(table)}"
            target = ml_table_folder(spark_dir, table) / f"{table}.parquet"
            write_atomically(target, lambda path: connection.execute(
                f"COPY ({query}) TO {sql_literal(str(path))} (FORMAT parquet)"))
            for earlier in set(target.parent.glob("*.parquet")) - {target}:  # files Spark wrote there before
                earlier.unlink()
    return shared
