"""Sensors on the landing folder: ingest complete new files once, remembered in the cursor across restarts;
run the erasure job for new erasure requests, and re-render the reports after every successful erasure."""

import hashlib
import time

import dagster as dg

from cx_core.landing_scan import dump_state, load_state, scan_landing
from cx_core.privacy.requests import pending_request_files
from cx_core.settings import get_settings
from cx_core.sources.contracts import CONTRACTS
from dagster_project.defs.jobs import erasure_job, ingest_new_files_job, render_reports_job
from dagster_project.defs.resources import PipelineSettings


@dg.sensor(
    job=ingest_new_files_job,
    minimum_interval_seconds=get_settings().sensor_interval_seconds,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Starts ingestion for new, completely written files in the landing folder (ignores .tmp/.part).",
)
def landing_files_sensor(context: dg.SensorEvaluationContext, cx: PipelineSettings) -> dg.SensorResult | dg.SkipReason:
    ready, state = scan_landing(cx.settings.landing_dir, CONTRACTS, load_state(context.cursor), time.time_ns())
    cursor = dump_state(state)
    if not ready:
        return dg.SensorResult(skip_reason=dg.SkipReason("no new complete files"), cursor=cursor)
    files = sorted(f for paths in ready.values() for f in paths)
    run_key = hashlib.sha256("\n".join(f"{f}:{state[f].size}:{state[f].mtime_ns}" for f in files).encode()).hexdigest()
    context.log.info(f"{len(files)} new file(s) ready: {', '.join(files[:10])}{' …' if len(files) > 10 else ''}")
    request = dg.RunRequest(
        run_key=run_key,
        asset_selection=[dg.AssetKey(["raw", source]) for source in sorted(ready)],
        tags={"cx/new_files": str(len(files))},
    )
    return dg.SensorResult(run_requests=[request], cursor=cursor)


@dg.sensor(
    job=erasure_job,
    minimum_interval_seconds=get_settings().sensor_interval_seconds,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Starts the erasure job when request files are in landing/erasure_requests/.",
)
def erasure_requests_sensor(context: dg.SensorEvaluationContext, cx: PipelineSettings) -> dg.RunRequest | dg.SkipReason:
    files = pending_request_files(cx.settings)
    if not files:
        return dg.SkipReason("no erasure requests")
    # the file names carry no personal data (`cx forget` names them by request id); their stat makes the key
    run_key = hashlib.sha256("\n".join(f"{f.name}:{f.stat().st_mtime_ns}" for f in files).encode()).hexdigest()
    return dg.RunRequest(run_key=run_key)


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[erasure_job],
    request_job=render_reports_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Re-renders the reports after an erasure, so no report keeps the erased person.",
)
def reports_after_erasure_sensor(context: dg.RunStatusSensorContext) -> dg.RunRequest:
    return dg.RunRequest(run_key=context.dagster_run.run_id)
