"""The report kernels of a run (issue 19, cx_core/report_kernels.py): the next report's kernel starts while the
current report runs, every report still gets a kernel no other notebook ran in, a warmed kernel renders the same
page, and no kernel outlives its run, also when a step fails or a report that had a spare kernel never runs. A run
whose steps each have a process of their own (the UI's, a schedule's) starts no kernel ahead: no other report would
take it."""

import os
import re
import threading
import time

import dagster as dg
import duckdb
import pytest
from jupyter_core.utils import run_sync
from papermill.exceptions import PapermillExecutionError

from cx_core.report_kernels import report_kernels
from cx_core.reporting import REPORTS_SOURCE_DIR, render_report
from dagster_project.defs.assets.reports import REPORTS, report_assets
from dagster_project.defs.resources import pipeline_resources
from tests.helpers.processes import children_of, descendants_of, is_running
from tests.helpers.settings_env import point_settings_at

pytestmark = pytest.mark.slow

SCORECARD = next(spec for spec in REPORTS if spec.name == "cx_scorecard")


def kernel_processes() -> set[int]:
    return {pid for pid, command in children_of(os.getpid()) if "ipykernel" in command}


def namespace_and_modules(kernel) -> dict:
    """What a notebook's first cell would see in `kernel`: its execution count, names and loaded modules."""
    client = kernel.client()
    client.start_channels()
    found = {}

    def keep(message):
        if message["msg_type"] == "stream":
            found.update(eval(message["content"]["text"]))

    run_sync(client.wait_for_ready)(timeout=60)
    reply = run_sync(client.execute_interactive)(
        "print({'names': [n for n in dir() if not n.startswith('_')],"
        " 'cxreport_loaded': 'cxreport' in __import__('sys').modules})", output_hook=keep, timeout=60)
    return found | {"count": reply["content"]["execution_count"]}


def test_the_next_reports_kernel_starts_while_the_current_one_runs_and_each_report_gets_a_new_one():
    before = kernel_processes()
    with report_kernels(REPORTS_SOURCE_DIR) as kernels:
        with kernels.kernel("first", ["first", "second"]) as first:
            spare = kernels.spare
            assert spare is not None and spare is not first
            assert run_sync(spare.is_alive)() and spare.provisioner.pid != first.provisioner.pid
            first_pid = first.provisioner.pid
        assert not is_running(first_pid)  # stopped as soon as its report is done
        with kernels.kernel("second", ["first", "second"]) as second:
            assert second is spare
            assert kernels.spare is None  # the run has no report left: nothing more is started
            # Warmed, yet as new: cxreport is imported, but no name is bound and the first cell is still number 1.
            seen = namespace_and_modules(second)
            assert seen["cxreport_loaded"]
            assert "cxreport" not in seen["names"]
            assert seen["count"] == 1
    assert kernel_processes() == before


def test_a_report_renders_the_same_page_in_a_kernel_started_ahead(tmp_path):
    warehouse = tmp_path / "empty.duckdb"
    duckdb.connect(str(warehouse)).close()
    parameters = {"warehouse_path": str(warehouse), "as_of": "2026-10-31"}

    def page(folder, **kernels):
        report = render_report(SCORECARD.name, SCORECARD.title, REPORTS_SOURCE_DIR / f"{SCORECARD.name}.py",
                               tmp_path / folder, parameters, **kernels)
        # jupytext gives the cells new ids at every read of the notebook
        return re.sub(r"cell-id=[0-9a-f]+", "cell-id=", report.html_path.read_text(encoding="utf-8"))

    alone = page("alone")
    with report_kernels(REPORTS_SOURCE_DIR) as kernels:
        with kernels.kernel("before", ["before", SCORECARD.name]):
            pass
        ahead = page("ahead", kernels=kernels, reports_of_run=["before", SCORECARD.name])
    assert ahead == alone


def test_a_failing_notebook_stops_its_kernel_and_the_end_of_the_run_stops_the_spare(tmp_path):
    broken = tmp_path / "broken.duckdb"
    broken.write_text("not a database")
    before = kernel_processes()
    with report_kernels(REPORTS_SOURCE_DIR) as kernels:
        with pytest.raises(PapermillExecutionError):
            render_report(SCORECARD.name, SCORECARD.title, REPORTS_SOURCE_DIR / f"{SCORECARD.name}.py", tmp_path,
                          {"warehouse_path": str(broken)}, kernels=kernels, reports_of_run=[SCORECARD.name, "next"])
        assert kernel_processes() - before == {kernels.spare.provisioner.pid}
    assert kernel_processes() == before


def test_no_kernel_outlives_a_run_that_ends_before_the_report_its_spare_was_for(tmp_path, monkeypatch):
    """The personas report starts the scorecard's kernel; the scorecard never runs: its upstream fails."""
    warehouse = tmp_path / "empty.duckdb"
    duckdb.connect(str(warehouse)).close()
    point_settings_at(monkeypatch, tmp_path, CX_WAREHOUSE=str(warehouse))
    before = kernel_processes()
    seen_upstream = []

    @dg.asset(key="kpi_metrics", deps=["customer_personas"])
    def failing_upstream() -> None:
        seen_upstream.extend(kernel_processes() - before)
        raise RuntimeError("upstream failed")

    personas, scorecard = (next(a for a in report_assets if a.key.path == [name])
                           for name in ("customer_personas", "cx_scorecard"))
    result = dg.materialize([personas, failing_upstream, scorecard], resources=pipeline_resources(),
                            raise_on_error=False)

    assert {event.step_key for event in result.all_events if event.is_step_failure} == {"kpi_metrics"}
    assert not result.is_node_success("cx_scorecard")
    assert len(seen_upstream) == 1  # the scorecard's kernel, started during the personas step
    assert kernel_processes() == before


def render_reports_job() -> dg.JobDefinition:
    from dagster_project.definitions import defs

    return defs.resolve_job_def("render_reports")


def test_a_run_with_a_process_per_step_starts_no_kernel_ahead(tmp_path, monkeypatch):
    warehouse = tmp_path / "empty.duckdb"
    duckdb.connect(str(warehouse)).close()
    point_settings_at(monkeypatch, tmp_path, CX_WAREHOUSE=str(warehouse))
    kernels_seen: set[int] = set()
    running = True

    def watch_kernels() -> None:  # a kernel lives for a second at least; the step processes are our children
        while running:
            kernels_seen.update(pid for pid, command in descendants_of(os.getpid()) if "ipykernel" in command)
            time.sleep(0.05)

    watcher = threading.Thread(target=watch_kernels)
    watcher.start()
    try:
        (tmp_path / "dagster").mkdir()
        with dg.DagsterInstance.local_temp(str(tmp_path / "dagster")) as instance:
            job = dg.build_reconstructable_job("tests.test_report_kernels", render_reports_job.__name__)
            result = dg.execute_job(job, instance=instance,
                                    asset_selection=[dg.AssetKey("customer_personas"), dg.AssetKey("cx_scorecard")])
    finally:
        running = False
        watcher.join()
    assert result.success
    assert len(kernels_seen) == 2  # one per report; in one process the first would have started the second's
