"""The standard table metadata every asset reports, so the UI shows each asset's columns and size:
`dagster/row_count` and `dagster/column_schema`, from a polars frame, a warehouse table or a source contract."""

from __future__ import annotations

from collections.abc import Collection

import dagster as dg
import duckdb
import polars as pl

from cx_core.sources.contracts import SourceContract
from cx_core.sources.reader import quote_identifier, sql_literal


def skipped(reason: str) -> dict[str, object]:
    """The metadata of an asset its data cannot support (docs/CONVENTIONS.md): skipped, not failed, and why."""
    return {"status": "skipped", "skip_reason": reason}


def frame_metadata(frame: pl.DataFrame) -> dict[str, object]:
    columns = [dg.TableColumn(name, str(dtype)) for name, dtype in frame.schema.items()]
    return {"dagster/row_count": frame.height, "dagster/column_schema": dg.TableSchema(columns=columns)}


def warehouse_tables_metadata(connection: duckdb.DuckDBPyConnection, names: Collection[str]
                              ) -> dict[str, dict[str, object]]:
    """Each relation's columns and, when it is a table, its rows, by name (the names the warehouse has), in three
    queries whatever their number: three per relation took 0.33 s of a dbt step at 100k customers (issue 19).
    A view reports its columns only: counting it runs its whole query (the staging and identity views of a
    100k-customer warehouse took 11 s of a dbt step)."""
    wanted = sorted(set(names))
    columns: dict[str, list[dg.TableColumn]] = {}
    for table, name, kind in connection.execute(
            "select table_name, column_name, data_type from information_schema.columns "
            "where list_contains(?, table_name) order by table_name, ordinal_position", [wanted]).fetchall():
        columns.setdefault(table, []).append(dg.TableColumn(name, kind))
    views = {row[0] for row in connection.execute(
        "select table_name from information_schema.tables where table_type = 'VIEW' and list_contains(?, table_name)",
        [wanted]).fetchall()}
    counted = [table for table in columns if table not in views]
    rows = dict(connection.sql(" union all ".join(
        f"select {sql_literal(table)}, count(*) from {quote_identifier(table)}" for table in counted)).fetchall()
    ) if counted else {}
    return {table: {"dagster/column_schema": dg.TableSchema(columns=table_columns),
                    **({"dagster/row_count": rows[table]} if table in rows else {})}
            for table, table_columns in columns.items()}


def contract_metadata(
    contract: SourceContract, parquet_glob: str, connection: duckdb.DuckDBPyConnection
) -> dict[str, object]:
    """The contract's columns with their logical types, and the rows in the source's whole raw layer."""
    columns = [dg.TableColumn(column.name, column.type, description=column.description or None)
               for column in contract.columns]
    rows = connection.sql(f"select count(*) from read_parquet({sql_literal(parquet_glob)})").fetchall()[0][0]
    return {"dagster/row_count": rows, "dagster/column_schema": dg.TableSchema(columns=columns)}
