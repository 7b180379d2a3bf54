"""Write tiny raw-layer Parquet files for tests, typed exactly as the ingest assets write them
(docs/CONVENTIONS.md), without going through landing files."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb

from cx_core.sources.contracts import CONTRACTS, SourceContract
from cx_core.sources.ingest import LINEAGE_TYPES
from cx_core.sources.validate import SQL_TYPES


def raw_columns(contract: SourceContract) -> dict[str, str]:
    """Column name -> DuckDB type of a source's raw Parquet."""
    return {**{c.name: SQL_TYPES[c.type] for c in contract.columns}, **LINEAGE_TYPES}


def write_raw_parquet(path: Path, source: str, rows: Sequence[Mapping[str, Any]]) -> Path:
    """Write `rows` (missing columns are null; timestamps may be ISO strings with offsets) as `source`'s raw Parquet."""
    columns = raw_columns(CONTRACTS[source])
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"CREATE TABLE raw ({', '.join(f'{name} {type_}' for name, type_ in columns.items())})")
        placeholders = ", ".join(f"CAST(? AS {type_})" for type_ in columns.values())
        con.executemany(
            f"INSERT INTO raw VALUES ({placeholders})", [[row.get(name) for name in columns] for row in rows]
        )
        con.execute(f"COPY raw TO '{path}' (FORMAT parquet)")
    return path
