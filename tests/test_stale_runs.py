"""A run whose process was killed keeps its STARTED status and its `duckdb` pool slot; `release_stale_runs` (what
`cx run` does first) fails it and frees the slot, and leaves a run whose process is alive alone."""

import shutil
import subprocess

import dagster as dg
from dagster._core.storage.dagster_run import DagsterRun
from dagster._core.utils import make_new_run_id

from cx_core.settings import REPO_ROOT
from dagster_project.stale_runs import PROCESS_TAG, process_identity, release_stale_runs


def started_run(instance: dg.DagsterInstance, identity: str) -> str:
    """A run in status STARTED, tagged with `identity`, holding the `duckdb` slot for its step."""
    run = instance.add_run(DagsterRun(job_name="full_refresh", run_id=make_new_run_id(),
                                      status=dg.DagsterRunStatus.STARTED, tags={PROCESS_TAG: identity}))
    claim = instance.event_log_storage.claim_concurrency_slot("duckdb", run.run_id, "cx_dbt_assets")
    assert claim.is_claimed
    return run.run_id


def test_a_dead_run_is_failed_and_its_pool_slot_freed(tmp_path, monkeypatch):
    shutil.copyfile(REPO_ROOT / "dagster.yaml", tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    killed = subprocess.Popen(["sleep", "60"])
    killed_identity = process_identity(killed.pid)
    killed.kill()
    killed.wait()
    with dg.DagsterInstance.get() as instance:
        instance.event_log_storage.initialize_concurrency_limit_to_default("duckdb")  # 1, from dagster.yaml
        dead = started_run(instance, killed_identity)
        actions = release_stale_runs(instance)
        assert instance.get_run_by_id(dead).status == dg.DagsterRunStatus.FAILURE
        # the slot is free: another run can take it at once
        alive = started_run(instance, process_identity())

        assert release_stale_runs(instance) == []  # this process is alive: its run keeps the slot
        assert instance.get_run_by_id(alive).status == dg.DagsterRunStatus.STARTED
        assert instance.event_log_storage.get_concurrency_info("duckdb").claimed_slots[0].run_id == alive
    assert actions == [f"Run {dead} was left unfinished by a killed process: marked failed.",
                       f"Freed the pool slots still held by finished run {dead}."]
