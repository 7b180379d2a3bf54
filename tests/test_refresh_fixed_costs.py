"""What the daily refresh leaves out of its fixed costs (issue 19): the dbt unit tests in the `kpi_refresh` job
(they check the SQL, which `cx run` and `make test` check) and the seeds the warehouse holds as they would be loaded
now, the dbt adapter dagster-dbt would build in the
Dagster process before every dbt command, SQLite's checkpoint of the run's event log after every event and its
wait for the disk at every commit, the notebook libraries in every process that loads the definitions (the
ingest run, the UI), the time dbt's start-up and the making of its build file took one after the other, and the
dbt artifacts and log file nobody reads."""

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import sqlalchemy

from dagster_project.definitions import defs
from dagster_project.defs.assets.dbt import (dbt_cli_resource, dbt_database, dbt_manifest, refresh_exclusion,
                                             make_build_for, settings_environment, with_warehouse_metadata)
from dagster_project.defs.jobs import DAILY_REFRESH_TAG, SKIP_DEMO_TRUTH_TAG
from dagster_project.defs.resources import pipeline_resources
from dagster_project.run_event_log import event_log_kept_open
from cx_core.settings import Settings
from cx_core.warehouse_build import BUILD_READY_ENV, ready_marker

SQLITE_SYNCHRONOUS = {"FULL": 2, "NORMAL": 1}

EXCLUDE_UNIT_TESTS = ["--exclude", "test_type:unit"]
# what dbt wrote into each step's target folder for nobody (dbt.log: unless CX_DBT_LOG_LEVEL_FILE asks for it)
UNREAD_DBT_FILES = ["manifest.json", "semantic_manifest.json", "graph.gpickle", "dbt.log"]


def test_the_daily_refresh_leaves_the_dbt_unit_tests_to_cx_run_and_make_test():
    """And the data tests tagged `sql_logic` (their outcome follows from the SQL): one exists, and it is a data test."""
    duckdb, spark = Settings.from_env({}), Settings.from_env({"CX_DBT_TARGET": "spark"})
    assert defs.resolve_job_def("kpi_refresh").tags[DAILY_REFRESH_TAG] == "true"
    assert DAILY_REFRESH_TAG not in defs.resolve_job_def("full_refresh").tags
    assert refresh_exclusion(duckdb, refresh=True) == ["--exclude", "test_type:unit tag:sql_logic"]
    logic_tests = [node for node in dbt_manifest()["nodes"].values()
                   if node["resource_type"] == "test" and "sql_logic" in node["tags"]]
    assert [node["attached_node"] for node in logic_tests] == ["model.cx_pipeline.int_identity_edges"]
    assert refresh_exclusion(duckdb, refresh=False) == []  # full_refresh, dg.materialize in tests, the UI
    assert refresh_exclusion(spark, refresh=False) == EXCLUDE_UNIT_TESTS  # their fixtures are DuckDB's types


def test_the_daily_refresh_leaves_the_identity_quality_against_the_demo_truth_to_the_full_run(tmp_path):
    """int_identity_components' precision and recall against the demo truth (3-4 s of the 100k refresh, the demo
    only) come with the full run and a materialisation from the UI, not with the daily refresh."""
    warehouse, truth = tmp_path / "warehouse.duckdb", tmp_path / "truth"
    truth.mkdir()
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE TABLE int_identity_components AS SELECT 'email' AS identifier_type, "
                    "'a@x.de' AS identifier_value, 'C-1' AS customer_key")
        con.execute("CREATE TABLE int_identity_observations AS SELECT 'r1' AS record_ref, "
                    "'email:a@x.de' AS identifier, 'email' AS identifier_type, 'a@x.de' AS identifier_value")
        person = ("SELECT 'crm_customers' AS source, 'email' AS identifier_type, 'a@x.de' AS identifier_value, "
                  "'P1' AS person_id")
        con.execute(f"COPY ({person}) TO '{truth / 'identities.parquet'}' (FORMAT parquet)")
    settings = Settings.from_env({"CX_WAREHOUSE": str(warehouse), "CX_DEMO_TRUTH_DIR": str(truth)})
    built = [dg.Output(None, output_name="int_identity_components")]

    def identity_figures(measures_identity: bool) -> set[str]:
        [event] = with_warehouse_metadata(built, settings, measures_identity)
        return {name for name in event.metadata if name.startswith("identity_")}

    assert "identity_precision" in identity_figures(True)
    assert identity_figures(False) == set()
    assert defs.resolve_job_def("kpi_refresh").tags[SKIP_DEMO_TRUTH_TAG] == "true"
    assert SKIP_DEMO_TRUTH_TAG not in defs.resolve_job_def("full_refresh").tags


def test_a_dbt_command_builds_no_dbt_adapter_in_the_dagster_process(data_dir):
    with settings_environment(Settings.from_env()):  # as in the dbt asset: dbt's profile can be read
        invocation = dbt_cli_resource().cli(["--version"]).wait()
    assert invocation.is_successful()
    assert invocation.adapter is None


def run_probe(instance: dg.DagsterInstance, run_id: str) -> list[bool]:
    """Runs one asset as run `run_id`; returns whether, while it ran, the run's write-ahead log existed (after
    the events stored before it: run start, step start)."""
    seen = []

    @dg.asset
    def probe() -> None:
        seen.append(Path(instance.event_log_storage.path_for_shard(run_id) + "-wal").exists())

    job = dg.Definitions(assets=[probe]).resolve_implicit_global_asset_job_def()
    assert job.execute_in_process(instance=instance, run_id=run_id).success
    return seen


def test_cx_run_keeps_the_runs_event_log_open_so_sqlite_does_not_checkpoint_after_every_event(tmp_path):
    with dg.DagsterInstance.local_temp(str(tmp_path)) as instance:
        assert run_probe(instance, str(uuid.uuid4())) == [False]  # Dagster alone: deleted after each event
        run_id = str(uuid.uuid4())
        with event_log_kept_open(instance, run_id):
            assert run_probe(instance, run_id) == [True]
        stored = [entry.dagster_event_type for entry in instance.all_logs(run_id) if entry.is_dagster_event]
    assert {dg.DagsterEventType.ASSET_MATERIALIZATION, dg.DagsterEventType.RUN_SUCCESS} <= set(stored)


def test_cx_run_connects_to_each_event_log_file_through_one_engine_not_one_per_event(tmp_path):
    """Every new SQLAlchemy engine sets itself up at its first connection: Dagster alone does that for each event
    (run start, step start, output, materialisation, ...) and run-storage query, `cx run` once per file (the run's
    events, the index, the runs)."""
    def engines_set_up(run_id: str) -> tuple[int, int]:
        set_up = []

        def listener(*_connection_and_record) -> None:
            set_up.append(1)

        sqlalchemy.event.listen(sqlalchemy.engine.Engine, "first_connect", listener)
        try:
            run_probe(instance, run_id)
        finally:
            sqlalchemy.event.remove(sqlalchemy.engine.Engine, "first_connect", listener)
        return len(set_up), len(instance.all_logs(run_id))

    with dg.DagsterInstance.local_temp(str(tmp_path)) as instance:
        engines, events = engines_set_up(str(uuid.uuid4()))
        assert engines > events > 5  # Dagster alone
        run_id = str(uuid.uuid4())
        with event_log_kept_open(instance, run_id):
            engines, events = engines_set_up(run_id)
        # the run's file, the index, the runs, and the one engine Dagster makes to ask whether the index has a table
        assert events > 5 and engines <= 4
        stored = [entry.dagster_event_type for entry in instance.all_logs(run_id) if entry.is_dagster_event]
    assert {dg.DagsterEventType.ASSET_MATERIALIZATION, dg.DagsterEventType.RUN_SUCCESS} <= set(stored)


def test_cx_run_stores_the_runs_events_without_waiting_for_the_disk_at_every_commit(tmp_path):
    with dg.DagsterInstance.local_temp(str(tmp_path)) as instance:
        run_id = str(uuid.uuid4())

        def synchronous() -> int:
            with instance.event_log_storage.run_connection(run_id) as connection:
                return connection.exec_driver_sql("PRAGMA synchronous").scalar()

        assert synchronous() == SQLITE_SYNCHRONOUS["FULL"]  # Dagster alone
        with event_log_kept_open(instance, run_id):
            assert synchronous() == SQLITE_SYNCHRONOUS["NORMAL"]
            with instance.event_log_storage.index_connection() as connection:
                assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == SQLITE_SYNCHRONOUS["NORMAL"]
        assert synchronous() == SQLITE_SYNCHRONOUS["FULL"]  # other SQLite files of the process after the run


def started_dbt_debug(settings: Settings, marker: Path):
    """`dbt debug` (which opens the database for its connection test) told to wait for `marker`, read until the
    line it writes just before it opens the database."""
    with settings_environment(settings, CX_WAREHOUSE=str(dbt_database(settings)), **{BUILD_READY_ENV: str(marker)}):
        invocation = dbt_cli_resource().cli(["debug"], raise_on_error=False)
    for line in invocation.process.stdout:
        if line.startswith(b"{") and json.loads(line)["info"]["name"] == "AdapterRegistered":
            return invocation
    raise AssertionError(f"dbt debug ended early (exit {invocation.process.wait()})")


def test_dbt_starts_before_its_build_file_is_made_and_opens_it_once_it_is_complete(data_dir):
    settings = Settings.from_env()
    build = dbt_database(settings)
    build.parent.mkdir(parents=True)
    marker = ready_marker(settings.warehouse_path)
    invocation = started_dbt_debug(settings, marker)
    time.sleep(2)  # dbt opens the database within milliseconds of that line when nothing holds it back
    assert invocation.process.poll() is None and not build.exists()
    marker.touch()
    assert invocation.process.wait(timeout=60) == 0
    assert build.exists()


def test_dbt_is_stopped_when_its_build_file_cannot_be_made(data_dir):
    settings = Settings.from_env()
    dbt_database(settings).parent.mkdir(parents=True)
    settings.warehouse_path.write_text("not a DuckDB database")
    marker = ready_marker(settings.warehouse_path)
    invocation = started_dbt_debug(settings, marker)
    with pytest.raises(Exception, match="DuckDB"):
        make_build_for(invocation, settings.warehouse_path, frozenset(), marker)
    assert invocation.process.poll() is not None and not marker.exists()


@pytest.mark.slow  # a real dbt build of one seed
def test_a_dbt_step_writes_its_run_results_and_none_of_the_artifacts_and_logs_nobody_reads(data_dir, tmp_path,
                                                                                            monkeypatch):
    from dagster_project.defs.assets.dbt import cx_dbt_assets

    target = tmp_path / "dbt_target"
    monkeypatch.setenv("DBT_TARGET_PATH", str(target))
    result = dg.materialize([cx_dbt_assets], selection=[dg.AssetKey("kpi_targets")], resources=pipeline_resources())
    assert result.success
    [materialisation] = result.asset_materializations_for_node("cx_dbt_assets")
    assert materialisation.metadata["dagster/row_count"].value == len(Path("seeds/kpi_targets.csv").read_text().splitlines()) - 1
    [step] = [folder for folder in target.iterdir() if folder.is_dir()]
    results = json.loads((step / "run_results.json").read_text())
    statuses = {result["unique_id"]: result["status"] for result in results["results"]}  # with the hooks and tests
    assert statuses["seed.cx_pipeline.kpi_targets"] == "success"
    assert results["elapsed_time"] > 0 and results["metadata"]["invocation_started_at"]  # what the bench reads
    assert [name for name in UNREAD_DBT_FILES if (step / name).exists()] == []


@pytest.mark.slow  # real dbt builds of two seeds
def test_the_daily_refresh_loads_only_the_seeds_whose_file_or_shape_changed_since_their_last_load(data_dir):
    """The seeds' tables carry the fingerprint dbt wrote when it loaded them; the refresh leaves out a seed whose
    fingerprint is what the manifest gives now, with its tests, keeps its table and still outputs it (Dagster skips
    the later steps that read an asset their step did not output), and loads a changed one."""
    from dagster_project.defs.assets.dbt import KEPT_SEED_NOTE, cx_dbt_assets

    seeds = [dg.AssetKey("kpi_targets"), dg.AssetKey("holidays")]

    def build(tags: dict[str, str]) -> tuple[dict[str, bool], set[str]]:
        """Whether each seed was loaded (or kept), and the seeds whose tests ran."""
        result = dg.materialize([cx_dbt_assets], selection=seeds, resources=pipeline_resources(), tags=tags)
        assert result.success
        loaded = {event.asset_key.to_user_string(): "loaded" not in event.materialization.metadata
                  for event in result.get_asset_materialization_events()}
        assert all(event.materialization.metadata["loaded"].value == KEPT_SEED_NOTE
                   for event in result.get_asset_materialization_events() if "loaded" in event.materialization.metadata)
        checked = {evaluation.asset_key.to_user_string() for evaluation in result.get_asset_check_evaluations()}
        return loaded, checked

    both = {"kpi_targets", "holidays"}
    assert build({}) == ({"kpi_targets": True, "holidays": True}, both)
    refresh = {DAILY_REFRESH_TAG: "true"}
    # nothing changed: both seeds output without loading them, none of their tests run
    assert build(refresh) == ({"kpi_targets": False, "holidays": False}, set())
    warehouse = Settings.from_env().warehouse_path
    with duckdb.connect(str(warehouse)) as con:  # as if holidays.csv had been edited since its last load
        con.execute("COMMENT ON TABLE holidays IS 'cx seed of an earlier holidays.csv'")
    assert build(refresh) == ({"kpi_targets": False, "holidays": True}, {"holidays"})
    with duckdb.connect(str(warehouse), read_only=True) as con:  # the seed left out is still there, whole
        assert con.execute("SELECT count(*) FROM kpi_targets").fetchone()[0] == \
            len(Path("seeds/kpi_targets.csv").read_text().splitlines()) - 1
    assert build({}) == ({"kpi_targets": True, "holidays": True}, both)  # the full run loads them all


def run_cx_dbt_as_dagster_does(arguments: list[str], target: Path) -> subprocess.CompletedProcess:
    with settings_environment(Settings.from_env()):  # dbt's profile can be read
        return subprocess.run([str(Path(sys.executable).with_name("cx-dbt")), *arguments, "--target-path", str(target)],
                              cwd="dbt_models", env=os.environ | {"DAGSTER_DBT_CLI": "true"}, capture_output=True)


def test_cx_dbt_without_the_other_artifacts_still_fails_as_dbt_does(data_dir, tmp_path):
    data_dir.mkdir()
    # no raw exports: the staging view finds no files, a failed node (exit 1) whose result is still written
    failed = run_cx_dbt_as_dagster_does(["run", "--select", "stg_calls__calls"], tmp_path / "failed")
    assert failed.returncode == 1
    results = json.loads((tmp_path / "failed" / "run_results.json").read_text())["results"]
    assert {result["unique_id"]: result["status"] for result in results}["model.cx_pipeline.stg_calls__calls"] == "error"
    assert run_cx_dbt_as_dagster_does(["run", "--no-such-flag"], tmp_path / "usage").returncode == 2  # dbt itself failed


def test_loading_the_definitions_leaves_the_notebook_libraries_to_the_report_steps():
    probe = "import sys, dagster_project.definitions; print(sorted({'nbconvert', 'papermill', 'jupytext'} & set(sys.modules)))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_a_dbt_step_deletes_the_step_folders_older_than_a_week_and_nothing_else(tmp_path):
    from dagster_project.defs.assets.dbt import STEP_TARGET_KEEP_DAYS, remove_old_step_targets

    now = 1_800_000_000.0
    old, recent = now - (STEP_TARGET_KEEP_DAYS + 1) * 86_400, now - (STEP_TARGET_KEEP_DAYS - 1) * 86_400
    folders = {"cx_dbt_assets-1a2b3c4-old0001": old, "cx_dbt_assets_3-1a2b3c4-old0002": old,
               "cx_dbt_assets-5d6e7f8-new0001": recent, "compiled": old, "1a2b3c4": old}
    for name, mtime in folders.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "run_results.json").write_text("{}")
        os.utime(tmp_path / name, (mtime, mtime))
    (tmp_path / "partial_parse.msgpack").write_bytes(b"state")
    os.utime(tmp_path / "partial_parse.msgpack", (old, old))

    remove_old_step_targets(tmp_path, now=now)

    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "1a2b3c4", "compiled", "cx_dbt_assets-5d6e7f8-new0001", "partial_parse.msgpack"]
