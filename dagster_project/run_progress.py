"""What `cx run` prints while the job runs in-process: a progress bar over the job's steps and one line per
finished step, failures and warnings in full, read from the run's event log (Dagster's own console log is
quiet unless --verbose)."""

from __future__ import annotations

import logging
import threading
from typing import TextIO

import dagster as dg
from tqdm import tqdm

RUN_TOKEN_TAG = "cx/run_token"
POLL_SECONDS = 0.5
QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


def describe(entry: dg.EventLogEntry) -> str | None:
    """The line a person wants for this event, or None for the routine ones."""
    event = entry.dagster_event
    if event is None:
        return entry.user_message if entry.level >= logging.WARNING else None
    if event.event_type == dg.DagsterEventType.STEP_SUCCESS:
        return f"✓ {event.step_key} ({event.event_specific_data.duration_ms / 1000:.1f} s)"
    if event.event_type == dg.DagsterEventType.STEP_FAILURE:
        return f"✗ {event.step_key} failed: {event.event_specific_data.error.message.strip()}"
    if event.event_type == dg.DagsterEventType.STEP_SKIPPED:
        return f"– {event.step_key} skipped (an upstream step failed or a blocking check did not pass)"
    if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
        evaluation = event.event_specific_data
        if not evaluation.passed:
            key = evaluation.asset_check_key
            return f"! check {key.asset_key.to_user_string()}:{key.name} did not pass: {evaluation.description or ''}"
    return None


FINISHED_STEP = {dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.STEP_SKIPPED}


class RunProgress(threading.Thread):
    """Follows the run tagged with `token` in `instance` until stopped, printing as it goes."""

    def __init__(self, instance: dg.DagsterInstance, token: str, total_steps: int, terminal: TextIO):
        super().__init__(daemon=True)
        self.instance, self.token, self.terminal = instance, token, terminal
        self.bar = tqdm(total=total_steps, unit="step", desc="cx run", leave=True, file=terminal)
        self.finished = threading.Event()
        self.cursor: str | None = None
        self.run_id: str | None = None

    def run(self) -> None:
        while not self.finished.wait(POLL_SECONDS):
            self.print_new_events()

    def stop(self) -> None:
        self.finished.set()
        self.join()
        self.print_new_events()
        self.bar.close()

    def print_new_events(self) -> None:
        if self.run_id is None:
            records = self.instance.get_run_records(dg.RunsFilter(tags={RUN_TOKEN_TAG: self.token}), limit=1)
            if not records:
                return
            self.run_id = records[0].dagster_run.run_id
        connection = self.instance.get_records_for_run(self.run_id, cursor=self.cursor)
        self.cursor = connection.cursor
        for record in connection.records:
            entry = record.event_log_entry
            if entry.dagster_event and entry.dagster_event.event_type in FINISHED_STEP:
                self.bar.update(1)
            line = describe(entry)
            if line:
                self.bar.write(line, file=self.terminal)
