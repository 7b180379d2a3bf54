"""A dbt build that leaves the warehouse as it was until the build has ended, copying no more of it than it must.

dbt writes a separate database file, the *build*, which has the warehouse's file name in a folder of its own, so
both have the same catalog name, which dbt writes into every relation it names. `start_build` makes it along the
cheaper of two ways (`copies_the_file`):
- a fresh file in which every relation of the warehouse appears as a *proxy*: a view onto the warehouse, attached
  read-only as `live` (dbt's on-run-start hook `attach_live_warehouse` attaches it in dbt's session); the
  incremental tables dbt adds to are copied in with CREATE TABLE AS (the seeds, the models after the ML assets);
- a copy of the warehouse file without the relations dbt rebuilds, when the proxy way would copy a large part of
  the warehouse row by row anyway (the main step: its incremental tables are half the warehouse, and publishing
  would copy the ML tables back): a file copy moves bytes ~25 times faster than CREATE TABLE AS.

When dbt has ended, `publish_build` moves the result into place along the cheaper of two ways:
- the relations dbt rebuilt are copied into the warehouse in one transaction (a build of proxies that rebuilt
  little), or
- the relations dbt did not rebuild (its proxies) are copied into the build as tables, and the build replaces the
  warehouse with one rename (a build of proxies that rebuilt nearly everything, or a copy of the file, which
  already holds them).
Either way readers see the old warehouse or the new one, never a mix; a relation dbt failed to build keeps the
warehouse's version; and a build killed before it ends leaves the warehouse untouched (tests/test_killed_run.py).
Copying the whole warehouse file for every dbt step cost three copies of the warehouse per run (issue 19); now
only a step whose proxies would copy a large part of it row by row copies the file.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb

from cx_core.files import replace_in_background
from cx_core.sources.reader import quote_identifier, sql_literal
from cx_core.warehouse_copy_ahead import copy_warehouse, discard_copies_ahead, write_ahead_log

LIVE_ALIAS = "live"  # the warehouse as the build sees it; dbt's hook attaches it under this name
PROXY_COMMENT = "cx build proxy"  # marks the views start_build made; a relation dbt rebuilt has lost it
# Names the file whose existence tells dbt that its build file is complete (cx_core/build_ready_plugin.py)
BUILD_READY_ENV = "CX_BUILD_READY"
READY_POLL_SECONDS = 0.01
# How many times more bytes per second a file copy moves than CREATE TABLE AS (measured at 100k customers: 1.7 GB
# copied in 0.6 s from the page cache, 1.1 GB/s read from disk, against 0.9 GB of tables in 12 s), with room
# for a warehouse too large for the page cache (README, "Operating it").
FILE_COPY_ADVANTAGE = 10


@dataclass(frozen=True)
class Relation:
    schema: str
    name: str
    is_view: bool
    rows: int  # DuckDB's estimate; 0 for views
    view_sql: str | None
    comment: str | None = None  # a seed's fingerprint (cx_core/seed_fingerprints.py), a proxy's mark

    @property
    def qualified(self) -> str:
        return f"{quote_identifier(self.schema)}.{quote_identifier(self.name)}"


def build_path(warehouse: Path) -> Path:
    """The build's file: the warehouse's file name (so the same catalog name) in a folder beside it."""
    return warehouse.with_name(warehouse.name + ".building") / warehouse.name


def ready_marker(warehouse: Path) -> Path:
    """A file name, new for each build, that the build's caller creates once `start_build` has returned: dbt, which
    starts while the build is made, opens the build only then. New each time, so no file a killed run left
    counts; in the build's folder, which `start_build` empties first and `publish_build` removes."""
    return build_path(warehouse).parent / f"ready-{uuid.uuid4().hex}"


def wait_until_ready(marker: Path) -> None:
    while not marker.exists():
        time.sleep(READY_POLL_SECONDS)


def relations(con: duckdb.DuckDBPyConnection, catalog: str) -> dict[tuple[str, str], Relation]:
    """The user tables and views of `catalog` by (schema, name)."""
    rows = con.execute(
        """SELECT schema_name, table_name, false, estimated_size, NULL, comment FROM duckdb_tables()
           WHERE database_name = ? AND NOT internal AND NOT temporary
           UNION ALL
           SELECT schema_name, view_name, true, 0, sql, comment FROM duckdb_views()
           WHERE database_name = ? AND NOT internal AND NOT temporary""",
        [catalog, catalog],
    ).fetchall()
    return {(row[0], row[1]): Relation(*row) for row in rows}


def copy_table(con: duckdb.DuckDBPyConnection, source: str, relation: Relation) -> None:
    """`relation`, a table, created in the connection's database from `source` (its qualified name in another
    catalog), with its comment: a seed's fingerprint must survive the build, or the next refresh loads it again."""
    con.execute(f"CREATE TABLE {relation.qualified} AS SELECT * FROM {source}")
    if relation.comment is not None:
        con.execute(f"COMMENT ON TABLE {relation.qualified} IS {sql_literal(relation.comment)}")


def fold_write_ahead_log(database: Path) -> None:
    """A writer killed before its checkpoint leaves changes in the `.wal` file next to the database; opening the
    database replays them and closing it writes them into the file, so the file alone is complete."""
    if write_ahead_log(database).exists():
        duckdb.connect(str(database)).close()


def _attach(con: duckdb.DuckDBPyConnection, database: Path, alias: str, read_only: bool) -> None:
    con.execute(f"ATTACH {sql_literal(str(database))} AS {quote_identifier(alias)}{' (READ_ONLY)' if read_only else ''}")


def start_build(warehouse: Path, rebuilt: frozenset[str] = frozenset(), incremental: frozenset[str] = frozenset()) -> Path:
    """A build file for dbt without the relations dbt will rebuild (`rebuilt`: dbt refuses to replace a view by a
    seed, and would only add to an old seed), with every other relation of the warehouse as a proxy view or, when
    that is cheaper, as its copy in a copy of the warehouse file (module docstring). The incremental relations
    among `rebuilt` keep their table, which dbt adds to (it would rebuild a missing one from scratch). Returns the
    build's path. A build left by a killed run is discarded: it may be half written."""
    build = build_path(warehouse)
    shutil.rmtree(build.parent, ignore_errors=True)
    build.parent.mkdir(parents=True)
    if not warehouse.exists():
        duckdb.connect(str(build)).close()
        return build
    fold_write_ahead_log(warehouse)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        live = relations(con, warehouse.stem)
        used_bytes = con.execute("SELECT used_blocks * block_size FROM pragma_database_size()").fetchall()[0][0]
    added_to = {key for key, relation in live.items() if relation.name in incremental and not relation.is_view}
    if copies_the_file(warehouse.stat().st_size, used_bytes, list(live.values()), rebuilt, incremental):
        copy_warehouse(warehouse, build)  # made ahead while the run started, when it could (warehouse_copy_ahead)
        with duckdb.connect(str(build)) as con:
            for key, relation in live.items():
                if relation.name in rebuilt and key not in added_to:
                    con.execute(f"DROP {'VIEW' if relation.is_view else 'TABLE'} {relation.qualified}")
        return build
    with duckdb.connect(str(build)) as con:
        _attach(con, warehouse, LIVE_ALIAS, read_only=True)
        for key, relation in live.items():
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(relation.schema)}")
            live_relation = f"{quote_identifier(LIVE_ALIAS)}.{relation.qualified}"
            if key in added_to:
                copy_table(con, live_relation, relation)
            elif relation.name not in rebuilt:
                con.execute(f"CREATE VIEW {relation.qualified} AS SELECT * FROM {live_relation}")
                con.execute(f"COMMENT ON VIEW {relation.qualified} IS {sql_literal(PROXY_COMMENT)}")
    return build


def copies_the_file(file_bytes: int, used_bytes: int, live: list[Relation], rebuilt: frozenset[str],
                    incremental: frozenset[str]) -> bool:
    """Whether copying the warehouse file (`file_bytes`, its free blocks included) costs less than the rows the
    proxy way copies: its incremental tables into the build, then the smaller of what dbt rebuilds and what it
    keeps at publishing (sized as they are now), in bytes at the warehouse's average bytes per row."""
    tables = [relation for relation in live if not relation.is_view]
    all_rows = sum(relation.rows for relation in tables)
    if not all_rows:
        return False
    rebuilt_rows = sum(relation.rows for relation in tables if relation.name in rebuilt)
    copied_rows = sum(relation.rows for relation in tables if relation.name in rebuilt & incremental) \
        + min(rebuilt_rows, all_rows - rebuilt_rows)
    return file_bytes <= FILE_COPY_ADVANTAGE * used_bytes * copied_rows / all_rows


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
            copy_table(con, f"{quote_identifier(source_catalog)}.{relation.qualified}", relation)


def publish_build(build: Path, warehouse: Path) -> None:
    """Move the finished build into the warehouse, along the cheaper way (see the module docstring)."""
    if not warehouse.exists():
        with duckdb.connect(str(build)):
            pass  # closing checkpoints: the file alone is complete
        os.replace(build, warehouse)
        shutil.rmtree(build.parent, ignore_errors=True)
        discard_copies_ahead(warehouse)
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
        replace_in_background(build, warehouse)
    shutil.rmtree(build.parent, ignore_errors=True)
    discard_copies_ahead(warehouse)  # a copy of the warehouse before this build is of no use any more
