"""Run the whole pipeline once, as `cx run` does: prepare the instance and dbt, then execute `full_refresh` (or
the job `cx run --job` names, as the incremental benchmark does); and run an erasure as `cx forget` does: the
`erasure` job, then `render_reports`."""

from __future__ import annotations

import os
import contextlib
import shutil
import sys
import time
import uuid
from typing import TYPE_CHECKING

from cx_core.settings import REPO_ROOT, Settings
from cx_core.warehouse_copy_ahead import start_copy_ahead
from dagster_project.dbt_forkserver import serving_dbt
from dagster_project.warm_up import warm_up_during_dbt

if TYPE_CHECKING:  # Dagster loads after the copy ahead has started (run_everything)
    import dagster as dg

# Jobs that start with dbt steps and score with the ML assets after them. `cx run` starts the copy of the warehouse
# file their main dbt step builds in before it loads Dagster (cx_core/warehouse_copy_ahead.py; ingestion, which may
# run before that step, does not write the warehouse), and imports the ML steps' libraries while dbt runs
# (dagster_project/warm_up.py).
JOBS_STARTING_WITH_DBT = ("full_refresh", "kpi_refresh")
INGEST_JOB = "ingest_new_files"  # runs no dbt: loads only its own definitions (job_definitions)


def prepare_dagster_home(settings: Settings) -> None:
    """Put the project's dagster.yaml into DAGSTER_HOME so the UI and `cx run` share history and pool limits."""
    settings.dagster_home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(REPO_ROOT / "dagster.yaml", settings.dagster_home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(settings.dagster_home)


def prepare_dbt_manifest() -> None:
    from dagster_project.defs.assets.dbt import prepare_dbt_manifest as prepare

    prepare()


def job_definitions(job_name: str) -> dg.Definitions:
    """The definitions `cx run --job <job_name>` loads: the ingestion job's own (ingest_definitions.py), else the
    whole code location, once dbt's manifest is current."""
    if job_name == INGEST_JOB:
        from dagster_project.ingest_definitions import defs as ingestion
        return ingestion
    prepare_dbt_manifest()
    from dagster_project.definitions import defs

    return defs


def run_everything(settings: Settings, verbose: bool = False, job_name: str = "full_refresh") -> int:
    """Execute `job_name` in this process; a job that starts with dbt on DuckDB gets its warehouse copy started and
    a dbt fork server (dagster_project/dbt_forkserver.py) before Dagster loads."""
    if not settings.builds_on_duckdb or job_name not in JOBS_STARTING_WITH_DBT:
        return execute_job(settings, verbose, job_name)
    start_copy_ahead(settings.warehouse_path)
    with serving_dbt():
        return execute_job(settings, verbose, job_name)


def execute_job(settings: Settings, verbose: bool, job_name: str) -> int:
    prepare_dagster_home(settings)
    defs = job_definitions(job_name)

    import dagster as dg

    from dagster_project.job_origin import runs_of_the_ui_job
    from dagster_project.run_event_log import event_log_kept_open
    from dagster_project.run_progress import QUIET_CONSOLE, RUN_TOKEN_TAG, RunProgress
    from dagster_project.stale_runs import PROCESS_TAG, process_identity, release_stale_runs

    started = time.perf_counter()
    job = defs.resolve_job_def(job_name)
    if job_name in JOBS_STARTING_WITH_DBT:
        warm_up_during_dbt()
    token = uuid.uuid4().hex
    tags = {RUN_TOKEN_TAG: token, PROCESS_TAG: process_identity()}
    run_id = str(uuid.uuid4())
    output_log = settings.dagster_home / "cx_run_output.log"
    with dg.DagsterInstance.get() as instance, runs_of_the_ui_job(instance, job.name), \
            event_log_kept_open(instance, run_id):
        for action in release_stale_runs(instance):
            print(action)
        if verbose:
            result = job.execute_in_process(instance=instance, raise_on_error=False, tags=tags, run_id=run_id)
        else:
            # dbt and the notebooks print to stdout and stderr; that goes to a file, the terminal gets the progress.
            progress = RunProgress(instance, token, total_steps=len(job.graph.nodes), terminal=sys.stdout)
            progress.start()
            try:
                with open(output_log, "w", encoding="utf-8") as output, \
                        contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
                    result = job.execute_in_process(instance=instance, raise_on_error=False, run_id=run_id,
                                                    tags=tags, run_config=QUIET_CONSOLE)
            finally:
                progress.stop()
    seconds = time.perf_counter() - started

    materialised = [e.asset_key.to_user_string() for e in result.get_asset_materialization_events() if e.asset_key]
    failures = [e for e in result.all_events if e.is_step_failure]
    # A blocking check that does not pass stops what depends on it (and is listed below), but it is a finding
    # about the data, not a broken step: the exit status reports broken steps only.
    failed = [e.step_key for e in failures if e.step_failure_data.error.cls_name != "DagsterAssetCheckFailedError"]
    checks_not_passed = [
        f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name} ({evaluation.severity.value.lower()})"
        for evaluation in result.get_asset_check_evaluations() if not evaluation.passed
    ]
    print(f"\nMaterialised {len(materialised)} assets in {seconds:,.0f} s (run {result.run_id}).")
    if failed:
        print(f"Failed steps: {', '.join(failed)} — see `make ui` (Runs) for the messages.")
    if checks_not_passed:
        print(f"Checks not passed: {', '.join(checks_not_passed)}")
    print("Outputs:")
    print(f"  warehouse:   {settings.warehouse_path}")
    print(f"  raw parquet: {settings.raw_dir}")
    print(f"  quarantine:  {settings.quarantine_dir}")
    print(f"  reports:     {settings.reports_dir / 'index.html'}")
    print(f"  run history: {settings.dagster_home} (open with `make ui`)")
    if not verbose:
        print(f"  dbt and notebook output: {output_log}")
    return 1 if failed else 0


def run_erasure(settings: Settings) -> int:
    """Process the pending erasure requests, then re-render the reports (when there is a warehouse to read)."""
    prepare_dagster_home(settings)
    defs = job_definitions("erasure")

    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        erased = defs.resolve_job_def("erasure").execute_in_process(instance=instance, raise_on_error=False)
        if not erased.success:
            print("The erasure failed — see `make ui` (Runs) for the message; the request file is still pending.")
            return 1
        if not settings.warehouse_path.exists():
            return 0
        rendered = defs.resolve_job_def("render_reports").execute_in_process(instance=instance, raise_on_error=False)
    print(f"Reports re-rendered in {settings.reports_dir}" if rendered.success else "Re-rendering the reports failed.")
    return 0 if rendered.success else 1
