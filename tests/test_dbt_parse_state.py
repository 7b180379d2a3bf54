"""A dbt step starts from the parse state the step before it left (issue 19): without it dbt parses the whole
project again at every step of a run (4 s each at 100k customers, more than some steps' SQL), because the state
`dbt parse` wrote was written under another profile or data folder."""

import json

import dagster as dg
import pytest

from dagster_project.defs.resources import pipeline_resources

pytestmark = pytest.mark.slow  # two real dbt builds

SKIPPED_PARSING = "I017"  # dbt's event "Partial parsing enabled, no changes found, skipping parsing"


def event_codes(dbt_log) -> set[str]:
    return {json.loads(line)["info"]["code"] for line in dbt_log.read_text().splitlines() if line.startswith("{")}


def test_the_second_dbt_step_reuses_the_parse_of_the_first(data_dir, tmp_path, monkeypatch):
    from dagster_project.defs.assets.dbt import cx_dbt_assets

    target = tmp_path / "dbt_target"  # empty: the first step finds no parse state and parses the project
    monkeypatch.setenv("DBT_TARGET_PATH", str(target))
    monkeypatch.setenv("CX_DBT_LOG_LEVEL_FILE", "debug")  # the parse events are debug lines of dbt's log file
    for _ in range(2):
        assert dg.materialize([cx_dbt_assets], selection=[dg.AssetKey("kpi_targets")],
                              resources=pipeline_resources()).success
    first, second = sorted(target.glob("*/dbt.log"), key=lambda log: log.stat().st_mtime)
    assert SKIPPED_PARSING not in event_codes(first)
    assert SKIPPED_PARSING in event_codes(second)
