"""Short-lived warehouse access for Python assets: read a query into polars, replace a table atomically,
compact the file after deletes (erasure, retention). A dbt build's own file: cx_core/warehouse_build.py.

DuckDB takes one writer per file, so no connection outlives the function that opened it, or the Dagster step that
holds the warehouse open (`dagster_project.defs.resources.WarehouseResource`; README, "Operating it"). A warehouse
is anything with `get_connection()`: Dagster assets pass their `DuckDBResource`, code outside Dagster (benchmarks,
tests) a `WarehouseFile`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import duckdb
import polars as pl

from cx_core.files import write_atomically
from cx_core.sources.reader import quote_identifier, sql_literal


class Warehouse(Protocol):
    def get_connection(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]: ...


@dataclass(frozen=True)
class WarehouseFile:
    """The DuckDB file opened directly, with the same `get_connection()` as dagster-duckdb's resource."""

    path: Path

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with duckdb.connect(str(self.path)) as connection:
            yield connection


def read_frame(warehouse: Warehouse, query: str) -> pl.DataFrame:
    with warehouse.get_connection() as connection:
        return connection.sql(query).pl()


def read_frames(warehouse: Warehouse, queries: Mapping[str, str]) -> dict[str, pl.DataFrame]:
    """Several queries, by name, over one connection: opening the file is the dear part of a small read (a
    100k-customer warehouse: 20-50 ms per connection, issue 19)."""
    with warehouse.get_connection() as connection:
        return {name: connection.sql(query).pl() for name, query in queries.items()}


def table_names(warehouse: Warehouse) -> set[str]:
    return set(read_frame(warehouse, "SELECT table_name FROM information_schema.tables")["table_name"])


def replace_table(warehouse: Warehouse, table: str, frame: pl.DataFrame) -> None:
    """Write `frame` as `table`: load a staging table first, then swap it in within one transaction, so readers
    see either the old table or the complete new one, never a half-written one."""
    staging = quote_identifier(f"{table}__staging")
    target = quote_identifier(table)
    with warehouse.get_connection() as connection:
        connection.register("incoming_frame", frame.to_arrow())
        connection.execute(f"CREATE OR REPLACE TABLE {staging} AS SELECT * FROM incoming_frame")
        connection.unregister("incoming_frame")
        connection.execute("BEGIN TRANSACTION")
        connection.execute(f"DROP TABLE IF EXISTS {target}")
        connection.execute(f"ALTER TABLE {staging} RENAME TO {target}")
        connection.execute("COMMIT")


def replace_rows(warehouse: Warehouse, table: str, frame: pl.DataFrame, column: str, value: object) -> None:
    """Replace the rows of `table` whose `column` equals `value` by `frame`, in one transaction: a table that keeps
    a history (a row set per run day, a rerun replacing its day) grows by a day without being rewritten whole, as
    reading and replacing it did every day (a year of daily refreshes at 100k customers: ~30 M rows). A missing
    table is created from `frame`; columns are matched by name."""
    target = quote_identifier(table)
    with warehouse.get_connection() as connection:
        connection.register("incoming_frame", frame.to_arrow())
        connection.execute("BEGIN TRANSACTION")
        if has_table(connection, table):
            connection.execute(f"DELETE FROM {target} WHERE {quote_identifier(column)} = ?", [value])
            connection.execute(f"INSERT INTO {target} BY NAME SELECT * FROM incoming_frame")
        else:
            connection.execute(f"CREATE TABLE {target} AS SELECT * FROM incoming_frame")
        connection.execute("COMMIT")
        connection.unregister("incoming_frame")


def table_exists(warehouse: Path, table: str) -> bool:
    """Whether the warehouse file exists and holds a table of that name (views do not count)."""
    if not warehouse.exists():
        return False
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return has_table(con, table)


def has_table(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether the connection's database holds a table of that name (views do not count)."""
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [table]).fetchone()[0])


def compact_warehouse(warehouse: Path) -> None:
    """Copy every table and view into a new file that replaces the old one: deleted rows leave no bytes."""

    def copy_database(target: Path) -> None:
        with duckdb.connect() as con:
            con.execute(f"ATTACH {sql_literal(str(warehouse))} AS {quote_identifier(warehouse.stem)} (READ_ONLY)")
            con.execute(f"ATTACH {sql_literal(str(target))} AS compacted")
            con.execute(f"COPY FROM DATABASE {quote_identifier(warehouse.stem)} TO compacted")

    write_atomically(warehouse, copy_database)
    Path(f"{warehouse}.wal").unlink(missing_ok=True)


def drop_tables(warehouse: Warehouse, tables: list[str]) -> None:
    """Remove tables an asset could not compute this time, so nobody reads an earlier run's rows as current."""
    with warehouse.get_connection() as connection:
        for table in tables:
            connection.execute(f"DROP TABLE IF EXISTS {quote_identifier(table)}")
