"""The asset checks on real materialisations and a real warehouse: row reconciliation and quarantine rate of an
ingest, the churn AUC floor, report freshness."""

import os
import time
from datetime import date

import dagster as dg
import polars as pl
import pytest

from cx_core.settings import get_settings
from cx_core.sources.contracts import CONTRACTS
from cx_core.warehouse import WarehouseFile, replace_table
from dagster_project.defs.assets.ingest import ingest_assets
from dagster_project.defs.checks import churn_auc_above_floor, report_file_problem
from dagster_project.defs.ingest_checks import build_ingest_checks
from dagster_project.defs.resources import pipeline_resources
from ml.churn import skipped_model_card

CHURN_AUC_FLOOR = get_settings().churn_auc_floor
REPORT_MAX_AGE_HOURS = 26

CRM_HEADER = ("customer_id,first_name,last_name,email,phone,loyalty_id,social_handle,country,language,segment,"
              "birth_year,created_at,updated_at,consent_email,consent_sms,consent_phone,consent_push\n")
GOOD_ROW = "C1,Anna,Muster,anna@example.org,0171 2345678,L1,@anna,DE,de,regular,1985,2025-01-02T10:00:00+01:00,,true,false,true,false\n"
ROW_WITHOUT_ID = ",Ben,Beispiel,ben@example.org,,,,DE,de,regular,1990,2025-01-03T10:00:00+01:00,,true,false,true,false\n"


def check_results(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {evaluation.check_name: evaluation for evaluation in result.get_asset_check_evaluations()}


@pytest.mark.slow
def test_ingest_checks_balance_the_rows_and_warn_when_half_a_file_is_quarantined(data_dir):
    landing = data_dir / "landing" / "crm_customers"
    landing.mkdir(parents=True)
    (landing / "crm_1.csv").write_text(CRM_HEADER + GOOD_ROW + ROW_WITHOUT_ID)
    [crm_asset] = [asset for asset in ingest_assets if asset.key == dg.AssetKey(["raw", "crm_customers"])]
    result = dg.materialize([crm_asset, *build_ingest_checks(CONTRACTS["crm_customers"])],
                            resources=pipeline_resources())
    checks = check_results(result)
    assert checks["rows_reconcile"].passed
    assert {k: checks["rows_reconcile"].metadata[k].value for k in ("rows_read", "rows_loaded", "rows_quarantined")} \
        == {"rows_read": 2, "rows_loaded": 1, "rows_quarantined": 1}
    quarantine = checks["quarantine_rate"]
    assert not quarantine.passed and quarantine.severity == dg.AssetCheckSeverity.WARN
    assert quarantine.metadata["worst_rate"].value == 0.5 and quarantine.metadata["worst_file"].text == "crm_1.csv"


@pytest.mark.parametrize("roc_auc, passes", [(CHURN_AUC_FLOOR - 0.01, False), (CHURN_AUC_FLOOR, True), (0.9, True)])
def test_churn_check_fails_below_the_auc_floor(data_dir, roc_auc, passes):
    card = pl.DataFrame({"section": ["quality", "quality"], "metric": ["roc_auc", "pr_auc"],
                         "value": [roc_auc, 0.1], "detail": [None, None]})
    data_dir.mkdir(parents=True)
    replace_table(WarehouseFile(data_dir / "warehouse.duckdb"), "ml_churn_model_card", card)
    resources = pipeline_resources()
    evaluation = churn_auc_above_floor(cx=resources["cx"], warehouse=resources["warehouse"])
    assert evaluation.passed is passes
    assert evaluation.metadata["roc_auc"].value == pytest.approx(roc_auc)


def test_churn_check_names_the_reason_when_churn_was_skipped(data_dir):
    reason = "not enough history for churn (needs 210 days, has 120): ..."
    data_dir.mkdir(parents=True)
    card = skipped_model_card(reason, date(2026, 10, 31), 90)
    replace_table(WarehouseFile(data_dir / "warehouse.duckdb"), "ml_churn_model_card", card)
    resources = pipeline_resources()
    evaluation = churn_auc_above_floor(cx=resources["cx"], warehouse=resources["warehouse"])
    assert evaluation.passed
    assert evaluation.description == f"no churn model was trained, so none is shown: {reason}"


def test_report_file_problem_names_missing_empty_and_stale_files(tmp_path):
    now = time.time()
    report = tmp_path / "cx_scorecard.html"
    assert "does not exist" in report_file_problem(report, now, REPORT_MAX_AGE_HOURS)
    report.write_text("")
    assert "is empty" in report_file_problem(report, now, REPORT_MAX_AGE_HOURS)
    report.write_text("<html>report</html>")
    assert report_file_problem(report, now, REPORT_MAX_AGE_HOURS) is None
    stale = now - (REPORT_MAX_AGE_HOURS + 1) * 3600
    os.utime(report, (stale, stale))
    assert "h old" in report_file_problem(report, now, REPORT_MAX_AGE_HOURS)
