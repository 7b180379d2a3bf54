"""The daily KPI refresh; cron and time zone come from the settings (CX_KPI_REFRESH_CRON, CX_TIMEZONE)."""

import dagster as dg

from cx_core.settings import get_settings
from dagster_project.defs.jobs import kpi_refresh_job

kpi_refresh_schedule = dg.ScheduleDefinition(
    name="kpi_refresh_daily",
    job=kpi_refresh_job,
    cron_schedule=get_settings().kpi_refresh_cron,
    execution_timezone=get_settings().timezone,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Refresh marts, ML scores and reports every morning (CX_KPI_REFRESH_CRON, CX_TIMEZONE).",
)
