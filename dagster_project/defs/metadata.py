"""The standard table metadata every asset reports, so the UI shows each asset's columns and size:
`dagster/row_count` and `dagster/column_schema`, from a polars frame, a warehouse table or a source contract."""

from __future__ import annotations

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


def warehouse_table_metadata(connection: duckdb.DuckDBPyConnection, table: str) -> dict[str, object]:
    """The relation's columns, and its rows when it is a table: counting a view runs its whole query (the staging
    and identity views of a 100k-customer warehouse took 11 s of a dbt step, issue 19)."""
    columns = connection.execute(
        "select column_name, data_type from information_schema.columns where table_name = ? order by ordinal_position",
        [table],
    ).fetchall()
    metadata: dict[str, object] = {
        "dagster/column_schema": dg.TableSchema(columns=[dg.TableColumn(name, kind) for name, kind in columns])}
    is_view = connection.execute("select count(*) > 0 from information_schema.tables where table_name = ? "
                                 "and table_type = 'VIEW'", [table]).fetchall()[0][0]
    if not is_view:
        metadata["dagster/row_count"] = connection.sql(f"select count(*) from {quote_identifier(table)}").fetchall()[0][0]
    return metadata


def contract_metadata(
    contract: SourceContract, parquet_glob: str, connection: duckdb.DuckDBPyConnection
) -> dict[str, object]:
    """The contract's columns with their logical types, and the rows in the source's whole raw layer."""
    columns = [dg.TableColumn(column.name, column.type, description=column.description or None)
               for column in contract.columns]
    rows = connection.sql(f"select count(*) from read_parquet({sql_literal(parquet_glob)})").fetchall()[0][0]
    return {"dagster/row_count": rows, "dagster/column_schema": dg.TableSchema(columns=columns)}
