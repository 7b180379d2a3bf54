"""Read-only, short-lived access to the warehouse: every query opens the file, reads, and closes it again, so a
notebook kernel never holds DuckDB's lock between cells (dbt or an ML asset may want to write next)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import polars as pl


def query(warehouse: str | Path, sql: str, params: Sequence[Any] | None = None) -> pl.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        return con.sql(sql, params=list(params or [])).pl()


def table_columns(warehouse: str | Path, table: str) -> set[str]:
    """Column names of `table` in schema main; empty when the table does not exist (yet)."""
    rows = query(
        warehouse,
        "select column_name from information_schema.columns where table_schema = 'main' and table_name = ?",
        [table],
    )
    return set(rows["column_name"].to_list())


def missing_inputs(warehouse: str | Path, needs: dict[str, Iterable[str]]) -> list[str]:
    """What a report section needs but the warehouse lacks, as readable items ('table x', 'x.column')."""
    missing: list[str] = []
    for table, columns in needs.items():
        present = table_columns(warehouse, table)
        if not present:
            missing.append(f"table {table}")
        else:
            missing.extend(f"{table}.{column}" for column in columns if column not in present)
    return missing


def latest_data_date(warehouse: str | Path) -> date:
    """The business data's as-of date when none is given: the day of the newest touchpoint (today without one)."""
    if "occurred_at" in table_columns(warehouse, "fct_touchpoints"):
        latest = query(warehouse, "select max(occurred_at)::date as day from fct_touchpoints")["day"][0]
        if latest is not None:
            return latest
    return date.today()
