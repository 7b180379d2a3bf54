"""`cx-dbt` under a `cx run` forks its dbt from the run's dbt fork server (dagster_project/dbt_forkserver.py): the
same outcome as dbt started by itself, run in another process than `cx-dbt`, and nothing left behind when `cx-dbt`
is killed or the run ends."""

import json
import os
import signal
import subprocess
import tempfile
import sys
import time
from pathlib import Path

import duckdb
import pytest

from cx_core.settings import Settings
from cx_core.warehouse_build import BUILD_READY_ENV
from dagster_project.dbt_forkserver import FORKSERVER_ENV, serving_dbt
from tests.helpers.processes import children_of, is_running

CX_DBT = str(Path(sys.executable).with_name("cx-dbt"))
DBT_PROJECT = Path(__file__).resolve().parents[1] / "dbt_models"


@pytest.fixture
def dbt_environment(tmp_path) -> dict[str, str]:
    """The environment dagster-dbt gives `cx-dbt`, on a warehouse of its own."""
    settings = Settings.from_env({"CX_DATA_DIR": str(tmp_path / "data")})
    settings.raw_dir.mkdir(parents=True)
    return {**os.environ, **settings.as_env(), "DAGSTER_DBT_CLI": "true", "DBT_LOG_FORMAT": "json"}


def cx_dbt(arguments: list[str], environment: dict[str, str], target: Path) -> tuple[subprocess.Popen, list[dict]]:
    """`cx-dbt` run to its end: the process and dbt's JSON log lines."""
    process = subprocess.Popen([CX_DBT, *arguments, "--target-path", str(target)], cwd=DBT_PROJECT, env=environment,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    output, _ = process.communicate(timeout=300)
    return process, [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_dbt_forks_from_the_server_with_the_outcome_of_dbt_started_by_itself(dbt_environment, tmp_path):
    seed = ["seed", "--select", "holidays"]
    alone, alone_log = cx_dbt(seed, dbt_environment, tmp_path / "alone")
    with serving_dbt():
        served_environment = dbt_environment | {FORKSERVER_ENV: os.environ[FORKSERVER_ENV]}
        served, served_log = cx_dbt(seed, served_environment, tmp_path / "served")
        broken, _ = cx_dbt([*seed, "--vars", "{not yaml"], served_environment, tmp_path / "broken")

    assert alone.returncode == served.returncode == 0
    # dbt ran in `cx-dbt`'s own process without the server, in a forked one with it
    assert {line["info"]["pid"] for line in alone_log} == {alone.pid}
    assert {line["info"]["pid"] for line in served_log} != {served.pid}
    results = json.loads((tmp_path / "served" / "run_results.json").read_text())["results"]
    assert [(result["unique_id"], result["status"]) for result in results
            if result["unique_id"].startswith("seed.")] == [("seed.cx_pipeline.holidays", "success")]
    warehouse = dbt_environment["CX_WAREHOUSE"]
    with duckdb.connect(warehouse, read_only=True) as con:
        assert con.sql("select count(*) from holidays").fetchall()[0][0] > 0
    assert broken.returncode == 2  # dbt's own failure, as without the server


def test_killing_cx_dbt_kills_the_dbt_it_forked_and_the_server_ends_with_the_run(dbt_environment, tmp_path):
    with serving_dbt():
        address = os.environ[FORKSERVER_ENV]
        server = next(pid for pid, command in children_of(os.getpid()) if "dbt_forkserver" in command)
        # a build file that never gets ready: the forked dbt waits for it until it is killed (build_ready_plugin)
        requester = subprocess.Popen([CX_DBT, "seed", "--target-path", str(tmp_path / "target")], cwd=DBT_PROJECT,
                                     env=dbt_environment | {FORKSERVER_ENV: address,
                                                            BUILD_READY_ENV: str(tmp_path / "never_ready")},
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while not (forked := children_of(server)) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert forked, "the server forked no dbt"
        os.kill(requester.pid, signal.SIGKILL)
        requester.wait()
        deadline = time.monotonic() + 10
        while is_running(forked[0][0]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not is_running(forked[0][0]), "the forked dbt outlived its cx-dbt"
    assert not is_running(server) and FORKSERVER_ENV not in os.environ and not Path(address).exists()


def test_without_a_socket_the_run_goes_on_and_dbt_starts_itself(tmp_path, monkeypatch):
    deep = tmp_path / ("d" * 120)  # longer than a Unix socket's path may be
    deep.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(deep))
    with serving_dbt():
        assert FORKSERVER_ENV not in os.environ
    assert list(deep.iterdir()) == []
