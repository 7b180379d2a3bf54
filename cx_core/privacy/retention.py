"""Retention: rows older than a per-source period leave the raw, quarantine and landing files (the rewrite of
privacy/rewrite.py, as for erasure) and the incremental tables, which a rebuild would not clear: the staging
tables of the web and e-mail events and of the orders, the touchpoints themselves, and the web sessions of cookies seen only before the cutoff (int_web_sessions
re-splits a cookie whose event count changed, but a cookie without any event left is never touched again).
The identity observations of the records that may have lost rows are stamped (`_rows_removed_at`), not deleted: which
of their rows remain, and which identifiers other sources' rows still give them (an order's cookie, a ticket's
callback), only the model knows, so the next refresh derives those records again (int_identity_observations) and
recomputes the components of their identifiers (int_identity_components); until then an erasure still finds a
person's records, with the shared identifiers the graph blocks, there.
Journeys follow the touchpoints int_touchpoints_resolved rewrote (its `_resolved_at` stamp), so retention
deletes the old journey steps and stamps the remaining touchpoints of their customers, whose journeys the next
refresh numbers again (fct_journeys follows those, and drops the journeys of customers without any step left).
The customer profiles, the campaign assignments when contacts or orders go and the orders when orders go are emptied
and written whole by the next refresh; the other marts are rebuilt from the raw layer on the next refresh.
`CX_RETENTION_DAYS` sets the periods as "source:days" pairs, e.g. "web_events:396" keeps 13 months of web analytics;
a source not named is kept whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb

from cx_core.privacy.rewrite import RowSelector, remove_source_rows
from cx_core.settings import Settings
from cx_core.warehouse import compact_warehouse, has_table, table_exists
from cx_core.sources.contracts import CONTRACTS, SourceContract
from cx_core.sources.reader import quote_identifier, sql_literal

# the incremental tables holding one row per touchpoint (dbt_models/models/intermediate and marts)
TOUCHPOINT_TABLES = ("int_touchpoints_unioned", "int_touchpoints_resolved", "fct_touchpoints")
RESOLVED_TABLE = "int_touchpoints_resolved"
SESSIONS_TABLE = "int_web_sessions"
OBSERVATIONS_TABLE = "int_identity_observations"
COMPONENTS_TABLE = "int_identity_components"
# the incremental staging tables by source (the other staging models are views over the raw layer)
STAGING_TABLES = {"web_events": "stg_web_events__events", "email_events": "stg_email_events__events",
                  "orders": "stg_orders__orders"}
JOURNEYS_TABLE = "int_journey_touchpoints"
# The incremental marts with a row per order, contact or customer, by the sources they read (None: all): emptied when
# retention removes rows of those sources, they are written whole by the next refresh instead of tracing every
# contact an order converted and every customer an identifier left (dbt_models/models/marts).
WRITTEN_WHOLE_AFTER_RETENTION = {
    "fct_campaign_assignments": ("email_events", "mobile_messages", "calls", "orders"),  # its `contact_sources`
    "dim_customer_profiles": None,
    "fct_orders": ("orders",),
}
# The records that take identifiers from another source's rows (int_identity_observations), by that source: an
# order its web purchase event's cookie, a ticket its callbacks' phone, a survey the identifiers of the order,
# ticket, chat or call it asks about; each with the identifiers it may take (a LIKE pattern on `identifier`).
BORROWING_RECORDS = {
    "web_events": (("orders", "anonymous_id:%"),),
    "calls": (("support_tickets", "phone:%"), ("surveys", "phone:%")),
    "orders": (("surveys", "%"),),
    "support_tickets": (("surveys", "%"),),
    "chat_conversations": (("surveys", "%"),),
}


@dataclass(frozen=True)
class RetentionResult:
    source: str
    cutoff: datetime
    raw: int
    quarantine: int
    landing: int
    warehouse: int  # rows removed from the incremental warehouse tables


def retention_periods(spec: str) -> dict[str, int]:
    """{"web_events": 396} from "web_events:396"; an unknown source or a period below one day is an error."""
    periods = {}
    for pair in filter(None, (p.strip() for p in spec.split(","))):
        source, _, days = pair.partition(":")
        if source not in CONTRACTS or not days.isdigit() or int(days) < 1:
            raise ValueError(f"CX_RETENTION_DAYS: {pair!r} is not '<source>:<days>' with one of {', '.join(CONTRACTS)}")
        periods[source] = int(days)
    return periods


def apply_retention(settings: Settings, now: datetime | None = None) -> list[RetentionResult]:
    now = now or datetime.now(timezone.utc)
    results = []
    for source, days in retention_periods(settings.retention_days).items():
        contract, cutoff = CONTRACTS[source], now - timedelta(days=days)
        removed = remove_source_rows(contract, settings, _older_than(cutoff), reason=f"retention {days} days")
        warehouse = _remove_old_warehouse_rows(settings.warehouse_path, source, cutoff)
        if (removed.raw or warehouse) and table_exists(settings.warehouse_path, OBSERVATIONS_TABLE):
            with duckdb.connect(str(settings.warehouse_path)) as con:
                _stamp_records_that_lost_rows(con, source, cutoff.astimezone(timezone.utc).replace(tzinfo=None))
        results.append(RetentionResult(source, cutoff, removed.raw, removed.quarantine, removed.landing, warehouse))
    return results


def _older_than(cutoff: datetime) -> RowSelector:
    def select(con: duckdb.DuckDBPyConnection, relation: str, contract: SourceContract) -> str:
        # quarantine keeps the exported text: a value that is no time stays (it says nothing about age)
        event_time = quote_identifier(contract.event_time)
        return f"try_cast({event_time} AS TIMESTAMPTZ) < {sql_literal(cutoff.isoformat())}::TIMESTAMPTZ"

    return select


def _remove_old_warehouse_rows(warehouse: Path, source: str, cutoff: datetime) -> int:
    """Delete the staged rows, touchpoints (and web sessions) of `source` older than `cutoff`; returns the rows
    removed."""
    tables = [table for table in TOUCHPOINT_TABLES if table_exists(warehouse, table)]
    sessions = source == "web_events" and table_exists(warehouse, SESSIONS_TABLE)
    staged = source in STAGING_TABLES and table_exists(warehouse, STAGING_TABLES[source])
    if not tables and not sessions and not staged:
        return 0
    # staging's event times, occurred_at and ended_at are UTC TIMESTAMPs (docs/CONVENTIONS.md)
    utc_cutoff = cutoff.astimezone(timezone.utc).replace(tzinfo=None)
    with duckdb.connect(str(warehouse)) as con:
        removed = [con.execute(f"DELETE FROM {table} WHERE source = ? AND occurred_at < ?",
                               [source, utc_cutoff]).fetchone()[0] for table in tables if table != RESOLVED_TABLE]
        if staged:
            event_time = quote_identifier(CONTRACTS[source].event_time)
            removed.append(con.execute(f"DELETE FROM {STAGING_TABLES[source]} WHERE {event_time} < ?",
                                       [utc_cutoff]).fetchone()[0])
        if RESOLVED_TABLE in tables:
            removed.append(_remove_old_resolved_touchpoints(con, source, utc_cutoff))
        if any(removed):
            for table, sources in WRITTEN_WHOLE_AFTER_RETENTION.items():
                if (sources is None or source in sources) and has_table(con, table):
                    con.execute(f"DELETE FROM {table}")
        if sessions:
            removed.append(con.execute(
                f"""DELETE FROM {SESSIONS_TABLE} WHERE anonymous_id IN (
                        SELECT anonymous_id FROM {SESSIONS_TABLE} GROUP BY anonymous_id HAVING max(ended_at) < ?)""",
                [utc_cutoff]).fetchone()[0])
    if any(removed):
        compact_warehouse(warehouse)
    return sum(removed)


def _remove_old_resolved_touchpoints(con: duckdb.DuckDBPyConnection, source: str, utc_cutoff: datetime) -> int:
    """Delete the old touchpoints of `source` from int_touchpoints_resolved and int_journey_touchpoints and stamp
    the remaining touchpoints of their customers as rewritten now (`_resolved_at`), so the next refresh numbers
    those customers' journeys again; returns the rows removed from both."""
    old_rows = "WHERE source = ? AND occurred_at < ?"
    con.execute(f"CREATE TEMP TABLE retired_customers AS SELECT DISTINCT customer_key FROM {RESOLVED_TABLE} {old_rows}",
                [source, utc_cutoff])
    removed = con.execute(f"DELETE FROM {RESOLVED_TABLE} {old_rows}", [source, utc_cutoff]).fetchone()[0]
    if has_table(con, JOURNEYS_TABLE):
        removed += con.execute(f"DELETE FROM {JOURNEYS_TABLE} WHERE starts_with(touchpoint_id, ?) AND occurred_at < ?",
                               [f"{source}:", utc_cutoff]).fetchone()[0]
    con.execute(f"""UPDATE {RESOLVED_TABLE} SET _resolved_at = ?
                    WHERE customer_key IN (SELECT customer_key FROM retired_customers)""",
                [datetime.now(timezone.utc).replace(tzinfo=None)])
    return removed


def _stamp_records_that_lost_rows(con: duckdb.DuckDBPyConnection, source: str, utc_cutoff: datetime) -> None:
    """Stamp `_rows_removed_at` on the identity observations of the records of `source` first seen before the cutoff
    (`observed_at` is a record's earliest row: only those can have lost one; a CRM customer's is its creation, which
    precedes the last update retention goes by, so it is every customer created before the cutoff) and of the
    records that take identifiers from them (BORROWING_RECORDS), so the next refresh derives them again; and clear
    `changed_at` of their identifiers in int_identity_components, so the refresh recomputes their components (a
    record left without rows disappears and may split one or take its last identifier along). A table built by an
    earlier release gets the column."""
    borrowing = ", ".join(f"({sql_literal(lender)}, {sql_literal(borrower)}, {sql_literal(pattern)})"
                          for lender, borrowers in BORROWING_RECORDS.items() for borrower, pattern in borrowers)
    con.execute(f"ALTER TABLE {OBSERVATIONS_TABLE} ADD COLUMN IF NOT EXISTS _rows_removed_at TIMESTAMP")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE records_that_lost_rows AS
        WITH first_seen_before_cutoff AS (
            SELECT DISTINCT record_ref FROM {OBSERVATIONS_TABLE} WHERE source = $source AND observed_at < $cutoff
        ),
        borrowing (lender, source, pattern) AS (VALUES {borrowing}),
        lent AS (
            SELECT DISTINCT identifier FROM {OBSERVATIONS_TABLE}
            WHERE record_ref IN (SELECT record_ref FROM first_seen_before_cutoff)
        )
        SELECT record_ref FROM first_seen_before_cutoff
        UNION
        SELECT observations.record_ref
        FROM {OBSERVATIONS_TABLE} AS observations
        JOIN borrowing ON observations.source = borrowing.source AND observations.identifier LIKE borrowing.pattern
        WHERE borrowing.lender = $source AND observations.identifier IN (SELECT identifier FROM lent)""",
                {"source": source, "cutoff": utc_cutoff})
    con.execute(f"""UPDATE {OBSERVATIONS_TABLE} SET _rows_removed_at = $now
                    WHERE record_ref IN (SELECT record_ref FROM records_that_lost_rows)""",
                {"now": datetime.now(timezone.utc).replace(tzinfo=None)})
    if has_table(con, COMPONENTS_TABLE):
        con.execute(f"""UPDATE {COMPONENTS_TABLE} SET changed_at = NULL
                        WHERE identifier IN (SELECT identifier FROM {OBSERVATIONS_TABLE}
                                             WHERE record_ref IN (SELECT record_ref FROM records_that_lost_rows))""")
