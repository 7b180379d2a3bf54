"""`cx run` keeps the run's event log open, and writes it without waiting for the disk, while the run executes
(issue 19).

Dagster's SQLite storage opens and closes a connection for each event it stores: the run's own file
(`<run id>.db`) and, for asset and check events, the cross-run index (`index.db`). When the last connection to a
SQLite database in WAL mode closes, SQLite checkpoints the write-ahead log into the database and deletes it, so
every one of a refresh's ~1,400 events paid for a checkpoint and a file deletion. With one more connection open
for the run, that happens once, at its end: a stored event took 11 ms instead of 28 ms on the shared machine
(measured with Dagster's engine-per-write pattern). The held connections read nothing and hold no lock.

Each stored event is one to three SQLite transactions (the run's file, the index, the check's execution row), and
SQLite's default (`synchronous = FULL`) waits at every commit until the write-ahead log is on the disk: 3.5 ms a
commit on the idle shared disk, far more while others write, ~1,100 commits in the refresh's main dbt step alone.
While the run executes, the connections Dagster opens to the instance's SQLite files use `synchronous = NORMAL`,
which SQLite recommends with a write-ahead log: a commit waits for the disk only at checkpoints. The database stays
consistent either way; a killed process loses nothing (its writes are in the operating system's hands), only a
power cut or a crash of the machine can lose the last events of the run.
The storage also makes a new SQLAlchemy engine for every event (the run storage for every query), so every event
paid for the engine, for SQLAlchemy's first-connect set-up and for compiling its statements again (SQLAlchemy caches
compiled statements per engine): 2.0 of the 5.2 s the 100k refresh spent in Dagster's own code between and around
its steps, under py-spy. While the run executes, both keep one engine per file (`engines_kept`), and its connections
(SQLAlchemy's default pool for a file, where Dagster's `NullPool` opened and closed a connection for each use; an
idle connection holds no lock in WAL mode): 3.8 -> 1.8 ms per stored materialisation with the engines, 1.1 ms with
the connections too (pairs, 300 events each). Under py-spy the refresh's Dagster time outside its steps went from
5.8 to 3.2 s with the engines.
Other storages (Postgres in a deployment) are left alone.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path

import dagster as dg
import sqlalchemy
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME
from dagster._core.storage.runs import SqliteRunStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS


@contextmanager
def event_log_kept_open(instance: dg.DagsterInstance, run_id: str) -> Iterator[None]:
    """While the block runs, run `run_id`'s event-log files stay open, Dagster's SQLite commits do not wait for the
    disk and its storage keeps its engines (the run executes inside it)."""
    storage = instance.event_log_storage
    if not isinstance(storage, SqliteEventLogStorage):
        yield
        return
    with storage.run_connection(run_id):
        pass  # creates the run's file with Dagster's tables, in WAL mode, before the run writes to it
    with ExitStack() as held:
        held.enter_context(commits_without_waiting_for_the_disk(Path(instance.root_directory)))
        held.enter_context(engines_kept(instance))
        for shard in (run_id, INDEX_SHARD_NAME):
            connection = held.enter_context(closing(sqlite3.connect(storage.path_for_shard(shard))))
            connection.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()  # joins the write-ahead log
        yield


@contextmanager
def commits_without_waiting_for_the_disk(folder: Path) -> Iterator[None]:
    """While the block runs, every SQLite connection SQLAlchemy opens to a file under `folder` (Dagster opens
    one per event, so it must be set on each) uses `synchronous = NORMAL` (module docstring)."""
    def on_connect(dbapi_connection: object, _record: object) -> None:
        if isinstance(dbapi_connection, sqlite3.Connection):
            database = dbapi_connection.execute("PRAGMA database_list").fetchall()[0][2]
            if database and Path(database).is_relative_to(folder):
                dbapi_connection.execute("PRAGMA synchronous = NORMAL")

    sqlalchemy.event.listen(sqlalchemy.engine.Engine, "connect", on_connect)
    try:
        yield
    finally:
        sqlalchemy.event.remove(sqlalchemy.engine.Engine, "connect", on_connect)


@contextmanager
def engines_kept(instance: dg.DagsterInstance) -> Iterator[None]:
    """While the block runs, the instance's SQLite storages connect to each of their files through one SQLAlchemy
    engine and its pool of connections, made at the first connection, instead of a new engine and connection each
    time (module docstring); otherwise as Dagster's own `_connect` (event log, a file per run and the index) and
    `connect` (run storage) do. The pools close with the block."""
    engines: dict[str, sqlalchemy.Engine] = {}

    def engine_for(url: str) -> sqlalchemy.Engine:
        if url not in engines:
            engines[url] = sqlalchemy.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
        return engines[url]

    events, runs = instance.event_log_storage, instance.run_storage

    @contextmanager
    def connect_to_event_log(shard: str) -> Iterator[sqlalchemy.Connection]:
        with events._db_lock:
            engine = engine_for(events.conn_string_for_shard(shard))
            if shard not in events._initialized_dbs:
                events._initdb(engine)
                events._initialized_dbs.add(shard)
            with engine.connect() as connection, connection.begin():
                yield connection

    @contextmanager
    def connect_to_runs() -> Iterator[sqlalchemy.Connection]:
        with engine_for(runs._conn_string).connect() as connection, connection.begin():
            yield connection

    # on these objects only: the classes' methods are back when the attributes go
    kept = [(events, "_connect", connect_to_event_log)]
    if isinstance(runs, SqliteRunStorage):
        kept.append((runs, "connect", connect_to_runs))
    for storage, name, method in kept:
        setattr(storage, name, method)
    try:
        yield
    finally:
        for storage, name, _ in kept:
            delattr(storage, name)
        for engine in engines.values():
            engine.dispose()
