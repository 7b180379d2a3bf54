"""The rules of dbt-project-evaluator (dbt-labs), checked on the manifest: the package itself comes from
hub.getdbt.com, which this project cannot reach, so its rules live here. Exceptions are configured in
dbt_project.yml under `vars: project_evaluator`, each with the reason; a test fails on any other finding."""

import json
import re
from fnmatch import fnmatch

import pytest
import yaml

from dagster_project.defs.assets.dbt import DBT_PROJECT_DIR, prepare_dbt_manifest

LAYER_PREFIXES = {"staging": ("stg_",), "intermediate": ("int_",)}


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads(prepare_dbt_manifest().read_text())


@pytest.fixture(scope="module")
def settings() -> dict:
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    return project["vars"]["project_evaluator"]


def models(manifest: dict) -> dict[str, dict]:
    return {node["unique_id"]: node for node in manifest["nodes"].values() if node["resource_type"] == "model"}


def layer(node: dict) -> str:
    return node["fqn"][1]


def not_allowed(findings: list[str], settings: dict, rule: str) -> list[str]:
    """The findings no name pattern of the rule's configured exception allows."""
    patterns = settings.get("exceptions", {}).get(rule, {}).get("allow", [])
    return [name for name in findings if not any(fnmatch(name, pattern) for pattern in patterns)]


def children(manifest: dict, unique_id: str) -> list[str]:
    return manifest["child_map"].get(unique_id, [])


def test_names_match_their_layer(manifest, settings):
    prefixes = {**LAYER_PREFIXES, "marts": tuple(settings["marts_prefixes"])}
    wrong = [node["name"] for node in models(manifest).values()
             if layer(node) in prefixes and not node["name"].startswith(prefixes[layer(node)])]
    assert wrong == [], "model names that do not match their folder's layer"


def test_raw_sources_feed_staging_models_only(manifest, settings):
    findings = [node["name"] for node in models(manifest).values() if layer(node) != "staging"
                and any(parent.startswith("source.") for parent in node["depends_on"]["nodes"])]
    assert not_allowed(findings, settings, "direct_join_to_source") == [], "non-staging models reading a source"


def test_staging_models_read_sources_and_seeds_only(manifest):
    findings = [node["name"] for node in models(manifest).values() if layer(node) == "staging"
                and any(parent.startswith("model.") for parent in node["depends_on"]["nodes"])]
    assert findings == [], "staging models depending on other models"


def test_intermediate_models_do_not_read_marts(manifest):
    all_models = models(manifest)
    findings = [node["name"] for node in all_models.values() if layer(node) == "intermediate"
                and any(layer(all_models[parent]) == "marts" for parent in node["depends_on"]["nodes"] if parent in all_models)]
    assert findings == [], "intermediate models depending on marts"


def test_each_source_feeds_one_model(manifest, settings):
    findings = [source["source_name"] for source in manifest["sources"].values()
                if source["source_name"] != "ml" and len(children(manifest, source["unique_id"])) > 1]
    assert not_allowed(findings, settings, "source_fanout") == [], "sources with more than one direct child"


def test_every_source_table_is_used(manifest):
    unused = [f"{source['source_name']}.{source['name']}" for source in manifest["sources"].values()
              if not children(manifest, source["unique_id"])]
    assert unused == []


def test_every_model_has_parents(manifest):
    assert [node["name"] for node in models(manifest).values() if not node["depends_on"]["nodes"]] == []


def test_every_model_has_a_primary_key_test(manifest):
    keyed = set()
    for node in manifest["nodes"].values():
        metadata = node.get("test_metadata") or {}
        # unique_in_latest_run: a column's uniqueness, checked for the rows of the latest run (tests/generic)
        if metadata.get("name") == "unique_combination_of_columns" or (
            metadata.get("name") in ("unique", "unique_in_latest_run") and node.get("column_name")
        ):
            keyed.add(node["attached_node"])
    assert sorted(node["name"] for uid, node in models(manifest).items() if uid not in keyed) == []


def test_models_sources_and_exposures_are_documented(manifest):
    undocumented = [node["name"] for node in [*models(manifest).values(), *manifest["sources"].values(),
                                               *manifest["exposures"].values()] if not node["description"].strip()]
    assert undocumented == []


def test_descriptions_read_as_words_not_templates(manifest):
    """Descriptions are shown as they are written (dbt renders no Jinja there): a setting is named by its words
    and environment variable, never as var('...')."""
    template = re.compile(r"var\(|ref\(|\{\{")
    texts = {node["name"]: node["description"] for node in models(manifest).values()}
    texts |= {f"{node['name']}.{column}": spec.get("description", "")
              for node in models(manifest).values() for column, spec in node["columns"].items()}
    assert sorted(name for name, text in texts.items() if template.search(text)) == []


def test_source_and_model_yaml_live_beside_the_models(manifest):
    for source in manifest["sources"].values():
        if source["source_name"] != "ml":
            system = source["source_name"]
            assert source["original_file_path"] == f"models/staging/{system}/_{system}__sources.yml"
    for node in models(manifest).values():
        assert node["patch_path"] == "cx_pipeline://" + node["original_file_path"].replace(".sql", ".yml"), node["name"]


def test_no_hard_coded_relations(manifest):
    # `a is not distinct from b.column` compares values: no relation follows that `from`
    pattern = re.compile(r"\b(?<!distinct )(?:from|join)\s+(?![{(])[a-z_]+\.[a-z_]+", re.IGNORECASE)
    findings = [node["name"] for node in models(manifest).values() if pattern.search(node["raw_code"])]
    assert findings == []


def test_marts_are_contracted_and_exposures_read_tables(manifest, settings):
    all_models = models(manifest)
    uncontracted = [node["name"] for node in all_models.values()
                    if layer(node) == "marts" and not node["config"]["contract"]["enforced"]]
    assert not_allowed(uncontracted, settings, "public_models_without_contract") == []
    for exposure in manifest["exposures"].values():
        parents = [all_models[parent] for parent in exposure["depends_on"]["nodes"] if parent in all_models]
        assert all(layer(parent) == "marts" for parent in parents), exposure["name"]
        # an incremental model is a table too (dbt-project-evaluator flags views and ephemeral models here)
        not_tables = [parent["name"] for parent in parents if parent["config"]["materialized"] not in ("table", "incremental")]
        assert not_allowed(not_tables, settings, "exposure_parents_materializations") == [], exposure["name"]
