"""The daily KPI refresh (cron and time zone from the settings: CX_KPI_REFRESH_CRON, CX_TIMEZONE) and the daily
retention run at 05:00, before the default 06:00 refresh rebuilds the marts without the removed rows."""

import dagster as dg

from cx_core.settings import get_settings
from dagster_project.defs.jobs import kpi_refresh_job, retention_job

kpi_refresh_schedule = dg.ScheduleDefinition(
    name="kpi_refresh_daily",
    job=kpi_refresh_job,
    cron_schedule=get_settings().kpi_refresh_cron,
    execution_timezone=get_settings().timezone,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Refresh marts, ML scores and reports every morning (CX_KPI_REFRESH_CRON, CX_TIMEZONE).",
)

retention_schedule = dg.ScheduleDefinition(
    name="retention_daily",
    job=retention_job,
    cron_schedule="0 5 * * *",
    execution_timezone=get_settings().timezone,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Remove rows past their retention period (CX_RETENTION_DAYS) before the morning KPI refresh.",
)
