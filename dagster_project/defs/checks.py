"""Asset checks beyond the dbt tests (which dagster-dbt already turns into checks): the ingestion's (every
ingested row is accounted for, the quarantine stays small: ingest_checks.py), the churn model is good enough to
act on, and the reports on disk are the ones the last run wrote.

Thresholds are settings (CX_QUARANTINE_WARN_RATE, CX_CHURN_AUC_FLOOR, CX_REPORT_MAX_AGE_HOURS), so an operator
can tighten them without code changes; the checks read them from the `cx` resource when they run.
"""

import time
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from cx_core.warehouse import read_frame, read_frames
from ml.next_best_action import ContactCap
from ml.policy_eval import cap_breaks, consent_breaks
from dagster_project.defs.assets.ml_customers import CONTACTS_SQL, CUSTOMERS_SQL
from dagster_project.defs.assets.reports import REPORTS
from dagster_project.defs.ingest_checks import ingest_checks
from dagster_project.defs.resources import PipelineSettings


@dg.asset_check(asset="ml_churn_model_card", name="roc_auc_above_floor", blocking=True,
                description="Fails when the time-split ROC AUC is below CX_CHURN_AUC_FLOOR (default 0.70); the "
                            "reports that would show the model then do not run. Passes, with the reason, when "
                            "churn was skipped (no model to judge).")
def churn_auc_above_floor(cx: PipelineSettings, warehouse: DuckDBResource) -> dg.AssetCheckResult:
    floor = cx.settings.churn_auc_floor
    card = read_frame(warehouse, "SELECT value, detail FROM ml_churn_model_card "
                                 "WHERE section = 'quality' AND metric = 'roc_auc'")
    roc_auc = card["value"][0] if card.height else None
    if roc_auc is None:
        # No model to judge (churn skipped on too little history): the report says why instead of showing one.
        reason = card["detail"][0] if card.height else None
        return dg.AssetCheckResult(
            passed=True, description=f"no churn model was trained, so none is shown: {reason or 'no model card'}"
        )
    return dg.AssetCheckResult(
        passed=roc_auc >= floor,
        description=f"ROC AUC {roc_auc:.3f} vs floor {floor}",
        metadata={"roc_auc": dg.MetadataValue.float(round(roc_auc, 3)), "floor": dg.MetadataValue.float(floor)},
    )


@dg.asset_check(asset="kpi_alerts", name="no_active_alerts",
                description="Fails (error) while a critical KPI alert is active, warns while a warning is; info "
                            "alerts (significant improvements) pass. The alerts are in the check's description.")
def no_active_kpi_alerts(warehouse: DuckDBResource) -> dg.AssetCheckResult:
    alerts = read_frame(warehouse, "SELECT severity, sentence FROM kpi_alerts WHERE severity IN ('critical', 'warning')")
    critical = alerts.filter(alerts["severity"] == "critical").height
    return dg.AssetCheckResult(
        passed=alerts.is_empty(),
        severity=dg.AssetCheckSeverity.ERROR if critical else dg.AssetCheckSeverity.WARN,
        description="\n".join(f"[{severity}] {sentence}" for severity, sentence in alerts.rows()) or None,
        metadata={"critical": critical, "warning": alerts.height - critical},
    )


@dg.asset_check(asset="ml_churn_scores", name="probabilities_in_range", blocking=True,
                description="Every churn probability is a number between 0 and 1.")
def churn_probabilities_in_range(warehouse: DuckDBResource) -> dg.AssetCheckResult:
    counts = read_frame(warehouse, """
        SELECT count(*) AS scores,
               count(*) FILTER (WHERE churn_probability IS NULL OR isnan(churn_probability)
                                OR churn_probability < 0 OR churn_probability > 1) AS out_of_range
        FROM ml_churn_scores""").row(0, named=True)
    return dg.AssetCheckResult(passed=counts["out_of_range"] == 0,
                               description=f"{counts['out_of_range']} of {counts['scores']} probabilities outside [0, 1]",
                               metadata=counts)


@dg.asset_check(asset="ml_next_best_actions", name="consent_and_contact_cap", blocking=True,
                description="No recommended contact goes to a channel without the customer's consent or above the "
                            "contact cap (CX_CONTACT_CAP).")
def next_best_actions_respect_consent_and_cap(cx: PipelineSettings, warehouse: DuckDBResource) -> dg.AssetCheckResult:
    inputs = read_frames(warehouse, {"actions": "SELECT * FROM ml_next_best_actions", "customers": CUSTOMERS_SQL,
                                     "contacts": CONTACTS_SQL})
    actions = inputs["actions"]
    if actions.is_empty():  # no customer to act on (a calls-only or service-only export): nothing can break a rule
        return dg.AssetCheckResult(passed=True, description="no recommendations to check", metadata={"actions": 0})
    cap = ContactCap.parse(cx.settings.contact_cap)
    as_of = actions["as_of_date"].max()
    breaks = {"consent_breaks": consent_breaks(actions, inputs["customers"]),
              "cap_breaks": cap_breaks(actions, inputs["contacts"], as_of, cap)}
    return dg.AssetCheckResult(passed=not any(breaks.values()), metadata={**breaks, "contact_cap": cap.describe()},
                               description=f"{breaks['consent_breaks']} without consent, {breaks['cap_breaks']} above the cap")


def report_file_problem(html_path: Path, now: float, max_age_hours: float) -> str | None:
    """Why the report file cannot be trusted, or None when it exists, has content and is recent."""
    if not html_path.exists():
        return f"{html_path} does not exist"
    if html_path.stat().st_size == 0:
        return f"{html_path} is empty"
    age_hours = (now - html_path.stat().st_mtime) / 3600
    if age_hours > max_age_hours:
        return f"{html_path} is {age_hours:.0f} h old (limit CX_REPORT_MAX_AGE_HOURS = {max_age_hours:g})"
    return None


def build_report_check(report_name: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=report_name, name="html_fresh",
                    description=f"{report_name}.html exists, is not empty and is at most "
                                "CX_REPORT_MAX_AGE_HOURS (default 26) hours old.")
    def html_fresh(cx: PipelineSettings) -> dg.AssetCheckResult:
        html_path = cx.settings.reports_dir / f"{report_name}.html"
        problem = report_file_problem(html_path, time.time(), cx.settings.report_max_age_hours)
        return dg.AssetCheckResult(passed=problem is None, description=problem,
                                   metadata={"html": dg.MetadataValue.path(str(html_path))})

    return html_fresh


report_checks = [build_report_check(spec.name) for spec in REPORTS]
asset_checks = [*ingest_checks, churn_auc_above_floor, churn_probabilities_in_range,
                next_best_actions_respect_consent_and_cap, no_active_kpi_alerts, *report_checks]
