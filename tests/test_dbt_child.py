"""`cx-dbt --version` (dagster_project/dbt_child.py) answers without starting dbt, with the version of the dbt it
runs, which is what dagster-dbt reads from it before every dbt step."""

import re
import subprocess
import sys
from pathlib import Path

VERSION = re.compile(r"(\d+\.\d+\.\d+)")  # what dagster-dbt's DbtCliResource parses from the answer


def first_version(executable: str) -> str:
    answer = subprocess.run([str(Path(sys.executable).with_name(executable)), "--version"], capture_output=True,
                            text=True, check=True).stdout
    return VERSION.search(answer).group(1)


def test_cx_dbt_reports_the_version_of_the_dbt_it_runs():
    assert first_version("cx-dbt") == first_version("dbt")
