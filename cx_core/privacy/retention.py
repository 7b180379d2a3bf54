"""Retention: rows older than a per-source period leave the raw, quarantine and landing files (the rewrite of
privacy/rewrite.py, as for erasure) and the incremental touchpoint table, which a rebuild would not clear.
Marts are rebuilt from the raw layer on the next refresh. `CX_RETENTION_DAYS` sets the periods as
"source:days" pairs, e.g. "web_events:396" keeps 13 months of web analytics; a source not named is kept whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb

from cx_core.privacy.rewrite import RowSelector, remove_source_rows
from cx_core.settings import Settings
from cx_core.warehouse import compact_warehouse, table_exists
from cx_core.sources.contracts import CONTRACTS, SourceContract
from cx_core.sources.reader import quote_identifier, sql_literal

TOUCHPOINTS_TABLE = "int_touchpoints_unioned"


@dataclass(frozen=True)
class RetentionResult:
    source: str
    cutoff: datetime
    raw: int
    quarantine: int
    landing: int
    warehouse: int


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
        warehouse = _remove_old_touchpoints(settings.warehouse_path, source, cutoff)
        results.append(RetentionResult(source, cutoff, removed.raw, removed.quarantine, removed.landing, warehouse))
    return results


def _older_than(cutoff: datetime) -> RowSelector:
    def select(con: duckdb.DuckDBPyConnection, relation: str, contract: SourceContract) -> str:
        # quarantine keeps the exported text: a value that is no time stays (it says nothing about age)
        event_time = quote_identifier(contract.event_time)
        return f"try_cast({event_time} AS TIMESTAMPTZ) < {sql_literal(cutoff.isoformat())}::TIMESTAMPTZ"

    return select


def _remove_old_touchpoints(warehouse: Path, source: str, cutoff: datetime) -> int:
    if not table_exists(warehouse, TOUCHPOINTS_TABLE):
        return 0
    with duckdb.connect(str(warehouse)) as con:
        # occurred_at is a UTC TIMESTAMP (docs/CONVENTIONS.md)
        removed = con.execute(
            f"DELETE FROM {TOUCHPOINTS_TABLE} WHERE source = ? AND occurred_at < ?",
            [source, cutoff.astimezone(timezone.utc).replace(tzinfo=None)],
        ).fetchone()[0]
    if removed:
        compact_warehouse(warehouse)
    return removed
