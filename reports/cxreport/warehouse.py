"""Read-only, short-lived access to the warehouse: every query opens the file, reads, and closes it again, so a
notebook kernel never holds DuckDB's lock between cells (dbt or an ML asset may want to write next).

Opening the file is the dear part of a small query (a 100k-customer warehouse: ~20 ms to open, ~2 ms to ask for
a table's columns), so a report reads the columns of every table once (`schema_columns`) and answers each
section's "what is missing" from that listing instead of opening the file per table."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import polars as pl


def query(warehouse: str | Path, sql: str, params: Sequence[Any] | None = None) -> pl.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        return con.sql(sql, params=list(params or [])).pl()


def schema_columns(warehouse: str | Path) -> dict[str, set[str]]:
    """The column names of every table and view in schema main, by table name."""
    rows = query(warehouse,
                 "select table_name, column_name from information_schema.columns where table_schema = 'main'")
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


def latest_data_date(warehouse: str | Path, columns: Mapping[str, set[str]]) -> date:
    """The business data's as-of date when none is given: the day of the newest touchpoint (today without one)."""
    if "occurred_at" in columns.get("fct_touchpoints", set()):
        latest = query(warehouse, "select max(occurred_at)::date as day from fct_touchpoints")["day"][0]
        if latest is not None:
            return latest
    return date.today()
