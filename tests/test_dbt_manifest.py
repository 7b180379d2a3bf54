"""The manifest the code location is built from is parsed again when it was parsed for the other kind of target
(the models are incremental on DuckDB only, and a manifest left by a Spark parse made every later DuckDB build
rebuild the incremental tables whole, issue 19) or when a file in a folder dbt parses is newer."""

import os

import yaml

from dagster_project.defs.assets.dbt import (DBT_PROJECT_DIR, PARSED_FOLDERS, dbt_project, manifest_inputs,
                                             manifest_is_stale, parsed_for_duckdb)


def test_a_manifest_parsed_for_the_other_kind_of_target_is_stale(tmp_path):
    # dbt's own manifest, parsed for DuckDB when the code location was loaded, and the same parsed for Spark
    written_by_dbt = dbt_project.manifest_path.read_text()
    assert '"adapter_type": "duckdb"' in written_by_dbt
    for_duckdb, for_spark, without_metadata = (tmp_path / name for name in ("duckdb.json", "spark.json", "bare.json"))
    for_duckdb.write_text(written_by_dbt)
    for_spark.write_text(written_by_dbt.replace('"adapter_type": "duckdb"', '"adapter_type": "spark"', 1))
    without_metadata.write_text('{"nodes": {}}')

    assert parsed_for_duckdb(for_duckdb) is True and parsed_for_duckdb(for_spark) is False
    assert parsed_for_duckdb(without_metadata) is None
    assert not manifest_is_stale(for_duckdb, on_duckdb=True)
    assert manifest_is_stale(for_duckdb, on_duckdb=False)
    assert manifest_is_stale(for_spark, on_duckdb=True)
    assert not manifest_is_stale(for_spark, on_duckdb=False)
    assert manifest_is_stale(without_metadata, on_duckdb=True)
    assert manifest_is_stale(tmp_path / "missing.json", on_duckdb=True)

    os.utime(for_duckdb, (0, 0))  # older than every project file
    assert manifest_is_stale(for_duckdb, on_duckdb=True)


def test_every_folder_dbt_parses_can_make_the_manifest_stale():
    """A new or edited generic test (dbt_models/tests) changes the checks the code location shows, as a model does."""
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    parsed = {(DBT_PROJECT_DIR / folder).resolve() for key, folders in project.items() if key.endswith("-paths")
              for folder in folders}
    assert parsed == {folder.resolve() for folder in PARSED_FOLDERS}
    assert DBT_PROJECT_DIR / "tests" / "generic" / "unique_in_latest_run.sql" in set(manifest_inputs())
