"""A sensor on the landing folder: ingest complete new files once, remembered in the cursor across restarts."""

import hashlib
import time

import dagster as dg

from cx_core.landing_scan import dump_state, load_state, scan_landing
from cx_core.settings import get_settings
from cx_core.sources.contracts import CONTRACTS
from dagster_project.defs.jobs import ingest_new_files_job
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
