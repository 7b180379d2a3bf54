"""Asset checks beyond the dbt tests (which dagster-dbt already turns into checks): every ingested row is
accounted for, the quarantine stays small, the churn model is good enough to act on, and the reports on disk
are the ones the last run wrote.

Thresholds come from the environment so an operator can tighten them without code changes.
"""

import os
import time
from pathlib import Path

import dagster as dg

from dagster_project.defs.assets.reports import REPORTS
from cx_core.settings import get_settings
from cx_core.sources.contracts import CONTRACTS, SourceContract
from cx_core.sources.ingest import load_ledger, source_ledger_path
from cx_core.warehouse import read_frame

# Share of a source's rows in quarantine above which the check warns (bad exports happen, but not many).
QUARANTINE_WARN_RATE = float(os.environ.get("CX_QUARANTINE_WARN_RATE", "0.05"))
# A churn model below this ROC AUC ranks customers barely better than chance: the check fails.
CHURN_AUC_FLOOR = float(os.environ.get("CX_CHURN_AUC_FLOOR", "0.70"))
# A report older than this has missed at least one daily refresh.
REPORT_MAX_AGE_HOURS = float(os.environ.get("CX_REPORT_MAX_AGE_HOURS", "26"))


def ledger_files(source: str) -> dict[str, dict]:
    return load_ledger(source_ledger_path(get_settings().raw_dir, source))


def build_ingest_checks(contract: SourceContract) -> list[dg.AssetChecksDefinition]:
    asset_key = dg.AssetKey(["raw", contract.name])

    @dg.asset_check(asset=asset_key, name="rows_reconcile",
                    description="Every row read from a landing file was either loaded or quarantined.")
    def rows_reconcile() -> dg.AssetCheckResult:
        files = ledger_files(contract.name)
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
                    description=f"Warns when more than CX_QUARANTINE_WARN_RATE ({QUARANTINE_WARN_RATE:.0%}) "
                                "of the rows of any landing file went to quarantine.")
    def quarantine_rate() -> dg.AssetCheckResult:
        rates = {name: f["rows_quarantined"] / f["rows_read"] for name, f in ledger_files(contract.name).items()
                 if f["rows_read"]}
        worst_file, worst_rate = max(rates.items(), key=lambda item: item[1], default=("none", 0.0))
        return dg.AssetCheckResult(
            passed=worst_rate <= QUARANTINE_WARN_RATE,
            severity=dg.AssetCheckSeverity.WARN,
            description=f"{worst_file}: {worst_rate:.1%} of its rows quarantined" if rates else "no files loaded",
            metadata={"worst_rate": dg.MetadataValue.float(round(worst_rate, 4)), "worst_file": worst_file,
                      "threshold": dg.MetadataValue.float(QUARANTINE_WARN_RATE)},
        )

    return [rows_reconcile, quarantine_rate]


@dg.asset_check(asset="ml_churn_model_card", name="roc_auc_above_floor",
                description=f"Fails when the time-split ROC AUC is below CX_CHURN_AUC_FLOOR ({CHURN_AUC_FLOOR}).")
def churn_auc_above_floor() -> dg.AssetCheckResult:
    card = read_frame(get_settings().warehouse_path,
                      "SELECT value FROM ml_churn_model_card WHERE section = 'quality' AND metric = 'roc_auc'")
    roc_auc = card["value"][0] if card.height else None
    return dg.AssetCheckResult(
        passed=roc_auc is not None and roc_auc >= CHURN_AUC_FLOOR,
        description=f"ROC AUC {roc_auc:.3f} vs floor {CHURN_AUC_FLOOR}" if roc_auc is not None
        else "the model card has no ROC AUC (too few customers to evaluate?)",
        metadata={"roc_auc": dg.MetadataValue.float(roc_auc if roc_auc is not None else float("nan")),
                  "floor": dg.MetadataValue.float(CHURN_AUC_FLOOR)},
    )


@dg.asset_check(asset="kpi_alerts", name="no_active_alerts",
                description="Fails (error) while a critical KPI alert is active, warns while a warning is; info "
                            "alerts (significant improvements) pass. The alerts are in the check's description.")
def no_active_kpi_alerts() -> dg.AssetCheckResult:
    alerts = read_frame(get_settings().warehouse_path,
                        "SELECT severity, sentence FROM kpi_alerts WHERE severity IN ('critical', 'warning')")
    critical = alerts.filter(alerts["severity"] == "critical").height
    return dg.AssetCheckResult(
        passed=alerts.is_empty(),
        severity=dg.AssetCheckSeverity.ERROR if critical else dg.AssetCheckSeverity.WARN,
        description="\n".join(f"[{severity}] {sentence}" for severity, sentence in alerts.rows()) or None,
        metadata={"critical": critical, "warning": alerts.height - critical},
    )


def report_file_problem(html_path: Path, now: float) -> str | None:
    """Why the report file cannot be trusted, or None when it exists, has content and is recent."""
    if not html_path.exists():
        return f"{html_path} does not exist"
    if html_path.stat().st_size == 0:
        return f"{html_path} is empty"
    age_hours = (now - html_path.stat().st_mtime) / 3600
    if age_hours > REPORT_MAX_AGE_HOURS:
        return f"{html_path} is {age_hours:.0f} h old (limit CX_REPORT_MAX_AGE_HOURS = {REPORT_MAX_AGE_HOURS:g})"
    return None


def build_report_check(report_name: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=report_name, name="html_fresh",
                    description=f"{report_name}.html exists, is not empty and is at most "
                                f"CX_REPORT_MAX_AGE_HOURS ({REPORT_MAX_AGE_HOURS:g}) hours old.")
    def html_fresh() -> dg.AssetCheckResult:
        html_path = get_settings().reports_dir / f"{report_name}.html"
        problem = report_file_problem(html_path, time.time())
        return dg.AssetCheckResult(passed=problem is None, description=problem,
                                   metadata={"html": dg.MetadataValue.path(str(html_path))})

    return html_fresh


ingest_checks = [check for contract in CONTRACTS.values() for check in build_ingest_checks(contract)]
report_checks = [build_report_check(spec.name) for spec in REPORTS]
asset_checks = [*ingest_checks, churn_auc_above_floor, no_active_kpi_alerts, *report_checks]
