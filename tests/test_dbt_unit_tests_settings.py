"""dbt unit tests check the models' logic on hand-written rows, so they must pass whatever the deployment's settings
(issue 13, finding 3): a user with CX_TIMEZONE=Asia/Jerusalem or US phone numbers must still get a green build."""

import json

from cx_core.sources.ingest import ensure_raw_schemas
from tests.helpers.dbt_engines import dbt_on

# Every setting dbt reads through env_var() in a model, each away from its default.
OTHER_SETTINGS = {"CX_TIMEZONE": "Asia/Jerusalem", "CX_DEFAULT_PHONE_COUNTRY_CODE": "1", "CX_SHORT_ABANDON_SECONDS": "30"}


def test_every_dbt_unit_test_passes_under_other_settings(tmp_path):
    raw_dir = tmp_path / "raw"
    ensure_raw_schemas(raw_dir)
    # Unit tests read their inputs' column types from the warehouse: build every model empty first.
    built = dbt_on("duckdb", raw_dir, tmp_path, "build", "--empty", "--resource-type", "seed", "--resource-type", "model",
                   settings=OTHER_SETTINGS)
    assert built.returncode == 0, built.stdout[-3000:]

    tested = dbt_on("duckdb", raw_dir, tmp_path, "test", "--select", "test_type:unit", settings=OTHER_SETTINGS)

    results = json.loads((tmp_path / "target-duckdb" / "run_results.json").read_text())["results"]
    unit_tests = {r["unique_id"].rsplit(".", 1)[-1]: r["status"] for r in results if r["unique_id"].startswith("unit_test.")}
    assert len(unit_tests) >= 31, tested.stdout[-3000:]
    assert sorted(name for name, status in unit_tests.items() if status != "pass") == [], tested.stdout[-3000:]
