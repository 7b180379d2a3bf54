"""The dbt models follow the SQL style in dbt_models/.sqlfluff (sqlfluff with dbt's own compiler)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cx_core.settings import REPO_ROOT

pytestmark = pytest.mark.slow  # compiles every model with dbt


def test_models_pass_sqlfluff(tmp_path):
    sqlfluff = Path(sys.executable).with_name("sqlfluff")
    env = {**os.environ, "CX_RAW_DIR": str(tmp_path / "raw"), "CX_WAREHOUSE": str(tmp_path / "warehouse.duckdb")}
    completed = subprocess.run([str(sqlfluff), "lint", "models"], cwd=REPO_ROOT / "dbt_models", env=env,
                               capture_output=True, text=True)
    assert completed.returncode == 0, completed.stdout[-5000:] + completed.stderr[-2000:]
