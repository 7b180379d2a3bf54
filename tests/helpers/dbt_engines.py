"""Run one dbt command of the project on a chosen engine, with its warehouse, Spark folder and target folder
kept under `work`: the Spark parity test and the Spark benchmark build the same raw layer on both engines."""

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from dagster_project.defs.assets.dbt import DBT_PROJECT_DIR, dbt_executable


def dbt_on(target: str, raw_dir: Path, work: Path, command: str, *arguments: str,
           settings: Mapping[str, str] | None = None) -> subprocess.CompletedProcess:
    """`settings`: further CX_ environment values (e.g. another time zone) for this one command."""
    env = {**os.environ, "CX_DBT_TARGET": target, "CX_RAW_DIR": str(raw_dir),
           "CX_WAREHOUSE": str(work / f"{target}.duckdb"), "CX_SPARK_DIR": str(work / "spark"), **(settings or {})}
    return subprocess.run([dbt_executable(), command, *arguments, "--target-path", str(work / f"target-{target}")],
                          cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True)
