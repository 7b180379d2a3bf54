"""Short-lived warehouse access for Python assets: read a query into polars, replace a table atomically.

DuckDB takes one writer per file, so no connection outlives the function that opened it (see ARCHITECTURE 6).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from cx_core.sources.reader import quote_identifier


def read_frame(warehouse: Path, query: str) -> pl.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.sql(query).pl()


def replace_table(warehouse: Path, table: str, frame: pl.DataFrame) -> None:
    """Write `frame` as `table`: load a staging table first, then swap it in within one transaction, so readers
    see either the old table or the complete new one, never a half-written one."""
    staging = quote_identifier(f"{table}__staging")
    target = quote_identifier(table)
    with duckdb.connect(str(warehouse)) as connection:
        connection.register("incoming_frame", frame.to_arrow())
        connection.execute(f"CREATE OR REPLACE TABLE {staging} AS SELECT * FROM incoming_frame")
        connection.unregister("incoming_frame")
        connection.execute("BEGIN TRANSACTION")
        connection.execute(f"DROP TABLE IF EXISTS {target}")
        connection.execute(f"ALTER TABLE {staging} RENAME TO {target}")
        connection.execute("COMMIT")
