"""The one Dagster code location: every asset, check, job, schedule and sensor of the pipeline.

`dagster dev` and `cx ui` load it through `[tool.dagster]` in pyproject.toml; `cx run` executes its
`full_refresh` job in-process.
"""

import dagster as dg

from dagster_project.defs.assets.alerts import alert_assets
from dagster_project.defs.assets.cases import case_assets
from dagster_project.defs.assets.dbt import cx_dbt_assets
from dagster_project.defs.assets.ingest import ingest_assets
from dagster_project.defs.assets.ml_customer_value import ml_customer_value
from dagster_project.defs.assets.ml_customers import ml_customer_assets
from dagster_project.defs.assets.ml_emerging_topics import ml_emerging_topics
from dagster_project.defs.assets.ml_personas import ml_persona_assets
from dagster_project.defs.assets.ml_text import ml_text
from dagster_project.defs.assets.ml_uplift import ml_campaign_uplift, ml_nba_uplift
from dagster_project.defs.assets.ml_workforce import ml_workforce_assets, ml_workforce_checks
from dagster_project.defs.assets.privacy import privacy_assets
from dagster_project.defs.assets.reports import report_assets
from dagster_project.defs.checks import asset_checks
from dagster_project.defs.freshness import read_daily
from dagster_project.defs.jobs import (
    erasure_job, full_refresh_job, ingest_new_files_job, kpi_refresh_job, render_reports_job, retention_job,
)
from dagster_project.defs.resources import pipeline_resources
from dagster_project.defs.schedules import kpi_refresh_schedule, retention_schedule
from dagster_project.defs.sensors import erasure_requests_sensor, landing_files_sensor, reports_after_erasure_sensor

defs = dg.Definitions(
    assets=[
        *ingest_assets, cx_dbt_assets, ml_text, ml_emerging_topics, *ml_customer_assets, ml_customer_value,
        ml_nba_uplift, ml_campaign_uplift, *ml_persona_assets, *ml_workforce_assets, *alert_assets, *case_assets,
        *dg.map_asset_specs(read_daily, report_assets), *privacy_assets,
    ],
    asset_checks=[*asset_checks, *ml_workforce_checks],
    jobs=[full_refresh_job, kpi_refresh_job, ingest_new_files_job, erasure_job, render_reports_job,
          retention_job],
    schedules=[kpi_refresh_schedule, retention_schedule],
    sensors=[landing_files_sensor, erasure_requests_sensor, reports_after_erasure_sensor],
    resources=pipeline_resources(),
)
