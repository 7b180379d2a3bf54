"""Remove rows from the stored data of one source: raw Parquet, quarantine Parquet and the landing exports.

Erasure (rows of one person) and retention (rows older than a cut-off) share this mechanism. Every file is
rewritten atomically (a temporary file renamed over the old one); a file left without rows is deleted. The
landing export keeps its name and gets its new checksum in the ingest ledger (the old one is kept as
superseded), so the next ingest neither reports "changed content" nor loads the file again.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from cx_core.files import write_atomically, write_text_atomically
from cx_core.settings import Settings
from cx_core.sources.contracts import SourceContract
from cx_core.sources.ingest import SCHEMA_FILE_NAME, copy_parquet, load_ledger, sha256_of, source_ledger_path
from cx_core.sources.reader import quote_identifier, sql_literal

# (connection, relation, contract) -> SQL condition of the rows to remove, or None when there are none
RowSelector = Callable[[duckdb.DuckDBPyConnection, str, SourceContract], "str | None"]


@dataclass
class RemovedRows:
    raw: int = 0
    quarantine: int = 0
    landing: int = 0
    texts: list[str] = field(default_factory=list)


def remove_source_rows(contract: SourceContract, settings: Settings, select: RowSelector, reason: str) -> RemovedRows:
    """Remove the rows `select` picks from every raw, quarantine and landing file of `contract`'s source."""
    removed = RemovedRows()
    lines_by_file: dict[str, set[int]] = defaultdict(set)
    for path in sorted((settings.raw_dir / contract.name).glob("**/*.parquet")):
        if path.name != SCHEMA_FILE_NAME:
            removed.raw += _remove_from_parquet(path, contract, select, lines_by_file, removed.texts)
    for path in sorted((settings.quarantine_dir / contract.name).glob("**/*.parquet")):
        removed.quarantine += _remove_from_parquet(path, contract, select, lines_by_file, removed.texts)
    ledger_path = source_ledger_path(settings.raw_dir, contract.name)
    ledger = load_ledger(ledger_path)
    for file_name, lines in sorted(lines_by_file.items()):
        landing_file = settings.landing_dir / contract.name / file_name
        entry = ledger.get(file_name)
        if not landing_file.exists() or entry is None or sha256_of(landing_file) != entry["sha256"]:
            continue  # gone, or not the version that was loaded: nothing of ours to rewrite
        removed.landing += remove_landing_records(landing_file, contract.format, entry.get("encoding", "utf-8"), lines)
        entry["superseded_sha256"] = [*entry.get("superseded_sha256", []), entry["sha256"]]
        entry["sha256"] = sha256_of(landing_file)
        entry["rewritten"] = [*entry.get("rewritten", []),
                              {"at": datetime.now(timezone.utc).isoformat(), "reason": reason, "records": len(lines)}]
    if lines_by_file:
        write_text_atomically(ledger_path, json.dumps(ledger, indent=1, sort_keys=True))
    return removed


def _remove_from_parquet(
    path: Path, contract: SourceContract, select: RowSelector, lines_by_file: dict[str, set[int]], texts: list[str]
) -> int:
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"CREATE TABLE stored AS SELECT * FROM read_parquet({sql_literal(str(path))})")
        condition = select(con, "stored", contract)
        if condition is None:
            return 0
        removed_lines = con.execute(f"SELECT _source_file, _source_line FROM stored WHERE {condition}").fetchall()
        for file_name, line in removed_lines:
            lines_by_file[file_name].add(line)
        texts += _free_texts(con, condition, contract)
        removed = con.execute(f"DELETE FROM stored WHERE {condition}").fetchone()[0]
        if removed and con.execute("SELECT count(*) FROM stored").fetchone()[0] == 0:
            path.unlink()
        elif removed:
            copy_parquet(con, "SELECT * FROM stored", path)
        return removed


def _free_texts(con: duckdb.DuckDBPyConnection, condition: str, contract: SourceContract) -> list[str]:
    """The texts of the rows of `stored` that match `condition` (chat: every message's text)."""
    types = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE stored)").fetchall())
    texts = []
    for column in contract.free_text_columns:
        name = quote_identifier(column)
        # quarantine keeps chat messages as their JSON text: one value like any other text column
        value = f"unnest({name}).text" if types.get(column, "VARCHAR").startswith("STRUCT") else f"{name}::VARCHAR"
        query = f"SELECT {value} FROM stored WHERE ({condition}) AND {name} IS NOT NULL"
        texts += [text for (text,) in con.execute(query).fetchall() if text]
    return texts


def remove_landing_records(path: Path, file_format: str, encoding: str, records: set[int]) -> int:
    """Rewrite a landing export without the given records, numbered as the reader numbers them (CSV: data
    lines, a quoted field spanning lines counts as one; NDJSON: physical lines; JSON: array positions).

    A removed record leaves an empty line (an empty object in a JSON array): the raw rows of the other records
    keep pointing at their line numbers, which a later erasure in the same file relies on."""
    if file_format == "json":
        items = json.loads(path.read_text(encoding=encoding).lstrip("\ufeff"))
        removed = [p for p in range(1, len(items) + 1) if p in records and items[p - 1] != {}]
        kept = [{} if position in records else item for position, item in enumerate(items, start=1)]
        text = json.dumps(kept, ensure_ascii=False, indent=1)
        write_atomically(path, lambda tmp: tmp.write_text(text, encoding=encoding))
        return len(removed)
    with path.open("r", encoding=encoding, newline="") as handle:
        lines = _logical_lines(handle, quoted=file_format == "csv")
    first_number = 0 if file_format == "csv" else 1  # the CSV header is line 0 of the data
    removed = [n for n, text in enumerate(lines, start=first_number) if n in records and text.strip("\r\n")]
    blanked = [_line_end(text) if n in records else text for n, text in enumerate(lines, start=first_number)]
    write_atomically(path, lambda tmp: tmp.write_text("".join(blanked), encoding=encoding, newline=""))
    return len(removed)


def _line_end(text: str) -> str:
    return text[len(text.rstrip("\r\n")):]


def _logical_lines(handle, quoted: bool) -> list[str]:
    """Physical lines, joined while a CSV quoted field spans line breaks (counting quotes as reader.py does)."""
    lines, current, inside_quotes = [], "", False
    for physical_line in handle:
        current += physical_line
        if quoted:
            inside_quotes ^= physical_line.count('"') % 2 == 1
        if not inside_quotes:
            lines.append(current)
            current = ""
    if current:
        lines.append(current)
    return lines
