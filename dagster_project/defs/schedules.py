"""The daily KPI refresh; cron and time zone come from the environment."""

import os

import dagster as dg

from dagster_project.defs.jobs import kpi_refresh_job

kpi_refresh_schedule = dg.ScheduleDefinition(
    name="kpi_refresh_daily",
    job=kpi_refresh_job,
    cron_schedule=os.environ.get("CX_KPI_REFRESH_CRON", "0 6 * * *"),
    execution_timezone=os.environ.get("CX_TIMEZONE", "Europe/Berlin"),
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Refresh marts, ML scores and reports every morning (CX_KPI_REFRESH_CRON, CX_TIMEZONE).",
)
