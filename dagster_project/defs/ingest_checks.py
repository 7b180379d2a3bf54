"""The checks of the ingestion assets: every row read from a landing file is accounted for, and the quarantine
stays small (CX_QUARANTINE_WARN_RATE). A module of their own, beside the other checks (checks.py), so the ingestion
job loads without the dbt and ML assets (dagster_project/ingest_definitions.py)."""

from pathlib import Path

import dagster as dg

from cx_core.sources.contracts import CONTRACTS, SourceContract
from cx_core.sources.ingest import load_ledger, source_ledger_path
from dagster_project.defs.resources import PipelineSettings


def ledger_files(raw_dir: Path, source: str) -> dict[str, dict]:
    return load_ledger(source_ledger_path(raw_dir, source))


def build_ingest_checks(contract: SourceContract) -> list[dg.AssetChecksDefinition]:
    asset_key = dg.AssetKey(["raw", contract.name])

    @dg.asset_check(asset=asset_key, name="rows_reconcile",
                    description="Every row read from a landing file was either loaded or quarantined.")
    def rows_reconcile(cx: PipelineSettings) -> dg.AssetCheckResult:
        files = ledger_files(cx.settings.raw_dir, contract.name)
        unbalanced = sorted(name for name, f in files.items()
                            if f["rows_read"] != f["rows_loaded"] + f["rows_quarantined"])
        return dg.AssetCheckResult(
            passed=not unbalanced,
            description=f"rows lost or duplicated in {', '.join(unbalanced)}" if unbalanced else None,
            metadata={
                "files": len(files),
                "rows_read": sum(f["rows_read"] for f in files.values()),
                "rows_loaded": sum(f["rows_loaded"] for f in files.values()),
                "rows_quarantined": sum(f["rows_quarantined"] for f in files.values()),
                "unbalanced_files": len(unbalanced),
            },
        )

    @dg.asset_check(asset=asset_key, name="quarantine_rate",
                    description="Warns when more than CX_QUARANTINE_WARN_RATE (default 5%) of the rows of any "
                                "landing file went to quarantine.")
    def quarantine_rate(cx: PipelineSettings) -> dg.AssetCheckResult:
        threshold = cx.settings.quarantine_warn_rate
        rates = {name: f["rows_quarantined"] / f["rows_read"]
                 for name, f in ledger_files(cx.settings.raw_dir, contract.name).items() if f["rows_read"]}
        worst_file, worst_rate = max(rates.items(), key=lambda item: item[1], default=("none", 0.0))
        return dg.AssetCheckResult(
            passed=worst_rate <= threshold,
            severity=dg.AssetCheckSeverity.WARN,
            description=f"{worst_file}: {worst_rate:.1%} of its rows quarantined" if rates else "no files loaded",
            metadata={"worst_rate": dg.MetadataValue.float(round(worst_rate, 4)), "worst_file": worst_file,
                      "threshold": dg.MetadataValue.float(threshold)},
        )

    return [rows_reconcile, quarantine_rate]


ingest_checks = [check for contract in CONTRACTS.values() for check in build_ingest_checks(contract)]
