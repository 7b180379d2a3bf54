"""Closed-loop cases end to end on a hand-written fixture: survey answers in raw Parquet, a case_updates export
through the real ingest (contract, quarantine), a real `dbt build` of fct_cx_cases, and the `cases_export` asset
writing the CRM file. The case logic itself (routing, merging, due times, every status) is checked row by row in
the dbt unit tests of fct_cx_cases and kpi_cases; this test checks that the parts connect.

Anna (CRM C1) answers NPS 2 on 1 March 10:00 Berlin (09:00 UTC): a detractor case, due 48 hours later. The CRM
first reports it open (11:00), then closed (12:00); the export lists the closed update first, so the latest
update wins by time, not by line. Ben (C2) answers NPS 4 on 2 March 10:00: nobody closes his case, and by the
last event in the data (Anna's NPS 10 on 5 March) it is overdue. The export also carries an update for a case id
no case has (reported, not lost) and one with a status the contract does not allow (quarantined).
"""

from __future__ import annotations

import csv
import os
import subprocess
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from cx_core.cases import EXPORT_COLUMNS, case_id
from cx_core.settings import get_settings
from cx_core.sources.contracts import CONTRACTS
from cx_core.sources.ingest import ensure_raw_schemas, ingest_source
from dagster_project.defs.assets.cases import cases_export
from dagster_project.defs.assets.dbt import DBT_PROJECT_DIR, dbt_executable
from dagster_project.defs.resources import pipeline_resources
from tests.helpers.raw_parquet import write_raw_parquet
from tests.helpers.settings_env import point_settings_at

pytestmark = pytest.mark.slow  # builds real dbt models

ANNA_CASE = case_id("detractor", "R1")
BEN_CASE = case_id("detractor", "R2")
UNKNOWN_CASE = "CASE-0000000000000000"
LINEAGE = {"_file_sha256": "0" * 64, "_ingested_at": "2024-03-06T06:00:00+00:00"}

CASE_UPDATES_EXPORT = f"""case_id,status,updated_at,note
{ANNA_CASE},closed,2024-03-01T12:00:00+01:00,Called back; voucher sent
{ANNA_CASE},open,2024-03-01T11:00:00+01:00,No answer yet
{UNKNOWN_CASE},closed,2024-03-02T09:00:00+01:00,from another system
{BEN_CASE},done,2024-03-02T12:00:00+01:00,not a status
"""


def write_raw(raw_dir: Path, source: str, rows: list[dict]) -> None:
    write_raw_parquet(raw_dir / source / "load_date=2024-03-06" / f"{source}.parquet", source,
                      [{**row, **LINEAGE, "_source_file": f"{source}.csv", "_source_line": line}
                       for line, row in enumerate(rows, start=1)])


def build_cases(data_dir: Path, env: pytest.MonkeyPatch) -> dict:
    settings = point_settings_at(env, data_dir, CX_AS_OF="2024-03-05")
    ensure_raw_schemas(settings.raw_dir)
    write_raw(settings.raw_dir, "crm_customers", [
        {"customer_id": "C1", "email": "anna@example.de", "created_at": "2024-01-01T00:00:00Z"},
        {"customer_id": "C2", "email": "ben@example.de", "created_at": "2024-01-01T00:00:00Z"},
    ])
    write_raw(settings.raw_dir, "surveys", [
        {"response_id": "R1", "responded_at": "2024-03-01T09:00:00Z", "customer_id": "C1", "survey_type": "nps",
         "score": 2, "trigger_type": "delivery"},
        {"response_id": "R2", "responded_at": "2024-03-02T09:00:00Z", "customer_id": "C2", "survey_type": "nps",
         "score": 4},
        {"response_id": "R3", "responded_at": "2024-03-05T09:00:00Z", "customer_id": "C1", "survey_type": "nps",
         "score": 10},
    ])
    landing = settings.landing_dir / "case_updates"
    landing.mkdir(parents=True)
    (landing / "case_updates_2024-03-06.csv").write_text(CASE_UPDATES_EXPORT, encoding="utf-8")
    ingested = ingest_source(CONTRACTS["case_updates"], settings)
    completed = subprocess.run(
        [dbt_executable(), "build", "--select", "+fct_cx_case_updates", "+kpi_cases", "--exclude", "test_type:unit", "--indirect-selection", "cautious",
         "--target-path", str(data_dir / "dbt_target"), "--log-path", str(data_dir / "dbt_logs")],
        cwd=DBT_PROJECT_DIR, env=os.environ.copy(), capture_output=True, text=True,
    )
    assert completed.returncode == 0, completed.stdout[-5000:]
    return {"ingested": ingested, "settings": settings}


def test_case_updates_close_cases_and_the_export_lists_the_open_ones(tmp_path, monkeypatch):
    built = build_cases(tmp_path / "data", monkeypatch)
    ingested, settings = built["ingested"], built["settings"]
    # rows read = loaded + quarantined: the bad status is kept in quarantine with its reason
    assert (ingested.rows_read, ingested.rows_loaded, ingested.rows_quarantined) == (4, 3, 1)

    with duckdb.connect(str(settings.warehouse_path), read_only=True) as warehouse:
        cases = warehouse.sql(
            "select case_id, crm_customer_id, status, strftime(closed_at, '%Y-%m-%d %H:%M'), closed_in_time, "
            "is_overdue, owner_team, strftime(due_at, '%Y-%m-%d %H:%M') from fct_cx_cases order by case_id"
        ).fetchall()
        updates = warehouse.sql("select case_id, is_known_case from fct_cx_case_updates order by updated_at").fetchall()
    assert sorted(cases) == sorted([
        (ANNA_CASE, "C1", "closed", "2024-03-01 11:00", True, False, "cx_recovery", "2024-03-03 09:00"),
        (BEN_CASE, "C2", "open", None, False, True, "cx_recovery", "2024-03-04 09:00"),
    ])
    assert updates == [(ANNA_CASE, True), (ANNA_CASE, True), (UNKNOWN_CASE, False)]

    result = dg.materialize([cases_export], resources=pipeline_resources())

    assert result.success
    metadata = result.asset_materializations_for_node("cases_export")[0].metadata
    assert metadata["unknown_case_ids"].value == [UNKNOWN_CASE]
    assert (metadata["open_cases"].value, metadata["overdue_cases"].value) == (1, 1)
    export = get_settings().exports_dir / "cases_2024-03-05.csv"
    with export.open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    assert tuple(rows[0]) == EXPORT_COLUMNS
    assert [(row["case_id"], row["crm_customer_id"], row["due_at"], row["is_overdue"], row["recommended_action"])
            for row in rows] == [(BEN_CASE, "C2", "2024-03-04T09:00:00Z", "true", "service_recovery_call")]
