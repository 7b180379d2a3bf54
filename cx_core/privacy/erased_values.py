"""Which rows name an erased person, in SQL: one of the person's values in a text column, or an id derived from one
(a journey 'C-C0000001-J1' names customer 'C-C0000001'). Shared by the warehouse's tables and the Spark target's
Parquet folders (cx_core/privacy/erasure.py, cx_core/privacy/spark_erasure.py)."""

from __future__ import annotations

import duckdb

from cx_core.sources.reader import quote_identifier


def load_erased_values(con: duckdb.DuckDBPyConnection, values: set[str]) -> None:
    """The temporary tables `erased_row_condition` reads, in this connection."""
    con.execute("CREATE TEMP TABLE erased_values (value VARCHAR)")
    con.executemany("INSERT INTO erased_values VALUES (?)", [(v,) for v in sorted(values)])
    con.execute("CREATE TEMP TABLE erased_prefixes AS SELECT DISTINCT value || '-' AS prefix FROM erased_values")


def erased_row_condition(text_columns: list[str]) -> str:
    """True for a row whose text columns name an erased value (after `load_erased_values`)."""
    return " OR ".join(
        f"{quote_identifier(c)} IN (SELECT value FROM erased_values) OR "
        f"EXISTS (SELECT 1 FROM erased_prefixes WHERE starts_with({quote_identifier(c)}, prefix))"
        for c in text_columns
    )
