"""The suppression list: keyed pseudonyms of every identifier of an erased person, never the identifiers.

Ingest drops rows that carry a listed identifier, so a re-delivered old export cannot bring an erased person
back, and erasure uses the same matching to find the person's rows in raw and quarantine files.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from cx_core.files import write_text_atomically
from cx_core.privacy.identifiers import normalize_identifier
from cx_core.privacy.pseudonym import identifier_pseudonym
from cx_core.sources.contracts import IDENTIFIER_TYPES, SourceContract
from cx_core.sources.reader import quote_identifier, sql_literal

# Field separators of CSV lines and JSON records: a malformed line's fields, which may hold identifiers.
_RAW_FIELD_SEPARATORS = re.compile(r'[,;\t"{}\[\]]+|:\s')


def suppression_list_path(privacy_dir: Path) -> Path:
    return privacy_dir / "suppression_list.json"


def load_suppression_list(privacy_dir: Path) -> set[str]:
    path = suppression_list_path(privacy_dir)
    return {entry["pseudonym"] for entry in json.loads(path.read_text())} if path.exists() else set()


def add_to_suppression_list(privacy_dir: Path, pseudonyms: Iterable[str], request_id: str) -> None:
    path = suppression_list_path(privacy_dir)
    entries = json.loads(path.read_text()) if path.exists() else []
    known = {entry["pseudonym"] for entry in entries}
    added_at = datetime.now(timezone.utc).isoformat()
    entries += [{"pseudonym": p, "request_id": request_id, "added_at": added_at}
                for p in sorted(set(pseudonyms) - known)]
    write_text_atomically(path, json.dumps(entries, indent=1))


class SuppressionMatcher:
    """Tells which rows of a DuckDB relation carry a suppressed identifier."""

    def __init__(self, key: bytes, suppressed: set[str], default_country_code: str) -> None:
        self.key = key
        self.suppressed = suppressed
        self.default_country_code = default_country_code

    def is_suppressed(self, identifier_type: str, value: object) -> bool:
        normalised = normalize_identifier(identifier_type, str(value), self.default_country_code)
        return normalised is not None and identifier_pseudonym(self.key, identifier_type, normalised) in self.suppressed

    def raw_text_is_suppressed(self, text: str) -> bool:
        """A line that could not be split into columns: any field of it, of any identifier type."""
        fields = {f.strip() for f in _RAW_FIELD_SEPARATORS.split(text)} | set(text.split())
        return any(self.is_suppressed(t, f) for f in fields if f for t in IDENTIFIER_TYPES)

    def predicate(self, con: duckdb.DuckDBPyConnection, relation: str, contract: SourceContract) -> str | None:
        """A SQL condition over `relation` true for the rows with a suppressed identifier (None: no such row).

        Each column's distinct values are checked once in Python (the keyed hash needs the secret, which the
        SQL engine never sees) and the matching values become an IN list."""
        if not self.suppressed:
            return None
        present = {name for (name,) in con.execute(f"SELECT column_name FROM (DESCRIBE {relation})").fetchall()}
        checks = [(c, lambda v, t=t: self.is_suppressed(t, v))
                  for c, t in contract.identifier_columns.items() if c in present]
        if "_raw" in present:
            checks.append(("_raw", self.raw_text_is_suppressed))
        clauses = []
        for column, matches in checks:
            name = quote_identifier(column)
            values = con.execute(f"SELECT DISTINCT {name}::VARCHAR FROM {relation} WHERE {name} IS NOT NULL").fetchall()
            hits = [value for (value,) in values if matches(value)]
            if hits:
                clauses.append(f"{name}::VARCHAR IN ({', '.join(sql_literal(v) for v in hits)})")
        return " OR ".join(clauses) or None
