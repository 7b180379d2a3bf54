"""`make bench`: time the whole pipeline on the default demo, then run every `bench_*.py` module and print its
figures. Benchmarks are not tests: they print numbers (with their targets) and fail only when they cannot run.

The pipeline runs in a data folder of its own (`data/bench`, or CX_BENCH_DATA_DIR) from scratch, so its time
is a cold `make run`; the benchmarks that measure against the demo truth read that folder. Each benchmark
runs in its own process, so peak memory figures are its own.
"""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from cx_core.settings import REPO_ROOT

BENCH_DIR = Path(__file__).parent
BENCH_DATA_DIR = Path(os.environ.get("CX_BENCH_DATA_DIR", REPO_ROOT / "data" / "bench"))


def bench_environment() -> dict[str, str]:
    """Paths of the bench data folder only: values derived from another data folder must not leak in."""
    derived = ("CX_LANDING_DIR", "CX_RAW_DIR", "CX_QUARANTINE_DIR", "CX_WAREHOUSE", "CX_DEMO_TRUTH_DIR",
               "CX_REPORTS_DIR", "DAGSTER_HOME", "CX_ML_CACHE_DIR", "CX_MODELS_DIR", "CX_SPARK_DIR")
    environment = {key: value for key, value in os.environ.items() if key not in derived}
    return environment | {"CX_DATA_DIR": str(BENCH_DATA_DIR), "CX_REPORTS_DIR": str(BENCH_DATA_DIR / "reports")}


def timed(title: str, command: list[str]) -> float:
    print(f"\n=== {title} ===", flush=True)
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=REPO_ROOT, env=bench_environment())
    seconds = time.perf_counter() - started
    print(f"--- {title}: {'done' if completed.returncode == 0 else f'FAILED (exit {completed.returncode})'} "
          f"in {seconds:,.1f} s", flush=True)
    return seconds if completed.returncode == 0 else float("nan")


def main() -> int:
    shutil.rmtree(BENCH_DATA_DIR, ignore_errors=True)
    seconds = {"pipeline (cx run, default demo, cold)": timed(
        "pipeline: demo data + every asset, from scratch", [sys.executable, "-m", "dagster_project.cli", "run"]
    )}
    for module in sorted(BENCH_DIR.glob("bench_*.py")):
        seconds[module.stem] = timed(module.stem, [sys.executable, "-m", f"tests.benchmarks.{module.stem}"])
    print("\n=== summary (wall seconds) ===")
    for title, value in seconds.items():
        print(f"{title:>45}: {value:,.1f}")
    return 0 if all(value == value for value in seconds.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
