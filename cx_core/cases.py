"""Closed-loop cases outside dbt: the case id the demo generator closes cases by, and the operational export
`cases_<date>.csv` the CRM imports (README, "Closed-loop cases")."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl

from cx_core.files import write_atomically

# What the CRM needs to work a case: its id (to send updates back in data/landing/case_updates/), the customer's
# CRM id (personal data), what happened, who owns it, by when, and what to do.
EXPORT_COLUMNS = (
    "case_id", "crm_customer_id", "customer_key", "case_type", "case_label", "opened_at", "due_at", "is_overdue",
    "owner_team", "reason", "recommended_action", "recommended_channel",
)
OPEN_CASES_SQL = f"""
    SELECT {', '.join(EXPORT_COLUMNS)} FROM fct_cx_cases WHERE status = 'open' ORDER BY due_at, case_id
"""


def case_id(case_type: str, situation_id: str) -> str:
    """fct_cx_cases.case_id (dbt macro case_id): 'CASE-' and 16 hex digits of md5('<case_type>:<situation_id>')."""
    return "CASE-" + hashlib.md5(f"{case_type}:{situation_id}".encode()).hexdigest()[:16]


def export_day(as_of: str | None, timezone: str) -> date:
    """The day an export is written for: CX_AS_OF when a run is pinned to a day, else today in the business time
    zone. The reports name the day's file by the same rule."""
    return date.fromisoformat(as_of) if as_of else datetime.now(ZoneInfo(timezone)).date()


def export_file_name(day: date) -> str:
    return f"cases_{day.isoformat()}.csv"


def export_path(exports_dir: Path, day: date) -> Path:
    return exports_dir / export_file_name(day)


def export_files(exports_dir: Path) -> list[Path]:
    """Every case export written so far (the CRM may not have imported, or deleted, the older days' files)."""
    return sorted(exports_dir.glob("cases_*.csv")) if exports_dir.is_dir() else []


def read_case_export(path: Path) -> pl.DataFrame:
    """An export as written, every value as its text (so a rewrite reproduces the rows it keeps)."""
    return pl.read_csv(path, infer_schema=False)


def write_case_export(open_cases: pl.DataFrame, exports_dir: Path, day: date) -> Path:
    """The open cases as `cases_<day>.csv` (UTF-8, comma, times in UTC ISO 8601 with Z), written atomically so
    a CRM import never reads half a file; a rerun on the same day replaces it."""
    timestamps = [name for name, dtype in open_cases.schema.items() if dtype.is_temporal()]
    frame = open_cases.select(EXPORT_COLUMNS).with_columns(
        pl.col(timestamps).dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
    target = export_path(exports_dir, day)
    write_atomically(target, frame.write_csv)
    return target
