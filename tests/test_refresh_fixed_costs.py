"""What the daily refresh leaves out of its fixed costs (issue 19): the dbt unit tests in the `kpi_refresh` job
(they check the SQL, which `cx run` and `make test` check), and the dbt adapter dagster-dbt would build in the
Dagster process before every dbt command."""

from dagster_project.definitions import defs
from dagster_project.defs.assets.dbt import dbt_cli_resource, settings_environment, unit_test_exclusion
from dagster_project.defs.jobs import SKIP_DBT_UNIT_TESTS_TAG
from cx_core.settings import Settings

EXCLUDE_UNIT_TESTS = ["--exclude", "test_type:unit"]


def test_the_daily_refresh_leaves_the_dbt_unit_tests_to_cx_run_and_make_test():
    duckdb, spark = Settings.from_env({}), Settings.from_env({"CX_DBT_TARGET": "spark"})
    refresh_tags = defs.resolve_job_def("kpi_refresh").tags
    assert refresh_tags[SKIP_DBT_UNIT_TESTS_TAG] == "true"
    assert unit_test_exclusion(duckdb, refresh_tags) == EXCLUDE_UNIT_TESTS
    assert unit_test_exclusion(duckdb, defs.resolve_job_def("full_refresh").tags) == []
    assert unit_test_exclusion(duckdb, {}) == []  # dg.materialize in tests, a click in the UI
    assert unit_test_exclusion(spark, {}) == EXCLUDE_UNIT_TESTS  # their fixtures are DuckDB's types


def test_a_dbt_command_builds_no_dbt_adapter_in_the_dagster_process(data_dir):
    with settings_environment(Settings.from_env()):  # as in the dbt asset: dbt's profile can be read
        invocation = dbt_cli_resource().cli(["--version"]).wait()
    assert invocation.is_successful()
    assert invocation.adapter is None
