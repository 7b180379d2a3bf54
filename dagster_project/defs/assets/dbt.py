"""The dbt project as Dagster assets: every model and seed is an asset in the group of its layer, dbt tests are
asset checks, and the dbt sources are the ingest assets `["raw", <source>]` (docs/CONVENTIONS.md).

`@dbt_assets` reads `target/manifest.json` when this module is imported, so the module first makes sure the
manifest is current (`prepare_dbt_manifest`): a cheap timestamp check, and `dbt parse` only when a project
file changed or the manifest was parsed for the other kind of target. That keeps code-location loads fast and
makes them work under pytest and CI, not only under `dagster dev`.
"""

import os
import re
import shutil
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cached_property
from importlib.metadata import version
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from dagster_dbt import (DagsterDbtTranslator, DbtCliInvocation, DbtCliResource, DbtProject, dbt_assets,
                         get_asset_key_for_model)
from dagster_dbt.asset_utils import DAGSTER_DBT_PROJECT_METADATA_KEY, get_manifest_and_translator_from_dbt_assets
from dagster_dbt.errors import DagsterDbtCliRuntimeError
from packaging.version import Version

from cx_core.identity_quality import measure_against_truth
from cx_core.seed_fingerprints import seeds_loaded_as_they_are
from cx_core.settings import REPO_ROOT, Settings, get_settings
from cx_core.sources.ingest import ensure_raw_schemas
from cx_core.spark_catalog import publish_spark_tables, share_tables_with_spark
from cx_core.files import write_atomically
from cx_core.warehouse_build import BUILD_READY_ENV, build_path, publish_build, ready_marker, start_build
from dagster_project.defs.freshness import read_daily
from dagster_project.defs.jobs import DAILY_REFRESH_TAG, SKIP_DEMO_TRUTH_TAG
from dagster_project.defs.metadata import warehouse_tables_metadata
from dagster_project.defs.resources import PipelineSettings
from dagster_project.warm_up import start_warm_up

DBT_PROJECT_DIR = REPO_ROOT / "dbt_models"
SEEDS_DIR = REPO_ROOT / "seeds"
# dbt_project.yml's model-, macro-, test- and seed-paths: a change to a file in them can change the manifest
PARSED_FOLDERS = (DBT_PROJECT_DIR / "models", DBT_PROJECT_DIR / "macros", DBT_PROJECT_DIR / "tests", SEEDS_DIR)
DBT_GROUPS = ("seeds", "staging", "intermediate", "marts", "kpi")
ML_TABLE_PREFIX = "ml_"
# Tables Python assets outside group `ml` write, by the asset that writes them (source `ml` in dbt).
PYTHON_TABLE_ASSETS = {"kpi_alerts": "kpi_alerts", "kpi_change_drivers": "kpi_change_drivers",
                       "kpi_change_driver_sentences": "kpi_change_drivers"}
KPI_MODEL_PREFIX = "kpi_"  # the KPI marts CX leads read; they carry the daily freshness policy
# dbt writes the manifest's `metadata` first; its `adapter_type` lies within the first kilobyte
MANIFEST_HEAD_CHARACTERS = 4096
PARTIAL_PARSE_FILE = "partial_parse.msgpack"  # dbt's parse state, which lets the next dbt command skip parsing
# dagster-dbt gives every dbt step a target folder of its own (`<op>-<run id>-<id>`: compiled SQL, run_results.json);
# a week of them is kept for looking into a failed step, older ones are deleted, or a daily refresh adds 4-5 a day.
STEP_TARGET_KEEP_DAYS = 7
KEPT_SEED_NOTE = "no: the warehouse holds the seed as its file and configuration would load it now"

dbt_project = DbtProject(
    project_dir=DBT_PROJECT_DIR,
    profiles_dir=DBT_PROJECT_DIR,
    target=get_settings().dbt_target,
)


def dbt_executable() -> str:
    """`cx-dbt` (dbt that dies with the run that started it, dagster_project/dbt_child.py) installed next to
    this interpreter, so a virtualenv works without being on PATH."""
    beside_python = Path(sys.executable).with_name("cx-dbt")
    return str(beside_python) if beside_python.exists() else "cx-dbt"


class CxDbtCliResource(DbtCliResource):
    """dagster-dbt's dbt CLI without the dbt adapter it builds in this process before every dbt command: that
    adapter serves only `fetch_row_counts` and `fetch_column_metadata`, which this project does not use (the
    row counts come from `with_warehouse_metadata`), and building it parsed every dbt macro again in each dbt
    step (0.3 s a step, 1 s in a run's first; issue 19)."""

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:
        return None

    @cached_property
    def _cli_version(self) -> Version:
        """The version dagster-dbt asks `cx-dbt --version` for (to tell dbt Core from the Fusion engine) in a new
        Python process per dbt step (0.3-0.6 s): cx-dbt runs this environment's dbt-core."""
        return Version(version("dbt-core"))


def dbt_cli_resource() -> DbtCliResource:
    """The resource `cx_dbt_assets` needs under the key `dbt`."""
    return CxDbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable())


@contextmanager
def settings_environment(settings: Settings, **overrides: str) -> Iterator[None]:
    """The settings' values in the environment while dbt runs (profiles.yml and sources read them with
    env_var()), like `Settings.export_env()` but undone afterwards, so a process that switches data
    directories (tests) never keeps values derived from an earlier one. `overrides` replace values for the
    block (CX_WAREHOUSE: the copy a build writes)."""
    values = {key: value for key, value in settings.as_env().items() if key not in os.environ} | overrides
    before = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def manifest_inputs() -> Iterator[Path]:
    """Every file whose change can change the manifest."""
    yield DBT_PROJECT_DIR / "dbt_project.yml"
    yield DBT_PROJECT_DIR / "profiles.yml"
    for folder in PARSED_FOLDERS:
        yield from (path for path in folder.rglob("*") if path.is_file())


def parsed_for_duckdb(manifest: Path) -> bool | None:
    """Whether dbt parsed `manifest` for DuckDB: its `metadata.adapter_type`, which dbt writes among the file's first
    bytes; None when they do not name one."""
    with manifest.open(encoding="utf-8") as file:
        head = file.read(MANIFEST_HEAD_CHARACTERS)
    found = re.search(r'"adapter_type": "([^"]+)"', head)
    return found.group(1) == "duckdb" if found else None


def manifest_is_stale(manifest: Path, on_duckdb: bool) -> bool:
    """Whether `manifest` is missing, older than a project file or parsed for the other kind of target. The models
    are incremental on DuckDB only (`target.type == 'duckdb'`): a manifest left by a parse for Spark made every
    later DuckDB build drop the incremental tables and rebuild them whole (at 100k customers the main dbt step of the
    daily refresh took 125-134 s instead of 30 s), and kpi_metrics_history lose the periods it keeps."""
    if not manifest.exists() or parsed_for_duckdb(manifest) != on_duckdb:
        return True
    built_at = manifest.stat().st_mtime
    return any(path.stat().st_mtime > built_at for path in manifest_inputs())


def prepare_dbt_manifest() -> Path:
    """Run `dbt parse` when `target/manifest.json` is missing, older than a project file or parsed for the other
    kind of target (`manifest_is_stale`); return its path. It parses under the environment a build sees, so the
    first dbt step of a run can reuse its parse state."""
    settings = get_settings()
    if manifest_is_stale(dbt_project.manifest_path, on_duckdb=settings.builds_on_duckdb):
        with settings_environment(settings, CX_WAREHOUSE=str(dbt_database(settings))):
            dbt_cli_resource().cli(["parse", "--quiet"], target_path=dbt_project.target_path).wait()
    return dbt_project.manifest_path


def dbt_database(settings: Settings) -> Path:
    """The file dbt's profile names: on DuckDB the build's own file (cx_core/warehouse_build.py), not the
    warehouse. dbt parses the project from scratch (4 s) when the profile differs from the one its parse state
    was written under, so `dbt parse` and every build must name the same file."""
    return build_path(settings.warehouse_path) if settings.builds_on_duckdb else settings.warehouse_path


def keep_parse_state(step_target: Path) -> None:
    """Make the parse state a dbt step wrote the one the next step starts from: dagster-dbt copies
    `partial_parse.msgpack` from the target folder into each step's own folder inside it, and the one `dbt parse`
    left there was written under other settings when the run's data folder is not the one the manifest was
    prepared for. dbt checks the state itself (profile, variables, environment, file hashes) and parses what
    changed."""
    parsed = step_target / PARTIAL_PARSE_FILE
    if parsed.exists():
        write_atomically(step_target.parent / PARTIAL_PARSE_FILE, lambda temporary: shutil.copyfile(parsed, temporary))


def remove_old_step_targets(target_dir: Path, now: float | None = None) -> None:
    """Delete the dbt steps' own target folders last written more than STEP_TARGET_KEEP_DAYS before `now`."""
    cutoff = (time.time() if now is None else now) - STEP_TARGET_KEEP_DAYS * 86_400
    for folder in target_dir.glob(f"{cx_dbt_assets.op.name}*-*-*"):
        if folder.is_dir() and folder.stat().st_mtime < cutoff:
            shutil.rmtree(folder, ignore_errors=True)


class CxDbtTranslator(DagsterDbtTranslator):
    """Models and seeds keep their names as keys and join the group of their layer (seeds, staging,
    intermediate, marts, kpi), as Dagster's dbt examples do, so no group holds all 55 models. Sources keep the
    key their `meta.dagster.asset_key` names: a raw export is the ingest asset `["raw", <system>]`, which makes
    ingest -> staging one lineage graph; an `ml` table is the ML asset that writes it, which puts the ML assets
    between two dbt steps (Dagster splits the subsettable dbt asset around them)."""

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        # The DbtProject object itself is not metadata a person can read ("[DbtProject] (unserializable)").
        readable = {key: value for key, value in spec.metadata.items() if key != DAGSTER_DBT_PROJECT_METADATA_KEY}
        spec = spec.replace_attributes(metadata=readable)
        resource_props = self.get_resource_props(manifest, unique_id)
        if resource_props["resource_type"] == "source":
            return spec
        spec = spec.replace_attributes(group_name=dbt_layer(resource_props))
        is_kpi_mart = resource_props["resource_type"] == "model" and resource_props["name"].startswith(KPI_MODEL_PREFIX)
        return read_daily(spec) if is_kpi_mart else spec


def dbt_layer(resource_props: Mapping[str, Any]) -> str:
    """The Dagster group of a dbt seed or model: `seeds`, or the model's layer folder under models/ (`kpi` for
    models/marts/kpi)."""
    if resource_props["resource_type"] == "seed":
        return "seeds"
    folders = resource_props["fqn"][1:-1]
    return "kpi" if folders[-1:] == ["kpi"] else folders[0]


@dbt_assets(
    manifest=prepare_dbt_manifest(),
    project=dbt_project,
    dagster_dbt_translator=CxDbtTranslator(),
    pool="duckdb",
)
def cx_dbt_assets(context: dg.AssetExecutionContext, dbt: DbtCliResource, cx: PipelineSettings):
    """Seeds, models and their tests, in dependency order (`dbt build`).

    A run can execute this asset in several steps (seeds, the models before the ML assets, the ones after
    them). `buildable` runs a test only in the step where all the nodes it reads exist, so a relationship test
    between a seed and a mart waits for the mart instead of failing in the seeds step.

    On DuckDB, dbt builds into a fresh file that reads the warehouse through views and is published into it once
    dbt has ended (cx_core/warehouse_build.py): a run killed during dbt leaves the warehouse as it was, and
    readers never see new marts next to old KPI tables. dbt starts first and opens the build once it is made
    (`make_build_for`), so making it and dbt's start-up overlap."""
    settings = cx.settings
    ensure_raw_schemas(settings.raw_dir)
    settings.duckdb_config()  # dbt's profile reads the same values from the environment; this makes the folder
    on_duckdb = settings.builds_on_duckdb
    build, build_env = dbt_database(settings), {}
    if on_duckdb:
        marker = ready_marker(settings.warehouse_path)
        build_env = {BUILD_READY_ENV: str(marker)}
        if settings.warehouse_path.exists():  # the first build has no warehouse to read
            build_env["CX_WAREHOUSE_LIVE"] = str(settings.warehouse_path)
    else:  # Spark's models read the ML tables as Parquet (cx_core.spark_dbt declares them)
        share_tables_with_spark(settings.warehouse_path, settings.spark_dir, ml_tables_read_by_models())
    refresh = context.run.tags.get(DAILY_REFRESH_TAG) == "true"
    seeds_kept = seeds_to_keep(context, settings, refresh)
    # DBT_LOG_LEVEL_FILE: dbt's own variable for --log-level-file, from this run's settings whatever the process has
    with settings_environment(settings, CX_WAREHOUSE=str(build), DBT_LOG_LEVEL_FILE=settings.dbt_log_level_file,
                              **build_env):
        # first: Dagster wants a step's outputs in dependency order, and a seed comes before what reads it
        events, failure = outputs_of_kept_seeds(context, seeds_kept), None
        invocation = dbt.cli(
            ["build", "--indirect-selection", "buildable", *refresh_exclusion(settings, refresh, seeds_kept)],
            context=context)
        if on_duckdb:  # while dbt starts, which takes as long (cx_core/build_ready_plugin.py)
            # the model and seed names dbt builds
            selected = frozenset(key.path[-1] for key in context.selected_asset_keys) - {s["name"] for s in seeds_kept}
            make_build_for(invocation, settings.warehouse_path, selected, marker)
        start_warm_up()  # while dbt runs, in `cx run`: the ML steps' libraries and text models (warm_up.py)
        try:
            events.extend(invocation.stream())
        except DagsterDbtCliRuntimeError as error:
            failure = error  # the models built before the failure are still reported as materialised
    keep_parse_state(invocation.target_path)
    remove_old_step_targets(invocation.target_path.parent)
    if on_duckdb:
        publish_build(build, settings.warehouse_path)
    else:
        publish_spark_tables(settings.spark_dir, settings.warehouse_path)
    measures_identity = context.run.tags.get(SKIP_DEMO_TRUTH_TAG) != "true"
    yield from with_warehouse_metadata(events, settings, measures_identity)
    if failure:
        raise failure


def dbt_manifest() -> Mapping[str, Any]:
    """The manifest `cx_dbt_assets` was defined with, parsed once when this module was imported (reading the 2 MB
    file again cost 0.15 s a dbt step)."""
    return get_manifest_and_translator_from_dbt_assets([cx_dbt_assets])[0]


def make_build_for(invocation: DbtCliInvocation, warehouse: Path, selected: frozenset[str], marker: Path) -> None:
    """Make the build file of the dbt process `invocation` started, then let it open the file; stop the process
    when the build cannot be made."""
    try:
        start_build(warehouse, selected, selected & incremental_models())
    except BaseException:
        invocation.process.kill()
        invocation.process.wait()
        raise
    marker.touch()


def incremental_models() -> frozenset[str]:
    """The names of the incremental models (on this target): a build gets copies of their tables to add to."""
    return frozenset(node["name"] for node in dbt_manifest()["nodes"].values()
                     if node["resource_type"] == "model" and node["config"]["materialized"] == "incremental")


def ml_tables_read_by_models() -> list[str]:
    """The tables of the `ml` source (written by Python assets) that some dbt model reads."""
    manifest = dbt_manifest()
    return sorted(manifest["sources"][source]["name"] for source, children in manifest["child_map"].items()
                  if source in manifest["sources"] and manifest["sources"][source]["source_name"] == "ml"
                  and any(child.startswith("model.") for child in children))


def warehouse_table_key(table: str) -> dg.AssetKey:
    """The asset that writes warehouse table `table`: an ML asset (tables `ml_*`, docs/CONVENTIONS.md), an alert
    asset (PYTHON_TABLE_ASSETS) or a dbt model or seed, looked up in the manifest, so a renamed model fails when
    the code location loads."""
    if table.startswith(ML_TABLE_PREFIX):
        return dg.AssetKey(table)
    if table in PYTHON_TABLE_ASSETS:
        return dg.AssetKey(PYTHON_TABLE_ASSETS[table])
    return get_asset_key_for_model([cx_dbt_assets], table)


def refresh_exclusion(settings: Settings, refresh: bool, seeds_kept: Sequence[Mapping[str, Any]] = ()) -> list[str]:
    """What a dbt step leaves out. dbt unit tests check the models' logic on hand-written rows, not the data. Their
    fixtures are in DuckDB's types (TIMESTAMPTZ literals), so other targets leave them to DuckDB
    (tests/test_spark_parity.py compares the engines' results instead); and a run of the daily refresh (a job tagged
    `DAILY_REFRESH_TAG`, `kpi_refresh`) leaves them to `cx run` and `make test`: on unchanged SQL they give the same
    answer every day, and 27 of them sat on the critical path of the refresh's dbt step after the ML assets (issue
    19). The refresh also leaves out the data tests tagged `sql_logic`, whose outcome follows from the model's SQL
    whatever the data (the identity edges are a `select distinct`; its uniqueness test computed the whole view, 0.8 s
    on the main step's critical path), and `seeds_kept`, the seeds the warehouse holds as they would be loaded now,
    with their tests (cx_core/seed_fingerprints.py)."""
    excluded = [*(["test_type:unit"] if refresh or not settings.builds_on_duckdb else []),
                *(["tag:sql_logic"] if refresh else []),
                *(".".join(seed["fqn"]) for seed in seeds_kept)]
    # one argument: dagster-dbt passes `--exclude` on with its first value only
    return ["--exclude", " ".join(excluded)] if excluded else []


def seeds_to_keep(context: dg.AssetExecutionContext, settings: Settings, refresh: bool) -> list[Mapping[str, Any]]:
    """In the daily refresh on DuckDB, the seeds of this step that the warehouse holds as they would be loaded now."""
    if not refresh or not settings.builds_on_duckdb:
        return []
    names = {key.path[-1] for key in context.selected_asset_keys}
    seeds = [node for node in dbt_manifest()["nodes"].values()
             if node["resource_type"] == "seed" and node["name"] in names]
    return seeds_loaded_as_they_are(settings.warehouse_path, seeds)


def outputs_of_kept_seeds(context: dg.AssetExecutionContext, seeds_kept: Sequence[Mapping[str, Any]]) -> list:
    """A seed the step left out is reported as an output all the same: its table is current, and Dagster skips every
    later step that reads an asset its step did not output (the refresh's ML assets, reports and second dbt step)."""
    keys = {key.path[-1]: key for key in context.selected_asset_keys}
    return [dg.Output(None, output_name=context.assets_def.get_output_name_for_asset_key(keys[seed["name"]]),
                      metadata={"loaded": dg.MetadataValue.text(KEPT_SEED_NOTE)})
            for seed in seeds_kept]


def with_warehouse_metadata(events: list, settings: Settings, measures_identity: bool = True) -> Iterator:
    """The dbt events, each model's output extended by its row count; kpi_metrics adds the latest monthly
    totals and the metrics not measured with the reason, int_identity_components the pairwise precision and
    recall against the demo truth when it exists and `measures_identity` (a run tagged SKIP_DEMO_TRUTH_TAG,
    the daily refresh, leaves it out).
    Read after the build, because dbt holds the DuckDB file for the whole run (on Spark: the views
    spark_catalog published over the built tables)."""
    if not any(isinstance(event, dg.Output) for event in events) or not settings.warehouse_path.exists():
        yield from events
        return
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as warehouse:
        described = warehouse_tables_metadata(
            warehouse, [event.output_name for event in events if isinstance(event, dg.Output)])
        for event in events:
            if isinstance(event, dg.Output) and event.output_name in described:
                truth_dir = settings.demo_truth_dir if measures_identity else None
                metadata = table_metadata(warehouse, event.output_name, described[event.output_name], truth_dir)
                event = event.with_metadata({**event.metadata, **metadata})
            yield event


def table_metadata(warehouse: duckdb.DuckDBPyConnection, table: str, described: dict[str, object],
                   demo_truth_dir: Path | None) -> dict[str, object]:
    """A built table's metadata (with_warehouse_metadata): its columns and rows as `described`, more for some
    tables; the identity quality only with a `demo_truth_dir`."""
    metadata = dict(described)
    if table == "kpi_metrics":
        latest = warehouse.sql(
            "select metric, period_start, value from kpi_metrics where period_grain = 'month' and channel = 'all' "
            "and segment = 'all' and value is not null and metric in ('nps', 'csat', 'fcr_rate', 'churn_rate') "
            "qualify period_start = max(period_start) over (partition by metric)"
        ).fetchall()
        metadata |= {f"latest_month_{metric}": dg.MetadataValue.float(round(value, 4)) for metric, _, value in latest}
        metadata |= {"latest_month": str(max((start for _, start, _ in latest), default="none"))}
        # what the exports cannot measure, and why: in the UI next to the figures, never as a 0
        not_measured = warehouse.sql(
            "select metric, any_value(value_missing_reason) from kpi_metrics where channel = 'all' "
            "and segment = 'all' group by metric having count(value) = 0 order by metric"
        ).fetchall()
        metadata |= {"not_measured": dg.MetadataValue.json(dict(not_measured))}
    if table == "int_identity_components" and demo_truth_dir:
        quality = measure_against_truth(warehouse, demo_truth_dir)
        metadata |= quality.as_metadata() if quality else {}
    return metadata
