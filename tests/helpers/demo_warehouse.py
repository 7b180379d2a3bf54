"""A generated demo through the real ingest and a real dbt command, in its own data folder: for tests that
check marts against what the generator planted or against an independent recomputation."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from cx_core.settings import REPO_ROOT
from cx_core.sources.contracts import CONTRACTS
from cx_core.sources.ingest import ingest_source
from cx_demo.generate import generate_demo
from tests.helpers.settings_env import point_settings_at

# `dbt build` of the seeds and models without the data and unit tests
MODELS_ONLY = ("build", "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test")


def build_demo_warehouse(data_dir: Path, env: pytest.MonkeyPatch, dbt_args: Sequence[str],
                         variables: Mapping[str, str] = {}, **demo) -> Path:
    """Generate the demo (`demo`: generate_demo's options), ingest every source, run `dbt <dbt_args>`; the
    settings of `data_dir` with `variables` (CX_*) stay in `env` (undone when its context ends). Returns the
    warehouse path."""
    settings = point_settings_at(env, data_dir, **variables)
    generate_demo(settings.landing_dir, settings.demo_truth_dir, **demo)
    for contract in CONTRACTS.values():
        ingest_source(contract, settings)
    run_dbt(settings.dbt_project_dir, data_dir, dbt_args)
    return settings.warehouse_path


def run_dbt(dbt_dir: Path, data_dir: Path, dbt_args: Sequence[str], warehouse: Path | None = None,
            succeeds: bool = True) -> None:
    """`dbt <dbt_args>` on the settings in the environment (on `warehouse` instead of CX_WAREHOUSE when given),
    with its own target and log folders under `data_dir`: other dbt runs on this checkout must not see
    half-written artefacts. Asserts that dbt succeeds (`succeeds=False`: that it fails; the nodes' outcomes are
    in `data_dir/dbt_target/run_results.json`)."""
    env = os.environ | ({"CX_WAREHOUSE": str(warehouse)} if warehouse else {})
    completed = subprocess.run(
        [
            str(Path(REPO_ROOT, ".venv", "bin", "dbt")), *dbt_args,
            "--project-dir", str(dbt_dir), "--profiles-dir", str(dbt_dir),
            "--target-path", str(data_dir / "dbt_target"), "--log-path", str(data_dir / "dbt_logs"),
        ],
        cwd=dbt_dir, env=env, capture_output=True, text=True,
    )
    assert (completed.returncode == 0) == succeeds, completed.stdout[-5000:]
