"""Read-only, short-lived access to the warehouse: every query opens the file, reads, and closes it again, so a
notebook kernel never holds DuckDB's lock between cells (dbt or an ML asset may want to write next). Only a
report the pipeline renders holds one connection for the whole notebook (`Report.hold_connection`).

Opening the file is the dear part of a small query (a 100k-customer warehouse: ~20 ms to open, ~2 ms to ask for
a table's columns), so a report reads the columns of every table once (`schema_columns`) and answers each
section's "what is missing" from that listing instead of opening the file per table."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import polars as pl


def connect(warehouse: str | Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection that reads timestamps in UTC."""
    con = duckdb.connect(str(warehouse), read_only=True)
    con.execute("SET TimeZone = 'UTC'")
    return con


def read(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | None = None) -> pl.DataFrame:
    return con.sql(sql, params=list(params or [])).pl()


def query(warehouse: str | Path, sql: str, params: Sequence[Any] | None = None) -> pl.DataFrame:
    """`sql` on a connection of its own, closed again before it returns."""
    with connect(warehouse) as con:
        return read(con, sql, params)


def schema_columns(query: Callable[[str], pl.DataFrame]) -> dict[str, set[str]]:
    """The column names of every table and view in schema main, by table name (`query` runs the SQL)."""
    rows = query("select table_name, column_name from information_schema.columns where table_schema = 'main'")
    columns: dict[str, set[str]] = {}
    for table, column in rows.iter_rows():
        columns.setdefault(table, set()).add(column)
    return columns


def missing_inputs(columns: Mapping[str, set[str]], needs: Mapping[str, Iterable[str]]) -> list[str]:
    """What a report section needs but the warehouse (its `schema_columns`) lacks, as readable items ('table x',
    'x.column')."""
    missing: list[str] = []
    for table, needed in needs.items():
        present = columns.get(table, set())
        if not present:
            missing.append(f"table {table}")
        else:
            missing.extend(f"{table}.{column}" for column in needed if column not in present)
    return missing


def latest_data_date(query: Callable[[str], pl.DataFrame], columns: Mapping[str, set[str]]) -> date:
    """The business data's as-of date when none is given: the day of the newest touchpoint (today without one)."""
    if "occurred_at" in columns.get("fct_touchpoints", set()):
        latest = query("select max(occurred_at)::date as day from fct_touchpoints")["day"][0]
        if latest is not None:
            return latest
    return date.today()
