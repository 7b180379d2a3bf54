"""The daily refresh: one new day of exports on a warehouse built from the year before it (issue 19).

A demo (CX_BENCH_INCREMENTAL_CUSTOMERS, default 10,000 customers, x 365 days) is generated outside the landing
folder and every export is split by its event time: the rows of the last day go into files of their own
(`<file>_day-<date>.<ext>`), the rest keeps the file's name. The earlier files land and `cx run` builds
everything (`full_refresh`); then the last day's files land and `cx run --job ingest_new_files` and
`cx run --job kpi_refresh` refresh it, each in its own process as an operator would run them. Prints every Dagster
step of the three runs with its seconds, the steps that dominate the refresh, for each dbt step of the refresh
dbt's own elapsed time, its slowest nodes and the step's overhead around dbt (process start, parse, the build
file, Dagster's events and metadata), what the text caches and the stored churn model saved, and the refresh's
share of the full run (target <= 10 %).

Then the refresh's CPU ceiling: both jobs' CPU seconds (each `cx run` process with dbt, the fork server and the
notebook kernels it started) against the CPU the target's wall time holds on this machine's cores; on C cores no
schedule of the work takes less than its CPU seconds / C. And what the refresh's parts cost with no data
(refresh_floor.py: as many trivial dbt nodes, notebooks and no-op Dagster steps as this refresh ran), as a share of
that CPU (README, "The CPU ceiling").

The refresh's fixed costs (README, "The refresh's fixed costs"): at f6291c1 on an idle machine the four dbt steps
of the refresh spent 32 s around dbt's elapsed time (main step: 5.1 s before dbt, mostly the warehouse copy into
the build file; 1.1 s in dagster-dbt, mostly an in-process dbt adapter, now skipped; 3.5 s of dbt process beyond
its elapsed time; 0.5 s publishing; 5.6 s events and metadata, 1.5 s of it the identity quality against the demo
truth). dbt's node time by kind is printed per step: models and seeds 66 thread-seconds, data tests 26, unit
tests 9.5 (now skipped by `kpi_refresh`). Dagster stores ~1,400 events per refresh, 5-7 ms each on an idle disk
and up to 100 ms on a busy one; `cx run` keeps the run's event log open (28 -> 11 ms per write, paired).

With CX_BENCH_INCREMENTAL_SNAPSHOT=<folder>, the state after the full run (warehouse, Dagster home, caches and
the last day's files) is kept there with the full run's seconds, and the next run with the same folder starts
from a copy of it: the refresh measured again in minutes, after a change to the refresh's code (a change to the
full run's code needs a new snapshot).
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import sys
from datetime import date, datetime
from pathlib import Path

import dagster as dg

from cx_core.settings import Settings
from cx_core.sources.contracts import CONTRACTS, SourceContract
from cx_demo.generate import DEFAULT_END_DATE, generate_demo
from dagster_project.defs.assets.dbt import PARTIAL_PARSE_FILE
from dagster_project.defs.assets.reports import REPORTS
from tests.benchmarks.__main__ import BENCH_DATA_DIR, bench_environment
from tests.benchmarks.bench_scale import CX, Timed, print_steps, run_measured
from tests.benchmarks.refresh_floor import DbtStep, JobShape, floor_costs

DAYS = 365
TARGET_SHARE = 0.10
SLOWEST_STEPS = 8
SLOWEST_DBT_NODES = 5
DBT_STEP_PREFIX = "cx_dbt_assets"
# What the refresh's ML steps say about the work they skipped (their materialisation metadata).
REUSE_METADATA = {"ml_sentiment_model_card": ("adaptation",), "ml_sentiment": ("rows_scored", "cache_hits"),
                  "ml_text_insights": ("texts_computed", "texts_reused"),
                  "ml_emerging_topics": ("texts_computed", "texts_reused"), "ml_churn_scores": ("scoring",),
                  "ml_personas": ("scoring",)}


def event_day(value: str) -> date | None:
    """The calendar day of an exported timestamp: ISO 8601 (any offset, or naive) or the POS's 31.12.2026."""
    try:
        if len(value) >= 10 and value[2] == "." and value[5] == ".":
            return date(int(value[6:10]), int(value[3:5]), int(value[:2]))
        return date.fromisoformat(value[:10])
    except (ValueError, IndexError):
        return None  # a deliberately broken row: it stays with the earlier rows


# Each splitter: (the text of the rows before `last_day`, the text of the rows of `last_day`, how many those are).
def split_csv(text: str, contract: SourceContract, last_day: date) -> tuple[str, str, int]:
    delimiter = ";" if text.split("\n", 1)[0].count(";") > text.split("\n", 1)[0].count(",") else ","
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    column = rows[0].index(contract.event_time)
    parts = (io.StringIO(newline=""), io.StringIO(newline=""))
    writers = [csv.writer(part, delimiter=delimiter, lineterminator="\n") for part in parts]
    for writer in writers:
        writer.writerow(rows[0])
    last_rows = 0
    for row in rows[1:]:
        is_last = len(row) > column and event_day(row[column]) == last_day
        writers[is_last].writerow(row)
        last_rows += is_last
    return parts[0].getvalue(), parts[1].getvalue(), last_rows


def split_ndjson(text: str, contract: SourceContract, last_day: date) -> tuple[str, str, int]:
    parts: tuple[list[str], list[str]] = ([], [])
    for line in text.splitlines(keepends=True):
        try:
            is_last = event_day(str(json.loads(line).get(contract.event_time))) == last_day
        except json.JSONDecodeError:
            is_last = False
        parts[is_last].append(line)
    return "".join(parts[0]), "".join(parts[1]), len(parts[1])


def split_json(text: str, contract: SourceContract, last_day: date) -> tuple[str, str, int]:
    parts: tuple[list, list] = ([], [])
    for record in json.loads(text):
        parts[event_day(str(record.get(contract.event_time))) == last_day].append(record)
    return json.dumps(parts[0], ensure_ascii=False), json.dumps(parts[1], ensure_ascii=False), len(parts[1])


SPLITTERS = {"csv": split_csv, "ndjson": split_ndjson, "json": split_json}


def split_by_last_day(export_dir: Path, landing_dir: Path, later_dir: Path, last_day: date) -> int:
    """Every export of `export_dir` split into its rows before `last_day` (to `landing_dir`, same name) and the
    rows of `last_day` (to `later_dir`, `<stem>_day-<date><ext>`), in the file's encoding; returns the files of the
    last day."""
    later = 0
    for path in sorted(export_dir.glob("*/*")):
        contract = CONTRACTS[path.parent.name]
        raw = path.read_bytes()
        encoding = "utf-8-sig" if raw.startswith(b"\xef\xbb\xbf") else "utf-8"
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            encoding, text = "latin-1", raw.decode("latin-1")
        earlier, last, last_rows = SPLITTERS[contract.format](text, contract, last_day)
        (landing_dir / path.parent.name).mkdir(parents=True, exist_ok=True)
        (landing_dir / path.parent.name / path.name).write_bytes(earlier.encode(encoding))
        if last_rows:
            target = later_dir / path.parent.name / f"{path.stem}_day-{last_day.isoformat()}{path.suffix}"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(last.encode(encoding))
            later += 1
    return later


def latest_run_steps(dagster_home: Path) -> tuple[str, dict[str, float]]:
    """(run id, seconds per step) of the newest run in `dagster_home`."""
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    with dg.DagsterInstance.get() as instance:
        run = instance.get_runs(limit=1)[0]
        stats = instance.get_run_step_stats(run.run_id)
    return run.run_id, {s.step_key: s.end_time - s.start_time for s in stats if s.end_time and s.start_time}


def reuse_figures(dagster_home: Path, run_id: str) -> dict[str, object]:
    """The cache and stored-model figures the refresh's ML steps reported (REUSE_METADATA)."""
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    figures: dict[str, object] = {}
    with dg.DagsterInstance.get() as instance:
        records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records
    for record in records:
        materialization = record.event_log_entry.dagster_event.event_specific_data.materialization
        for name in REUSE_METADATA.get(materialization.asset_key.to_user_string(), ()):
            if name in materialization.metadata:
                figures[f"{materialization.asset_key.to_user_string()}.{name}"] = materialization.metadata[name].value
    return figures


def thread_seconds_by_kind(results: list[dict]) -> str:
    """dbt's node time by kind (model, seed, test, unit_test, operation): its threads' seconds and the nodes."""
    kinds: dict[str, list[float]] = {}
    for result in results:
        kinds.setdefault(result["unique_id"].split(".", 1)[0], []).append(result["execution_time"])
    return ", ".join(f"{kind} {sum(times):.1f} thread-s ({len(times)})" for kind, times in sorted(kinds.items()))


def step_windows(dagster_home: Path, run_id: str) -> dict[str, tuple[float, float]]:
    """(start, end) Unix time of each step of run `run_id`."""
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    with dg.DagsterInstance.get() as instance:
        stats = instance.get_run_step_stats(run_id)
    return {s.step_key: (s.start_time, s.end_time) for s in stats if s.end_time and s.start_time}


def unix_time(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


def around_dbt(window: tuple[float, float], results: dict) -> str:
    """Where a dbt step's time went, from its window and dbt's `run_results.json`: before dbt (Dagster, the build
    file, dbt's Python start-up and imports), dbt's start-up to its first node (parse state, manifest, adapter,
    hooks), its nodes, and after dbt (its exit, publishing the build, metadata, Dagster's events)."""
    started = unix_time(results["metadata"]["invocation_started_at"])
    timings = [timing for result in results["results"] for timing in result["timing"]]
    first_node = min(unix_time(timing["started_at"]) for timing in timings)
    last_node = max(unix_time(timing["completed_at"]) for timing in timings)
    return (f"before dbt {started - window[0]:.1f} s, dbt start-up {first_node - started:.1f} s, nodes "
            f"{last_node - first_node:.1f} s, after dbt {window[1] - last_node:.1f} s")


def dbt_step_results(dbt_target: Path, run_id: str, windows: dict[str, tuple[float, float]]) -> dict[str, dict]:
    """dbt's `run_results.json` of each dbt step of run `run_id`, from the step's own target folder (dagster-dbt
    names it `<step>-<run id prefix>-<hash>`)."""
    found = {}
    for step in sorted(windows):
        results_files = list(dbt_target.glob(f"{step}-{run_id[:7]}-*/run_results.json"))
        if step.startswith(DBT_STEP_PREFIX) and results_files:
            found[step] = json.loads(results_files[0].read_text())
    return found


def dbt_step_overheads(step_results: dict[str, dict], windows: dict[str, tuple[float, float]]) -> dict[str, float]:
    """Prints, for each dbt step, its seconds as dbt's elapsed time plus the overhead around dbt, where the step's time
    went and its slowest nodes; returns the overhead seconds per step."""
    overheads = {}
    print("\n  dbt steps of the refresh: step seconds = dbt's elapsed time + overhead (process start, parse, "
          "build file, Dagster events and metadata):")
    for step, results in step_results.items():
        window = windows[step]
        seconds = window[1] - window[0]
        overheads[step] = seconds - results["elapsed_time"]
        print(f"    {step:<20} {seconds:6.1f} s = dbt {results['elapsed_time']:6.1f} s + overhead "
              f"{overheads[step]:5.1f} s; {around_dbt(window, results)}; {thread_seconds_by_kind(results['results'])}; "
              "slowest nodes:")
        for node in sorted(results["results"], key=lambda result: -result["execution_time"])[:SLOWEST_DBT_NODES]:
            print(f"      {node['execution_time']:6.1f}  {node['unique_id'].split('.', 2)[-1]}")
    return overheads


def dbt_step_shape(results: dict) -> DbtStep:
    """The models and data tests a dbt step built (refresh_floor)."""
    kinds = [result["unique_id"].split(".", 1)[0] for result in results["results"]]
    return DbtStep(models=kinds.count("model"), tests=kinds.count("test"))


def job_shape(dagster_home: Path, run_id: str) -> JobShape:
    """Run `run_id`'s steps, materialisations and check results (refresh_floor)."""
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    with dg.DagsterInstance.get() as instance:
        steps = len(instance.get_run_step_stats(run_id))
        materialised = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records
        checks = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records
    asset_steps = len({record.event_log_entry.dagster_event.step_key for record in materialised})
    return JobShape(asset_steps, steps - asset_steps, len(materialised), len(checks))


def cpu_ceiling(jobs: dict[str, Timed], budget_seconds: float, step_results: dict[str, dict], reports: int,
                shapes: list[JobShape]) -> dict[str, float]:
    """Prints the refresh's CPU seconds against the CPU the target's wall time holds on this machine's cores, and what
    the refresh's parts cost with no data (refresh_floor); returns both as shares of the target's CPU."""
    cores = os.cpu_count() or 1
    cpu = sum(job.cpu_seconds for job in jobs.values())
    budget_cpu = budget_seconds * cores
    print(f"\n  CPU of the refresh: {' + '.join(f'{name} {job.cpu_seconds:,.1f}' for name, job in jobs.items())} = "
          f"{cpu:,.1f} core-seconds. On {cores} cores no schedule of this work takes less than {cpu / cores:,.1f} s; "
          f"the target's {budget_seconds:,.1f} s hold {budget_cpu:,.1f} core-seconds: the refresh needs "
          f"{cpu / budget_cpu:.2f}x them.")
    dbt_steps = [dbt_step_shape(results) for results in step_results.values()]
    costs = floor_costs(dbt_steps, reports, shapes)
    floor = sum(costs.values())
    print(f"  What its parts cost with no data ({sum(s.models + s.tests for s in dbt_steps)} trivial dbt nodes in "
          f"{len(dbt_steps)} builds, {reports} notebooks, {len(shapes)} Dagster runs of "
          f"{' + '.join(str(s.asset_steps + s.check_steps) for s in shapes)} no-op steps; refresh_floor.py): "
          f"{', '.join(f'{part} {seconds:,.1f}' for part, seconds in costs.items())} = {floor:,.1f} "
          f"core-seconds, {floor / budget_cpu:.0%} of the target's.")
    return {"cpu_share_of_budget": round(cpu / budget_cpu, 3),
            "floor_cpu_share_of_budget": round(floor / budget_cpu, 3)}


def timed_job(job: str, environment: dict[str, str], settings: Settings) -> tuple[Timed, dict[str, float], str]:
    """`cx run --job <job>`: (its measures, seconds per step, run id); prints the steps."""
    measured = run_measured([CX, "run", "--job", job, "--quiet"], environment)
    print(f"\n  {job}: {measured.seconds:,.1f} s wall (exit {measured.returncode}), peak {measured.peak_gb:.2f} GB; "
          f"load {os.getloadavg()[0]:.1f}")
    if measured.returncode:
        raise SystemExit(f"{job} failed: see {settings.dagster_home / 'cx_run_output.log'}")
    print_steps(settings.dagster_home, measured.memory)
    run_id, steps = latest_run_steps(settings.dagster_home)
    return measured, steps, run_id


def built_year(folder: Path, customers: int, environment: dict[str, str], settings: Settings) -> float:
    """Builds the year before the last day in `folder` (or copies it from CX_BENCH_INCREMENTAL_SNAPSHOT when that
    holds one); returns the full run's seconds."""
    snapshot = os.environ.get("CX_BENCH_INCREMENTAL_SNAPSHOT")
    full_seconds_file = Path(snapshot or folder) / "full_run_seconds"
    parse_state = settings.dbt_project_dir / "target" / PARTIAL_PARSE_FILE
    if snapshot and full_seconds_file.exists():
        shutil.copytree(snapshot, folder, symlinks=True, ignore=shutil.ignore_patterns(PARTIAL_PARSE_FILE))
        shutil.copyfile(Path(snapshot) / PARTIAL_PARSE_FILE, parse_state)  # where the full run left dbt's parse
        os.sync()  # the copy's 2 GB go to the disk now, not while the refresh is measured (ingest took 6.8-9.7 s)
        print(f"  the full run's state copied from {snapshot} (built in {full_seconds_file.read_text()} s)")
        return float(full_seconds_file.read_text())
    exports = folder / "exports"
    generate_demo(exports, settings.demo_truth_dir, customers=customers, days=DAYS, end_date=DEFAULT_END_DATE)
    files = split_by_last_day(exports, settings.landing_dir, folder / "last_day", DEFAULT_END_DATE)
    print(f"  split: {files} files of the last day kept back")
    full_seconds = timed_job("full_refresh", environment, settings)[0].seconds
    if snapshot:
        shutil.copytree(folder, snapshot, symlinks=True, dirs_exist_ok=True)
        shutil.copyfile(parse_state, Path(snapshot) / PARTIAL_PARSE_FILE)
        full_seconds_file.write_text(f"{full_seconds:.1f}")
    return full_seconds


def run() -> dict[str, object]:
    customers = int(os.environ.get("CX_BENCH_INCREMENTAL_CUSTOMERS", "10000"))
    folder = BENCH_DATA_DIR.with_name(f"incremental-{customers}")
    environment = bench_environment() | {"CX_DATA_DIR": str(folder), "CX_REPORTS_DIR": str(folder / "reports")}
    settings = Settings.from_env(environment)
    shutil.rmtree(folder, ignore_errors=True)
    print(f"--- {customers:,} customers x {DAYS} days in {folder}; the refresh lands {DEFAULT_END_DATE}; "
          f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    full_seconds = built_year(folder, customers, environment, settings)
    later = folder / "last_day"
    for path in later.glob("*/*"):
        shutil.move(path, settings.landing_dir / path.parent.name / path.name)
    ingest, ingest_steps, ingest_run = timed_job("ingest_new_files", environment, settings)
    refresh, refresh_steps, refresh_run = timed_job("kpi_refresh", environment, settings)

    incremental = ingest.seconds + refresh.seconds
    steps = ingest_steps | refresh_steps
    print(f"\n  slowest steps of the refresh (of {sum(steps.values()):,.1f} step seconds, "
          f"{incremental:,.1f} s wall with process start-up):")
    for step, seconds in sorted(steps.items(), key=lambda item: -item[1])[:SLOWEST_STEPS]:
        print(f"    {step:<48} {seconds:8.1f}")
    windows = step_windows(settings.dagster_home, refresh_run)
    step_results = dbt_step_results(settings.dbt_project_dir / "target", refresh_run, windows)
    overheads = dbt_step_overheads(step_results, windows)
    reuse = reuse_figures(settings.dagster_home, refresh_run)
    for name, value in reuse.items():
        print(f"  {name}: {value}")
    share = incremental / full_seconds
    print(f"  refresh {incremental:,.1f} s / full run {full_seconds:,.1f} s = {share:.1%} "
          f"(target <= {TARGET_SHARE:.0%}); load after: {os.getloadavg()[0]:.1f}")
    reports = len({spec.name for spec in REPORTS} & set(refresh_steps))
    shapes = [job_shape(settings.dagster_home, run) for run in (ingest_run, refresh_run)]
    ceiling = cpu_ceiling({"ingest_new_files": ingest, "kpi_refresh": refresh}, TARGET_SHARE * full_seconds,
                          step_results, reports, shapes)
    return {
        f"incremental_{customers}_full_seconds": round(full_seconds, 1),
        f"incremental_{customers}_ingest_seconds": round(ingest.seconds, 1),
        f"incremental_{customers}_kpi_refresh_seconds": round(refresh.seconds, 1),
        f"incremental_{customers}_share_of_full": round(share, 3),
        f"incremental_{customers}_refresh_cpu_seconds": round(ingest.cpu_seconds + refresh.cpu_seconds, 1),
        **{f"incremental_{customers}_{name}": value for name, value in ceiling.items()},
        **{f"incremental_{customers}_{step}_overhead_seconds": round(value, 1) for step, value in overheads.items()},
        **{f"incremental_{customers}_{name}": value for name, value in reuse.items()},
    }


if __name__ == "__main__":
    results = run()
    print()
    for name, value in results.items():
        print(f"{name}: {value}")
    sys.exit(0)
