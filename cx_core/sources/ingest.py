"""Load new landing files of one source into the raw Parquet layer (docs/CONVENTIONS.md "Paths", "Raw Parquet").

For every new file: read (reader.py), type and validate (validate.py), then write good rows to
`raw/<source>/load_date=<today UTC>/<stem>-<sha8>.parquet` and rejected rows to
`quarantine/<source>/<stem>-<sha8>.parquet`. A ledger per source (`raw/_ledger/<source>.json`) remembers
processed files by name and sha256: a file is loaded once, and a known name with new content is an error
(the raw layer is append-only). The ledger also keeps each file's size and modification time (as git's index
does): a known file whose size and modification time are unchanged is not read again to check its checksum
(a year of web events at 100k customers is 1.8 GB to hash at every ingestion, issue 19). Every write goes to a temporary name first and is renamed when complete.
A file that fails as a whole does not stop the others: they are loaded, then one ContractError names every
failed file with its fix. The new files of a source are read over one DuckDB connection, or two at a time over two
when they are small (`ingested_files`), each file's work tables in a schema of their own that is dropped after the file.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from cx_core.files import write_atomically
from cx_core.landing_scan import is_candidate
from cx_core.privacy.pseudonym import pseudonym_key
from cx_core.privacy.suppression import SuppressionMatcher, load_suppression_list
from cx_core.settings import Settings
from cx_core.sources.contracts import CONTRACTS, SourceContract
from cx_core.sources.reader import (
    GLOB_CHARACTERS,
    ContractError,
    file_label,
    quote_identifier,
    read_landing_file,
    sql_literal,
)
from cx_core.sources.validate import EventTimeWindow, empty_schema_sql, validate_landing_rows

# The zero-row Parquet file with every contract column in each raw folder (a plain name: Spark skips files
# whose names start with "_" or ".").
SCHEMA_FILE_NAME = "contract_schema.parquet"
FILE_SCHEMA = "landing_file"  # the work tables of the file being ingested (see tables_of_one_file)
LINEAGE_TYPES = {"_source_file": "VARCHAR", "_source_line": "BIGINT", "_file_sha256": "VARCHAR", "_ingested_at": "TIMESTAMPTZ"}
# New files this small together are ingested two at a time (ingested_files): a day's exports; an initial load of
# large files keeps to one at a time and to the one memory cap (two caps would double the peak).
PARALLEL_FILES_MAX_BYTES = 64 * 1024 * 1024
NewFile = tuple[Path, os.stat_result, str]  # a landing file to load: its path, stat and sha256


@dataclass(frozen=True)
class FileResult:
    name: str
    sha256: str
    size: int
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    processed_at: str
    rows_suppressed: int = 0  # rows of erased persons (suppression list), dropped and not kept anywhere
    reasons: dict[str, int] = field(default_factory=dict)
    unknown_columns: tuple[str, ...] = ()
    missing_optional_columns: tuple[str, ...] = ()
    encoding: str = "utf-8"
    event_time_min: str | None = None
    event_time_max: str | None = None
    raw_file: str | None = None
    quarantine_file: str | None = None
    mtime_ns: int | None = None  # the file's modification time when its checksum was taken


@dataclass(frozen=True)
class IngestResult:
    source: str
    raw_dir: Path
    files: tuple[FileResult, ...]
    skipped_files: tuple[str, ...]

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_quarantined(self) -> int:
        return sum(f.rows_quarantined for f in self.files)

    @property
    def rows_suppressed(self) -> int:
        return sum(f.rows_suppressed for f in self.files)

    @property
    def reasons(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for f in self.files:
            total.update(f.reasons)
        return dict(total.most_common())

    @property
    def unknown_columns(self) -> tuple[str, ...]:
        return tuple(sorted({c for f in self.files for c in f.unknown_columns}))

    @property
    def event_time_range(self) -> tuple[str, str] | None:
        starts = [f.event_time_min for f in self.files if f.event_time_min]
        ends = [f.event_time_max for f in self.files if f.event_time_max]
        return (min(starts), max(ends)) if starts else None

    def summary(self) -> str:
        """One plain sentence for the run log."""
        text = f"{self.source}: {len(self.files)} new file(s), {self.rows_read:,} rows, {self.rows_quarantined:,} quarantined"
        if self.reasons:
            text += " (" + ", ".join(f"{reason}: {n:,}" for reason, n in self.reasons.items()) + ")"
        if self.rows_suppressed:
            text += f"; {self.rows_suppressed:,} rows of erased persons dropped"
        if self.skipped_files:
            text += f"; {len(self.skipped_files)} file(s) already loaded"
        return text


def ingest_source(contract: SourceContract, settings: Settings) -> IngestResult:
    """Load every new landing file of `contract`'s source; see the module docstring."""
    raw_dir = settings.raw_dir / contract.name
    ledger_path = source_ledger_path(settings.raw_dir, contract.name)
    ledger = load_ledger(ledger_path)
    landing = settings.landing_dir / contract.name
    candidates = sorted(p for p in landing.iterdir() if is_candidate(p, contract)) if landing.is_dir() else []
    new_files, skipped, failures, restamped = [], [], [], False
    for path in candidates:
        known = ledger.get(path.name)
        if known is not None and unchanged_since_checked(path, known):
            skipped.append(path.name)
            continue
        stat, digest = path.stat(), sha256_of(path)
        if known is None:
            new_files.append((path, stat, digest))
        elif digest in (known["sha256"], *known.get("superseded_sha256", ())):
            # the loaded version, or the version before erasure or retention rewrote it (privacy/rewrite.py)
            skipped.append(path.name)
            if digest == known["sha256"]:  # remember the stat of the checked content, so next time needs no hash
                known["size"], known["mtime_ns"], restamped = stat.st_size, stat.st_mtime_ns, True
        else:
            failures.append(
                f"{file_label(contract, path)} was already loaded on {known['processed_at']} with different "
                f"content (sha256 {known['sha256'][:8]}, now {digest[:8]}). Raw data is append-only: save the new "
                f"export under a new name (e.g. {path.stem}_v2{path.suffix}) and restore or remove the changed file."
            )
    if restamped:
        write_ledger(ledger_path, ledger)
    results = []
    # One connection and one suppression matcher for all files of the run: opening a DuckDB connection costs about
    # 20 ms, more than reading one of the small files a day brings (profiled, issue 19).
    with utc_connection(settings) as con:
        write_schema_file(contract, raw_dir / SCHEMA_FILE_NAME, con)
        matcher = suppression_matcher(settings) if new_files else None
        for (path, _, _), outcome in zip(new_files, ingested_files(con, contract, new_files, settings, matcher)):
            if isinstance(outcome, ContractError):
                failures.append(str(outcome))
                continue
            ledger[path.name] = asdict(outcome)
            write_ledger(ledger_path, ledger)
            results.append(outcome)
    if failures:
        loaded = f" ({len(results)} other file(s) of {contract.name} were loaded)" if results else ""
        raise ContractError("\n".join(failures) + loaded)
    return IngestResult(contract.name, raw_dir, tuple(results), tuple(skipped))


@contextmanager
def utc_connection(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB connection under the memory cap, in UTC."""
    with duckdb.connect(config=settings.duckdb_config()) as con:
        con.execute("SET TimeZone = 'UTC'")
        yield con


def ingested_files(con: duckdb.DuckDBPyConnection, contract: SourceContract, new_files: list[NewFile],
                   settings: Settings, matcher: SuppressionMatcher | None) -> Iterator[FileResult | ContractError]:
    """Each of `new_files` (path, stat, sha256) ingested, in their order: its result, or the ContractError that
    stopped it. A file costs a dozen DuckDB statements whatever its size (20-30 ms), and a day brings many small
    ones, so files that are small together are ingested two at a time, each on a connection of its own (DuckDB
    works outside the GIL); larger ones one at a time, within the one memory cap (PARALLEL_FILES_MAX_BYTES)."""
    parallel = len(new_files) > 1 and sum(stat.st_size for _, stat, _ in new_files) <= PARALLEL_FILES_MAX_BYTES
    with ExitStack() as connections:
        idle = queue.SimpleQueue()
        for connection in [con, *([connections.enter_context(utc_connection(settings))] if parallel else [])]:
            idle.put(connection)

        def ingest_one(new_file: NewFile) -> FileResult | ContractError:
            connection = idle.get()
            try:
                with tables_of_one_file(connection):
                    return ingest_file(connection, contract, *new_file, settings, matcher)
            except ContractError as error:
                return error
            finally:
                idle.put(connection)

        with ThreadPoolExecutor(idle.qsize()) as pool:
            yield from pool.map(ingest_one, new_files)


@contextmanager
def tables_of_one_file(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """A schema for one file's work tables, dropped after the file: nothing of a file (or of its failure) is left for
    the next file to read, and a large file's tables do not stay in memory while the next one is read."""
    con.execute(f"CREATE SCHEMA {FILE_SCHEMA}")
    con.execute(f"USE {FILE_SCHEMA}")
    try:
        yield
    finally:
        con.execute("USE main")
        con.execute(f"DROP SCHEMA {FILE_SCHEMA} CASCADE")


def unchanged_since_checked(path: Path, known: dict) -> bool:
    """Whether `path` has the size and modification time it had when its ledger checksum was taken."""
    stat = path.stat()
    return (known.get("size"), known.get("mtime_ns")) == (stat.st_size, stat.st_mtime_ns)


def ingest_file(
    con: duckdb.DuckDBPyConnection,
    contract: SourceContract,
    path: Path,
    stat: os.stat_result,
    digest: str,
    settings: Settings,
    matcher: SuppressionMatcher | None,
) -> FileResult:
    """Read, validate and write one landing file on `con` (a UTC session; `stat` and `digest` taken before reading
    it); rows read = loaded + quarantined + suppressed."""
    now = datetime.now(timezone.utc)
    # Output names carry no glob characters, so every reader of the raw layer can name a file literally.
    output_name = f"{GLOB_CHARACTERS.sub('_', path.stem)}-{digest[:8]}.parquet"
    raw_file = settings.raw_dir / contract.name / f"load_date={now:%Y-%m-%d}" / output_name
    quarantine_file = settings.quarantine_dir / contract.name / output_name
    read = read_landing_file(con, path, contract)
    window = EventTimeWindow.around(now, settings.event_time_years_back, settings.event_time_days_ahead)
    validate_landing_rows(con, contract, window)
    rows_suppressed = drop_suppressed_rows(con, contract, matcher)
    lineage = (
        f"{sql_literal(path.name)} AS _source_file, _source_line, {sql_literal(digest)} AS _file_sha256, "
        f"{sql_literal(now.isoformat())}::TIMESTAMPTZ AS _ingested_at"
    )
    columns = ", ".join(quote_identifier(c) for c in contract.column_names)
    copy_parquet(con, f"SELECT {columns}, {lineage} FROM validated WHERE reason IS NULL", raw_file)
    event_time = quote_identifier(contract.event_time)
    rows_loaded, rows_rejected, event_min, event_max = con.execute(
        f"SELECT count(*) FILTER (reason IS NULL), count(*) FILTER (reason IS NOT NULL) + (SELECT count(*) FROM landing_rejects), "
        f"(min({event_time}) FILTER (reason IS NULL))::VARCHAR, (max({event_time}) FILTER (reason IS NULL))::VARCHAR "
        "FROM validated"
    ).fetchall()[0]
    # Most files have nothing to quarantine: they skip its three queries (about 5 ms a file, issue 19).
    reasons = write_quarantine(con, contract, lineage, quarantine_file) if rows_rejected else {}
    rows_quarantined = sum(reasons.values())
    if read.rows_read != rows_loaded + rows_quarantined + rows_suppressed:
        raise AssertionError(
            f"{file_label(contract, path)}: {read.rows_read} rows read but {rows_loaded} loaded + "
            f"{rows_quarantined} quarantined + {rows_suppressed} suppressed; this is a bug in the ingest code, "
            "please report it"
        )
    return FileResult(
        name=path.name,
        sha256=digest,
        size=stat.st_size,
        rows_read=read.rows_read,
        rows_loaded=rows_loaded,
        rows_quarantined=rows_quarantined,
        processed_at=now.isoformat(),
        rows_suppressed=rows_suppressed,
        reasons=reasons,
        unknown_columns=read.unknown_columns,
        missing_optional_columns=read.missing_optional_columns,
        encoding=read.encoding,
        event_time_min=event_min,
        event_time_max=event_max,
        raw_file=str(raw_file),
        quarantine_file=str(quarantine_file) if rows_quarantined else None,
        mtime_ns=stat.st_mtime_ns,
    )


def write_quarantine(con: duckdb.DuckDBPyConnection, contract: SourceContract, lineage: str, target: Path) -> dict[str, int]:
    """Write the file's rejected rows (invalid values with their strings, unsplittable lines as `_raw`) to `target`;
    return the count of each reason, most frequent first."""
    columns = ", ".join(quote_identifier(c) for c in contract.column_names)
    nulls = ", ".join(f"NULL::VARCHAR AS {quote_identifier(c)}" for c in contract.column_names)
    con.execute(
        f"""CREATE OR REPLACE TABLE quarantined AS
            SELECT {columns}, NULL::VARCHAR AS _raw, reason, _source_line
            FROM landing_rows JOIN (SELECT _source_line, reason FROM validated WHERE reason IS NOT NULL) USING (_source_line)
            UNION ALL SELECT {nulls}, _raw, reason, _source_line FROM landing_rejects"""
    )
    copy_parquet(con, f"SELECT * EXCLUDE (_source_line), {lineage} FROM quarantined ORDER BY _source_line", target)
    return dict(con.execute("SELECT reason, count(*) FROM quarantined GROUP BY reason ORDER BY 2 DESC, 1").fetchall())


def suppression_matcher(settings: Settings) -> SuppressionMatcher | None:
    """The matcher of erased persons' identifiers (None while nobody was erased)."""
    suppressed = load_suppression_list(settings.privacy_dir)
    if not suppressed:
        return None
    return SuppressionMatcher(pseudonym_key(settings.pseudonym_key_file), suppressed, settings.default_phone_country_code)


def drop_suppressed_rows(con: duckdb.DuckDBPyConnection, contract: SourceContract, matcher: SuppressionMatcher | None) -> int:
    """Delete the rows of erased persons from `validated` and `landing_rejects` before anything is written."""
    if matcher is None:
        return 0
    dropped = 0
    for table in ("validated", "landing_rejects"):
        condition = matcher.predicate(con, table, contract)
        if condition:
            dropped += con.execute(f"DELETE FROM {table} WHERE {condition}").fetchone()[0]
    return dropped


def ensure_raw_schemas(raw_dir: Path) -> None:
    """Every source's schema file, also for sources nothing was ingested for yet: an engine that registers the
    raw folders as tables (Spark) needs each folder to exist with its schema before the first ingestion."""
    missing = [c for c in CONTRACTS.values() if not (raw_dir / c.name / SCHEMA_FILE_NAME).exists()]
    if missing:  # every dbt step asks: it opens no connection when nothing is missing
        with duckdb.connect() as con:
            for contract in missing:
                write_schema_file(contract, raw_dir / contract.name / SCHEMA_FILE_NAME, con)


def write_schema_file(contract: SourceContract, target: Path, con: duckdb.DuckDBPyConnection) -> None:
    """The zero-row schema file, so readers of `<source>/**/*.parquet` always find the full schema."""
    lineage = ", ".join(f"NULL::{sql_type} AS {name}" for name, sql_type in LINEAGE_TYPES.items())
    copy_parquet(con, f"SELECT *, {lineage} FROM ({empty_schema_sql(contract)})", target)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def copy_parquet(con: duckdb.DuckDBPyConnection, query: str, target: Path) -> None:
    write_atomically(
        target, lambda tmp: con.execute(f"COPY ({query}) TO {sql_literal(str(tmp))} (FORMAT parquet, COMPRESSION zstd)")
    )


def source_ledger_path(raw_dir: Path, source: str) -> Path:
    return raw_dir / "_ledger" / f"{source}.json"


def write_ledger(path: Path, ledger: dict[str, dict]) -> None:
    write_atomically(path, lambda tmp: tmp.write_text(json.dumps(ledger, indent=1, sort_keys=True)))


def load_ledger(path: Path) -> dict[str, dict]:
    """One entry per landing file ever loaded, by file name (an empty ledger before the first load)."""
    return json.loads(path.read_text()) if path.exists() else {}
