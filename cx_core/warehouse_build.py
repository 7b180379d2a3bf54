"""A dbt build that leaves the warehouse as it was until the build has ended, without copying the warehouse.

dbt writes a fresh database file, the *build*, in which every relation of the warehouse appears as a *proxy*:
a view onto the warehouse, attached read-only as `live` (dbt's on-run-start hook `attach_live_warehouse`
attaches it in dbt's session). The build's file has the warehouse's file name in a folder of its own, so both
have the same catalog name, which dbt writes into every relation it names.

When dbt has ended, `publish_build` moves the result into place along the cheaper of two ways:
- the relations dbt rebuilt are copied into the warehouse in one transaction (the seeds, or the few models
  after the ML assets), or
- the relations dbt did not rebuild (its proxies) are copied into the build as tables, and the build replaces the
  warehouse with one rename (the main step, which rebuilds nearly everything).
Either way readers see the old warehouse or the new one, never a mix, and a build killed before it ends leaves
the warehouse untouched (tests/test_killed_run.py). Copying the whole warehouse file for every dbt step cost
three copies of the warehouse per run (issue 19).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb

from cx_core.sources.reader import quote_identifier, sql_literal

LIVE_ALIAS = "live"  # the warehouse as the build sees it; dbt's hook attaches it under this name
PROXY_COMMENT = "cx build proxy"  # marks the views start_build made; a relation dbt rebuilt has lost it


@dataclass(frozen=True)
class Relation:
    schema: str
    name: str
    is_view: bool
    rows: int  # DuckDB's estimate; 0 for views
    view_sql: str | None

    @property
    def qualified(self) -> str:
        return f"{quote_identifier(self.schema)}.{quote_identifier(self.name)}"


def build_path(warehouse: Path) -> Path:
    """The build's file: the warehouse's file name (so the same catalog name) in a folder beside it."""
    return warehouse.with_name(warehouse.name + ".building") / warehouse.name


def relations(con: duckdb.DuckDBPyConnection, catalog: str) -> dict[tuple[str, str], Relation]:
    """The user tables and views of `catalog` by (schema, name)."""
    rows = con.execute(
        """SELECT schema_name, table_name, false, estimated_size, NULL FROM duckdb_tables()
           WHERE database_name = ? AND NOT internal AND NOT temporary
           UNION ALL
           SELECT schema_name, view_name, true, 0, sql FROM duckdb_views()
           WHERE database_name = ? AND NOT internal AND NOT temporary""",
        [catalog, catalog],
    ).fetchall()
    return {(schema, name): Relation(schema, name, is_view, rows, sql) for schema, name, is_view, rows, sql in rows}


def fold_write_ahead_log(database: Path) -> None:
    """A writer killed before its checkpoint leaves changes in the `.wal` file next to the database; opening the
    database replays them and closing it writes them into the file, so the file alone is complete."""
    if database.with_name(database.name + ".wal").exists():
        duckdb.connect(str(database)).close()


def _attach(con: duckdb.DuckDBPyConnection, database: Path, alias: str, read_only: bool) -> None:
    con.execute(f"ATTACH {sql_literal(str(database))} AS {quote_identifier(alias)}{' (READ_ONLY)' if read_only else ''}")


def start_build(warehouse: Path, rebuilt: frozenset[str] = frozenset(), incremental: frozenset[str] = frozenset()) -> Path:
    """A fresh build file for dbt with a proxy view for every relation of the warehouse but those dbt will
    rebuild (`rebuilt`: dbt refuses to replace a view by a seed); the incremental ones among them get a copy of
    their table, which dbt adds to (it would rebuild a missing one from scratch). Returns the build's path. A
    build left by a killed run is discarded: it may be half written."""
    build = build_path(warehouse)
    shutil.rmtree(build.parent, ignore_errors=True)
    build.parent.mkdir(parents=True)
    with duckdb.connect(str(build)) as con:
        if warehouse.exists():
            fold_write_ahead_log(warehouse)
            _attach(con, warehouse, LIVE_ALIAS, read_only=True)
            for relation in relations(con, LIVE_ALIAS).values():
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(relation.schema)}")
                live_relation = f"{quote_identifier(LIVE_ALIAS)}.{relation.qualified}"
                if relation.name in incremental and not relation.is_view:
                    con.execute(f"CREATE TABLE {relation.qualified} AS SELECT * FROM {live_relation}")
                elif relation.name not in rebuilt:
                    con.execute(f"CREATE VIEW {relation.qualified} AS SELECT * FROM {live_relation}")
                    con.execute(f"COMMENT ON VIEW {relation.qualified} IS {sql_literal(PROXY_COMMENT)}")
    return build


def _proxies(con: duckdb.DuckDBPyConnection, catalog: str) -> set[tuple[str, str]]:
    return set(con.execute(
        "SELECT schema_name, view_name FROM duckdb_views() WHERE database_name = ? AND comment = ?", [catalog, PROXY_COMMENT]
    ).fetchall())


def _copy_relations(con: duckdb.DuckDBPyConnection, source_catalog: str, copied: list[Relation],
                    replaced: dict[tuple[str, str], Relation]) -> None:
    """Create `copied` (relations of `source_catalog`) in the connection's own database, replacing what `replaced`
    holds under the same names: tables first, then views, which DuckDB binds when they are created."""
    for relation in sorted(copied, key=lambda r: r.is_view):
        old = replaced.get((relation.schema, relation.name))
        if old:
            con.execute(f"DROP {'VIEW' if old.is_view else 'TABLE'} {old.qualified}")
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(relation.schema)}")
        if relation.is_view:
            con.execute(f"SET search_path = {sql_literal(relation.schema)}")
            con.execute(relation.view_sql)
            con.execute("RESET search_path")
        else:
            con.execute(f"CREATE TABLE {relation.qualified} AS SELECT * FROM {quote_identifier(source_catalog)}.{relation.qualified}")


def publish_build(build: Path, warehouse: Path) -> None:
    """Move the finished build into the warehouse, along the cheaper way (see the module docstring)."""
    if not warehouse.exists():
        with duckdb.connect(str(build)):
            pass  # closing checkpoints: the file alone is complete
        os.replace(build, warehouse)
        shutil.rmtree(build.parent, ignore_errors=True)
        return
    catalog = build.stem
    with duckdb.connect(str(build)) as con:
        _attach(con, warehouse, LIVE_ALIAS, read_only=True)
        built = relations(con, catalog)
        proxies = _proxies(con, catalog)
        live = relations(con, LIVE_ALIAS)
    rebuilt = [relation for key, relation in built.items() if key not in proxies]
    # what dbt did not rebuild, also a relation it failed to build: the warehouse keeps its version
    kept = [relation for key, relation in live.items() if key in proxies or key not in built]
    if sum(r.rows for r in rebuilt) <= sum(r.rows for r in kept):
        with duckdb.connect(str(warehouse)) as con:
            _attach(con, build, "build", read_only=True)
            con.execute("BEGIN TRANSACTION")
            _copy_relations(con, "build", rebuilt, live)
            con.execute("COMMIT")
            con.execute("DETACH build")
            con.execute("CHECKPOINT")
    else:
        with duckdb.connect(str(build)) as con:
            _attach(con, warehouse, LIVE_ALIAS, read_only=True)
            _copy_relations(con, LIVE_ALIAS, kept, built)
            con.execute(f"DETACH {quote_identifier(LIVE_ALIAS)}")
        os.replace(build, warehouse)
    shutil.rmtree(build.parent, ignore_errors=True)
