"""The DuckDB memory cap and spill folder (CX_DUCKDB_MEMORY_LIMIT, CX_DUCKDB_TEMP_DIR, issue 19) reach every
DuckDB session: a sort larger than the cap spills into the folder instead of failing, and dbt's sessions run
with the same values."""

import json
import subprocess
import sys
from pathlib import Path

import duckdb

from cx_core.settings import Settings
from tests.helpers.settings_env import point_settings_at

DBT = str(Path(sys.executable).with_name("dbt"))


def test_defaults_and_overrides(tmp_path):
    assert Settings.from_env({"CX_DATA_DIR": str(tmp_path)}).duckdb_config() == {
        "memory_limit": "4GB", "temp_directory": str(tmp_path / "duckdb_tmp")}
    spill = tmp_path / "not" / "yet" / "spill"
    settings = Settings.from_env({"CX_DUCKDB_MEMORY_LIMIT": "1GB", "CX_DUCKDB_TEMP_DIR": str(spill)})
    assert settings.duckdb_config() == {"memory_limit": "1GB", "temp_directory": str(spill)}
    assert spill.parent.is_dir()  # DuckDB creates only the last level of the folder


def test_a_sort_larger_than_the_cap_spills_to_the_folder(tmp_path):
    spill = tmp_path / "deep" / "spill"
    settings = Settings.from_env({"CX_DUCKDB_MEMORY_LIMIT": "64MB", "CX_DUCKDB_TEMP_DIR": str(spill)})
    with duckdb.connect(config=settings.duckdb_config()) as con:
        con.execute("SET threads = 1")
        con.execute("CREATE TABLE sorted AS SELECT md5(range::VARCHAR) AS h FROM range(2000000) ORDER BY h")
        assert con.sql("SELECT count(*) FROM sorted").fetchall() == [(2_000_000,)]
        assert spill.is_dir()


def test_dbt_sessions_have_the_cap_and_the_folder(tmp_path, monkeypatch):
    settings = point_settings_at(monkeypatch, tmp_path / "data", CX_DUCKDB_MEMORY_LIMIT="1500MB",
                                 CX_DUCKDB_TEMP_DIR=str(tmp_path / "spill"))
    settings.warehouse_path.parent.mkdir(parents=True)
    shown = subprocess.run(
        [DBT, "show", "--inline", "select current_setting('memory_limit') as cap, current_setting('temp_directory') as folder",
         "--output", "json", "--log-format", "json", "--project-dir", str(settings.dbt_project_dir),
         "--profiles-dir", str(settings.dbt_project_dir), "--target-path", str(tmp_path / "target"),
         "--log-path", str(tmp_path / "logs")],
        capture_output=True, text=True, check=True,
    )
    preview = next(json.loads(line)["data"]["preview"] for line in shown.stdout.splitlines()
                   if '"preview"' in line)
    row = json.loads(preview)[0]
    assert (row["cap"], row["folder"]) == ("1.3 GiB", str(tmp_path / "spill"))
