"""Erasure requests and retention as Dagster assets (group "privacy"); the library code is in cx_core/privacy.

Both rewrite the raw layer and the warehouse, so they take the `duckdb` pool. Their metadata holds counts
only: Dagster's run storage must never receive an identifier.
"""

from functools import partial

import dagster as dg

from cx_core.privacy.requests import process_pending_requests
from cx_core.privacy.retention import apply_retention
from dagster_project.defs.resources import PipelineSettings

PRIVACY_GROUP = "privacy"
# both rewrite raw Parquet and delete from the warehouse
privacy_asset = partial(dg.asset, group_name=PRIVACY_GROUP, kinds={"parquet", "duckdb"}, pool="duckdb")


@privacy_asset(
    description="Processes erasure requests from landing/erasure_requests/ (and `cx forget`): removes the "
    "person from raw, quarantine, landing, ML cache and warehouse, suppresses re-delivery, logs counts.",
)
def erasure_requests(context: dg.AssetExecutionContext, cx: PipelineSettings) -> dg.MaterializeResult:
    entries = process_pending_requests(cx.settings)
    for entry in entries:
        totals = {place: sum(counts.values()) for place, counts in entry.removed.items()}
        context.log.info(f"{entry.request_id}: {entry.identifiers_resolved} identifiers, removed {totals}")
    return dg.MaterializeResult(metadata={
        "requests_processed": len(entries),
        "request_ids": ", ".join(e.request_id for e in entries) or "none",
        "rows_removed": sum(n for e in entries for counts in e.removed.values() for n in counts.values()),
    })


@privacy_asset(
    description="Removes raw, quarantine and landing rows older than each source's retention period "
    "(CX_RETENTION_DAYS) and their touchpoints; the next refresh rebuilds the marts without them.",
)
def retention_cleanup(context: dg.AssetExecutionContext, cx: PipelineSettings) -> dg.MaterializeResult:
    results = apply_retention(cx.settings)
    for result in results:
        context.log.info(f"{result.source}: rows before {result.cutoff:%Y-%m-%d %H:%M} UTC removed — raw {result.raw}, "
                         f"quarantine {result.quarantine}, landing {result.landing}, warehouse rows {result.warehouse}")
    return dg.MaterializeResult(metadata={
        "sources_with_retention": ", ".join(r.source for r in results) or "none (CX_RETENTION_DAYS is empty)",
        **{f"raw_rows_removed:{r.source}": r.raw for r in results},
    })


privacy_assets = [erasure_requests, retention_cleanup]
