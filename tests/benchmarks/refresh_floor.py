"""What the daily refresh's parts cost whatever the data (issue 19, `bench_incremental`): the tools a refresh runs,
each doing nothing of substance, sized like the refresh just measured and run in processes of their own, as the
refresh runs them.

- dbt: a generated project with as many trivial models (`select 1`) and data tests as each dbt step of the refresh
  built, a `dbt build` per step on DuckDB, all in one process that imports dbt once, after a `dbt parse` that is
  not counted (the refresh starts from a parse state too).
- Reports: as many notebooks as the refresh rendered, each in a new kernel that imports what every report imports
  (DuckDB, polars, plotly), exported to HTML.
- Dagster: each job of the refresh as no-op steps, as many as it ran, with as many asset materialisations and
  check results, executed in-process against an instance on disk with the run's event log kept open, as `cx run`
  executes it.

CPU seconds are those of the finished processes and everything they started (getrusage, exact). On C cores no
refresh made of these parts can take less wall time than its CPU seconds / C, whatever runs in parallel.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.benchmarks.process_memory import ended_children_cpu_seconds

REPORT_IMPORTS = "import duckdb, polars, plotly.graph_objects"
# the data tests a trivial model can carry, cheapest first
TEST_KINDS = ("not_null", "unique", "accepted_values")


@dataclass(frozen=True)
class DbtStep:
    models: int
    tests: int


@dataclass(frozen=True)
class JobShape:
    asset_steps: int  # steps that materialise assets
    check_steps: int  # steps that only evaluate a check
    materialisations: int
    checks: int


def cpu_seconds_of(command: Sequence[str]) -> float:
    """CPU seconds of `command` and every process it started, once all have ended."""
    cpu_before = ended_children_cpu_seconds()
    completed = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if completed.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{completed.stderr[-3000:]}")
    return ended_children_cpu_seconds() - cpu_before


def model_tests(count: int) -> list[str]:
    """The yaml of `count` data tests on column `id` of one trivial model."""
    return ["          - accepted_values:\n              arguments:\n                values: [1]"
            if kind == "accepted_values" else f"          - {kind}" for kind in TEST_KINDS[:count]]


def write_dbt_project(folder: Path, steps: Sequence[DbtStep]) -> None:
    """A dbt project with a model folder per step (`step_<i>`): its models and their data tests."""
    (folder / "dbt_project.yml").write_text(
        "name: refresh_floor\nversion: '1.0'\nprofile: refresh_floor\nmodel-paths: [models]\n"
        "models:\n  refresh_floor:\n    +materialized: table\n")
    (folder / "profiles.yml").write_text(
        "refresh_floor:\n  target: duckdb\n  outputs:\n    duckdb:\n      type: duckdb\n"
        f"      path: {folder / 'floor.duckdb'}\n      threads: 2\n")
    for index, step in enumerate(steps):
        if step.tests > step.models * len(TEST_KINDS):
            raise ValueError(f"{step.tests} tests on {step.models} trivial models: at most {len(TEST_KINDS)} each")
        models = folder / "models" / f"step_{index}"
        models.mkdir(parents=True)
        per_model = [step.tests // step.models + (1 if m < step.tests % step.models else 0) for m in range(step.models)]
        lines = ["version: 2", "models:"]
        for model, tests in enumerate(per_model):
            name = f"step_{index}_model_{model}"
            (models / f"{name}.sql").write_text("select 1 as id\n")
            lines += [f"  - name: {name}", "    columns:", "      - name: id", "        data_tests:",
                      *model_tests(tests)]
        (models / "schema.yml").write_text("\n".join(lines) + "\n")


def dbt_cost(steps: Sequence[DbtStep], folder: Path) -> float:
    """The dbt steps as trivial nodes: `dbt parse` (not counted), then a `dbt build` per step in one process that
    imports dbt once (dagster-dbt starts a dbt process per step; `cx run` forks them from one that imported dbt)."""
    write_dbt_project(folder, steps)
    subprocess.run([str(Path(sys.executable).with_name("dbt")), "--quiet", "parse", "--project-dir", str(folder),
                    "--profiles-dir", str(folder)], check=True, stdout=subprocess.DEVNULL)
    return cpu_seconds_of([sys.executable, "-m", __name__, "dbt", str(folder), str(len(steps))])


def build_dbt_steps(folder: Path, steps: int) -> None:
    """In this process: `dbt build` of each step's models and tests."""
    from dbt.cli.main import dbtRunner

    for index in range(steps):
        result = dbtRunner().invoke(["--quiet", "build", "--project-dir", str(folder), "--profiles-dir", str(folder),
                                     "--select", f"step_{index}"])
        if not result.success:
            raise SystemExit(f"dbt build of step_{index} failed: {result.exception}")


def render_notebooks(count: int) -> None:
    """In this process: `count` notebooks, each executed in a new kernel and exported to HTML."""
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    exporter = HTMLExporter()
    for _ in range(count):
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(REPORT_IMPORTS)])
        NotebookClient(notebook, kernel_name="python3").execute()
        exporter.from_notebook_node(notebook)


def run_job(shape: JobShape, dagster_home: Path) -> None:
    """In this process: a job of no-op steps shaped like `shape`, executed in-process on an instance on disk. One
    asset step materialises the materialisations the other steps do not, with the checks the check steps do not
    evaluate (as the dbt step does)."""
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    import dagster as dg

    from dagster_project.run_event_log import event_log_kept_open  # as `cx run` stores a run's events

    many = max(1, shape.materialisations - (shape.asset_steps - 1))
    specs = [dg.AssetSpec(f"table_{index}") for index in range(many)]
    inside = [dg.AssetCheckSpec(f"check_{index}", asset=specs[index % many].key)
              for index in range(shape.checks - shape.check_steps)]

    @dg.multi_asset(specs=specs, check_specs=inside)
    def many_tables():
        yield from (dg.MaterializeResult(asset_key=spec.key) for spec in specs)
        yield from (dg.AssetCheckResult(asset_key=check.asset_key, check_name=check.name, passed=True)
                    for check in inside)

    def asset_step(name: str) -> dg.AssetsDefinition:
        @dg.asset(name=name)
        def step() -> None:
            return None
        return step

    def check_step(name: str) -> dg.AssetChecksDefinition:
        @dg.asset_check(name=name, asset=specs[0].key)
        def step():  # no annotation: Dagster resolves it, and `dg` is imported in this function
            return dg.AssetCheckResult(passed=True)
        return step

    assets = [many_tables, *(asset_step(f"step_{index}") for index in range(shape.asset_steps - 1))]
    checks = [check_step(f"check_step_{index}") for index in range(shape.check_steps)]
    job = dg.define_asset_job("floor", selection=dg.AssetSelection.all())
    definitions = dg.Definitions(assets=assets, asset_checks=checks, jobs=[job])
    run_id = str(uuid.uuid4())
    with dg.DagsterInstance.get() as instance, event_log_kept_open(instance, run_id):
        definitions.resolve_job_def("floor").execute_in_process(instance=instance, run_id=run_id)


def notebooks_cost(count: int) -> float:
    return cpu_seconds_of([sys.executable, "-m", __name__, "notebooks", str(count)]) if count else 0.0


def dagster_cost(jobs: Sequence[JobShape], folder: Path) -> float:
    """Each job in a process of its own, as an operator runs `cx run --job`, on an instance that a first run (not
    counted) created, as the refresh's instance exists."""
    home = folder / "dagster_home"
    home.mkdir()

    def job_cpu_seconds(shape: JobShape) -> float:
        return cpu_seconds_of([sys.executable, "-m", __name__, "job", json.dumps(shape.__dict__), str(home)])

    job_cpu_seconds(JobShape(1, 0, 1, 0))
    return sum(job_cpu_seconds(job) for job in jobs)


def floor_costs(dbt_steps: Sequence[DbtStep], notebooks: int, jobs: Sequence[JobShape]) -> dict[str, float]:
    """The CPU seconds of each part (dbt, notebooks, Dagster) of a refresh of this shape, in a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="refresh-floor-") as temporary:
        folder = Path(temporary)
        (folder / "dbt").mkdir()
        return {"dbt": dbt_cost(dbt_steps, folder / "dbt"), "notebooks": notebooks_cost(notebooks),
                "dagster": dagster_cost(jobs, folder)}


if __name__ == "__main__":
    if sys.argv[1] == "notebooks":
        render_notebooks(int(sys.argv[2]))
    elif sys.argv[1] == "dbt":
        build_dbt_steps(Path(sys.argv[2]), int(sys.argv[3]))
    elif sys.argv[1] == "job":
        run_job(JobShape(**json.loads(sys.argv[2])), Path(sys.argv[3]))
