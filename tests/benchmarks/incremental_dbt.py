"""Seconds of the dbt build, full against incremental, when one day lands on a year of demo data (issue 19).

`incremental_dbt_seconds` generates a demo, ingests it and splits its raw layer into every day but the last and
the last day (tests/helpers/two_loads.py); dbt builds the first load (`first_load`), then, with the last day
landed, builds the same warehouse incrementally (`incremental`) and a second warehouse from scratch
(`full_refresh`). Every build is `dbt build` of the seeds and models without tests, run directly (not through
Dagster: the figures are dbt's own). bench_incremental.py (the Dagster jobs end to end) can print these next to
its step times. `python -m tests.benchmarks.incremental_dbt [customers] [days]` prints them.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from cx_core.sources.contracts import CONTRACTS
from cx_core.sources.ingest import ingest_source
from cx_demo.generate import generate_demo
from tests.helpers.demo_warehouse import MODELS_ONLY, run_dbt
from tests.helpers.settings_env import point_settings_at
from tests.helpers.two_loads import land_second_load, split_raw_into_two_loads

BUILDS = ("first_load", "incremental", "full_refresh")
SLOWEST = 12  # models printed: the slowest of the incremental build


def incremental_dbt_seconds(data_dir: Path, customers: int = 10_000, days: int = 365,
                            seed: int = 42) -> dict[str, dict[str, float]]:
    """{build: {"dbt build": wall seconds, <model>: dbt's execution seconds}} for BUILDS (see the module)."""
    seconds: dict[str, dict[str, float]] = {}

    def build(name: str, warehouse: Path | None = None, *flags: str) -> None:
        started = time.perf_counter()
        run_dbt(settings.dbt_project_dir, data_dir, [*MODELS_ONLY, *flags], warehouse=warehouse)
        results = json.loads((data_dir / "dbt_target" / "run_results.json").read_text())["results"]
        seconds[name] = {"dbt build": time.perf_counter() - started} | {
            result["unique_id"].rsplit(".", 1)[-1]: result["execution_time"] for result in results
            if result["unique_id"].startswith("model.")}

    with pytest.MonkeyPatch.context() as env:
        settings = point_settings_at(env, data_dir)
        summary = generate_demo(settings.landing_dir, settings.demo_truth_dir, customers=customers, days=days, seed=seed)
        for contract in CONTRACTS.values():
            ingest_source(contract, settings)
        held = data_dir / "second_load"
        split_raw_into_two_loads(settings.raw_dir, held,
                                 datetime.combine(summary.end, datetime.min.time(), tzinfo=timezone.utc))
        build("first_load")
        land_second_load(settings.raw_dir, held)
        build("incremental")
        build("full_refresh", data_dir / "full_refresh.duckdb", "--full-refresh")
    return seconds


def print_seconds(seconds: dict[str, dict[str, float]]) -> None:
    models = sorted(set(seconds["incremental"]) - {"dbt build"}, key=seconds["incremental"].get, reverse=True)
    print(f"{'seconds':>32}" + "".join(f"{name:>14}" for name in BUILDS))
    for row in ("dbt build", *models[:SLOWEST]):
        print(f"{row:>32}" + "".join(f"{seconds[name].get(row, float('nan')):>14.1f}" for name in BUILDS))
    share = seconds["incremental"]["dbt build"] / seconds["full_refresh"]["dbt build"]
    print(f"incremental dbt build / full refresh: {share:.0%}")


if __name__ == "__main__":
    customers_and_days = [int(value) for value in sys.argv[1:3]]
    folder = Path(tempfile.mkdtemp(prefix="cx-incremental-dbt-"))
    try:
        print_seconds(incremental_dbt_seconds(folder / "data", *customers_and_days))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
