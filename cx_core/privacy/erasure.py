"""Erase one person on request (GDPR Art. 17): every row of theirs, everywhere under the data folder.

1. Resolve the person through the identity graph: every identifier of the customer the given ones belong to.
2. Put the keyed pseudonyms of those identifiers on the suppression list (ingest drops such rows from then on).
3. Remove their rows from raw, quarantine and landing files (privacy/rewrite.py), the updates of their
   closed-loop cases and those cases' rows in the CRM exports (privacy/case_data.py), their texts' entries in
   every text cache of the ML cache folder (ml.text_cache.CACHE_KINDS: sentiment, topic evidence, language,
   embeddings), and every warehouse row that names one of their identifiers, customer keys or cases; then rewrite the
   warehouse file, because DuckDB keeps deleted rows' bytes in free blocks until the file is rebuilt; on the
   `spark` target also from the Parquet files of its marts and ML tables (privacy/spark_erasure.py).
4. Append to the erasure log: request id, times and counts per place, never an identifier.
Reports are re-rendered by the Dagster job that runs this (dagster_project/defs/assets/privacy.py).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from cx_core.privacy.case_data import person_case_ids, remove_from_case_exports, with_case_rows
from cx_core.privacy.erased_values import erased_row_condition, load_erased_values
from cx_core.privacy.identifiers import candidate_identifiers
from cx_core.privacy.pseudonym import identifier_pseudonym, pseudonym_key
from cx_core.privacy.rewrite import remove_source_rows
from cx_core.privacy.spark_erasure import erase_from_parquet_folders, spark_folders
from cx_core.privacy.suppression import SuppressionMatcher, add_to_suppression_list
from cx_core.settings import Settings
from cx_core.sources.contracts import CONTRACTS
from cx_core.sources.reader import quote_identifier, sql_literal
from cx_core.warehouse import compact_warehouse, has_table, table_exists
from ml.text_cache import CACHE_KINDS, TextCache, text_hash

IDENTITY_TABLE = "int_identity_components"
OBSERVATIONS_TABLE = "int_identity_observations"
TOUCHPOINTS_TABLE = "fct_touchpoints"


@dataclass(frozen=True)
class Person:
    identifiers: frozenset[tuple[str, str]]  # (identifier type, normalised value)
    customer_keys: frozenset[str]


@dataclass
class ErasureLogEntry:
    request_id: str
    started_at: str
    finished_at: str = ""
    identifiers_resolved: int = 0
    customer_keys: int = 0
    removed: dict[str, dict[str, int]] = field(default_factory=dict)  # place -> source or table -> rows


def erase_person(values: list[str], request_id: str, settings: Settings) -> ErasureLogEntry:
    """Erase the person identified by `values` (e-mail, phone, CRM id, handle, cookie, loyalty id)."""
    entry = ErasureLogEntry(request_id, started_at=_now())
    person = resolve_person(values, settings)
    key = pseudonym_key(settings.pseudonym_key_file)
    pseudonyms = {identifier_pseudonym(key, t, v) for t, v in person.identifiers}
    add_to_suppression_list(settings.privacy_dir, pseudonyms, request_id)
    scored_texts = _touchpoint_texts(settings.warehouse_path, person.customer_keys)
    # before the warehouse erasure deletes the cases that name them
    case_ids = person_case_ids(settings.warehouse_path, settings.exports_dir, person.customer_keys,
                               {v for t, v in person.identifiers if t == "crm_id"})

    matcher = SuppressionMatcher(key, pseudonyms, settings.default_phone_country_code)
    select = with_case_rows(matcher.predicate, case_ids)
    removed: dict[str, dict[str, int]] = {"raw": {}, "quarantine": {}, "landing": {}}
    for contract in CONTRACTS.values():
        rows = remove_source_rows(contract, settings, select, reason=f"erasure {request_id}")
        for place in removed:
            if getattr(rows, place):
                removed[place][contract.name] = getattr(rows, place)
        scored_texts += rows.texts
    erased_hashes = {text_hash(t) for t in scored_texts}
    removed["ml_cache"] = {kind.name: TextCache(settings.ml_cache_dir, kind).remove(erased_hashes)
                           for kind in CACHE_KINDS}
    removed["exports"] = remove_from_case_exports(settings.exports_dir, case_ids)
    # graph tables also hold identifiers as '<type>:<value>' nodes; case updates name only the case
    warehouse_values = ({v for _, v in person.identifiers} | {f"{t}:{v}" for t, v in person.identifiers}
                        | person.customer_keys | case_ids)
    removed["warehouse"] = erase_from_warehouse(settings.warehouse_path, warehouse_values)
    # the `spark` target's marts and ML tables, also when the project has since moved back to DuckDB
    removed["spark"] = erase_from_parquet_folders(spark_folders(settings.spark_dir), warehouse_values)

    entry.identifiers_resolved = len(person.identifiers)
    entry.customer_keys = len(person.customer_keys)
    entry.removed = removed
    entry.finished_at = _now()
    append_erasure_log(settings.privacy_dir, entry)
    return entry


def resolve_person(values: list[str], settings: Settings) -> Person:
    """The given identifiers plus every identifier of the identity-graph components they belong to."""
    given = set().union(*(candidate_identifiers(v, settings.default_phone_country_code) for v in values))
    if not given or not table_exists(settings.warehouse_path, IDENTITY_TABLE):
        return Person(frozenset(given), frozenset())
    rows = ", ".join(f"({sql_literal(t)}, {sql_literal(v)})" for t, v in sorted(given))
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        found = con.execute(
            f"""WITH given (identifier_type, identifier_value) AS (VALUES {rows}),
                components AS (
                    SELECT DISTINCT component_label
                    FROM {IDENTITY_TABLE} JOIN given USING (identifier_type, identifier_value)
                ),
                person AS (
                    SELECT identifier, customer_key FROM {IDENTITY_TABLE}
                    WHERE component_label IN (SELECT component_label FROM components)
                ),
                -- a shared identifier (a household phone) is blocked from the graph, so no component holds it;
                -- on the person's own records it is still theirs
                own_records AS (
                    SELECT DISTINCT record_ref FROM {OBSERVATIONS_TABLE}
                    WHERE identifier IN (SELECT identifier FROM person)
                )
                SELECT identifier_type, identifier_value, customer_key FROM {IDENTITY_TABLE}
                WHERE identifier IN (SELECT identifier FROM person)
                   OR identifier IN (SELECT identifier FROM {OBSERVATIONS_TABLE}
                                     WHERE record_ref IN (SELECT record_ref FROM own_records))"""
        ).fetchall()
    # candidates that the graph does not know stay: `cx forget` cannot tell a cookie from a CRM id, and an
    # identifier missing from the graph (not built yet, only in quarantine) must still be erased
    identifiers = given | {(t, v) for t, v, _ in found}
    return Person(frozenset(identifiers), frozenset(k for _, _, k in found))


def erase_from_warehouse(warehouse: Path, values: set[str]) -> dict[str, int]:
    """Delete every row of every warehouse table that has one of `values` (or an id derived from one, `value-...`)
    in a text column, then rebuild the file. Views need nothing: they read the raw layer, which no longer holds
    the person."""
    if not warehouse.exists() or not values:
        return {}
    removed = {}
    with duckdb.connect(str(warehouse)) as con:
        load_erased_values(con, values)
        removed |= _erase_observed_records(con)
        text_columns = con.execute(
            """SELECT schema_name, table_name, list(column_name ORDER BY column_index) FROM duckdb_columns()
               WHERE NOT internal AND data_type = 'VARCHAR' AND database_name = current_database()
                 AND table_name IN (SELECT table_name FROM duckdb_tables() WHERE NOT temporary)
               GROUP BY ALL ORDER BY ALL"""
        ).fetchall()
        for schema, table, columns in text_columns:
            relation = f"{quote_identifier(schema)}.{quote_identifier(table)}"
            count = con.execute(f"DELETE FROM {relation} WHERE {erased_row_condition(columns)}").fetchone()[0]
            if count:
                removed[table] = removed.get(table, 0) + count
    compact_warehouse(warehouse)
    return removed


def _erase_observed_records(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Every identity observation of a record that named one of the erased values: the raw rewrite removes the
    whole record, and its other rows would keep the value inside their record_ref
    ('mobile_messages:C0000123|+491711234567')."""
    if not has_table(con, OBSERVATIONS_TABLE):
        return {}
    records = f"SELECT record_ref FROM {OBSERVATIONS_TABLE} WHERE identifier_value IN (SELECT value FROM erased_values)"
    # Another customer's identifier on such a record (a household phone) loses a link: its remaining records are
    # stamped as rewritten, so the next refresh recomputes its component (int_identity_components follows them).
    if con.execute("SELECT count(*) FROM duckdb_columns() WHERE table_name = ? AND column_name = '_changed_at'",
                   [OBSERVATIONS_TABLE]).fetchone()[0]:
        con.execute(f"""UPDATE {OBSERVATIONS_TABLE} SET _changed_at = current_timestamp AT TIME ZONE 'UTC'
                        WHERE identifier IN (SELECT identifier FROM {OBSERVATIONS_TABLE}
                                             WHERE record_ref IN ({records}))""")
    count = con.execute(f"DELETE FROM {OBSERVATIONS_TABLE} WHERE record_ref IN ({records})").fetchone()[0]
    return {OBSERVATIONS_TABLE: count} if count else {}


def _touchpoint_texts(warehouse: Path, customer_keys: frozenset[str]) -> list[str]:
    """The texts the sentiment model scored for these customers, as the ML cache hashed them."""
    if not customer_keys or not table_exists(warehouse, TOUCHPOINTS_TABLE):
        return []
    keys = ", ".join(sql_literal(k) for k in sorted(customer_keys))
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return [t for (t,) in con.execute(
            f"SELECT text FROM {TOUCHPOINTS_TABLE} WHERE customer_key IN ({keys}) AND text IS NOT NULL").fetchall()]


def erasure_log_path(privacy_dir: Path) -> Path:
    return privacy_dir / "erasure_log.jsonl"


def append_erasure_log(privacy_dir: Path, entry: ErasureLogEntry) -> None:
    path = erasure_log_path(privacy_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(asdict(entry), sort_keys=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()
