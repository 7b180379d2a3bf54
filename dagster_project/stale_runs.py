"""Runs whose process died without ending them.

A run killed with SIGKILL (or lost with its machine) stays STARTED in the run history and keeps its `duckdb` pool
slot, so every later run waits for that slot ("Step blocked by limit for pool duckdb") for ever. `cx run` tags its
run with its process (host, pid and the process's start time, so a reused pid is not mistaken for it); at start it
marks the tagged runs whose process is gone as failed and frees the pool slots they, or any other finished run,
still hold.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import dagster as dg

PROCESS_TAG = "cx/process"
UNFINISHED = [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.CANCELING]


def _start_ticks(pid: int) -> str | None:
    """The process's start time (clock ticks since boot) from /proc; None when it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    state, *fields = stat.rsplit(")", 1)[1].split()  # the command name in brackets may contain spaces
    return None if state in ("Z", "X") else fields[18]


def process_identity(pid: int | None = None) -> str:
    pid = pid or os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_ticks(pid)}"


def process_is_gone(identity: str) -> bool:
    """Only for a process of this host; another host's run is left to that host."""
    host, pid, start = identity.rsplit(":", 2)
    return host == socket.gethostname() and _start_ticks(int(pid)) != start


def release_stale_runs(instance: dg.DagsterInstance) -> list[str]:
    """Fail the unfinished `cx run` runs whose process is gone, free the pool slots of every finished run; return
    one line per action for the console."""
    actions = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=UNFINISHED)):
        identity = run.tags.get(PROCESS_TAG)
        if identity and process_is_gone(identity):
            instance.report_run_failed(run, message=f"The process of this run ({identity}) is gone (killed or "
                                                    "crashed); marked failed by the next `cx run`.")
            actions.append(f"Run {run.run_id} was left unfinished by a killed process: marked failed.")
    storage = instance.event_log_storage
    if storage.supports_global_concurrency_limits:
        for run_id in storage.get_concurrency_run_ids():
            run = instance.get_run_by_id(run_id)
            if run is None or run.is_finished:
                storage.free_concurrency_slots_for_run(run_id)
                actions.append(f"Freed the pool slots still held by finished run {run_id}.")
    return actions
