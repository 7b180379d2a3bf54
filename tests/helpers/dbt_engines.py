"""Run one dbt command of the project on a chosen engine, with its warehouse, Spark folder and target folder
kept under `work`: the Spark parity test and the Spark benchmark build the same raw layer on both engines."""

import os
import subprocess
from pathlib import Path

from dagster_project.defs.assets.dbt import DBT_PROJECT_DIR, dbt_executable


def dbt_on(target: str, raw_dir: Path, work: Path, command: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CX_DBT_TARGET": target, "CX_RAW_DIR": str(raw_dir),
           "CX_WAREHOUSE": str(work / f"{target}.duckdb"), "CX_SPARK_DIR": str(work / "spark")}
    return subprocess.run([dbt_executable(), command, "--target-path", str(work / f"target-{target}")],
                          cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True)
