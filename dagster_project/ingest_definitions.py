"""The ingestion job with only what it runs: the ingest assets, their checks and the `cx` resource.

`cx run --job ingest_new_files` executes the job from here. Loading the whole code location (definitions.py) first
made sure dbt's manifest was current and built the dbt assets with dagster-dbt: 1.7 s of the 6.9 s a day's
ingestion took at 100k customers, for a job that never runs dbt (issue 19). The job is the same as the code
location's, step for step (tests/test_definitions.py), so its runs appear and re-execute in the UI as before
(dagster_project/job_origin.py).
"""

import dagster as dg

from dagster_project.defs.assets.ingest import ingest_assets
from dagster_project.defs.ingest_checks import ingest_checks
from dagster_project.defs.jobs import ingest_new_files_job
from dagster_project.defs.resources import pipeline_settings

defs = dg.Definitions(assets=ingest_assets, asset_checks=ingest_checks, jobs=[ingest_new_files_job],
                      resources={"cx": pipeline_settings()})
