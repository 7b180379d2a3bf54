"""What each report reads: the relations named in its notebook are marts, seeds or ML tables (never staging or
intermediate models), the report asset depends on each of them, and the dbt exposure of the report lists them."""

import json
import re

import pytest

from cx_core.reporting import REPORTS_SOURCE_DIR
from dagster_project.defs.assets.dbt import prepare_dbt_manifest
from dagster_project.defs.assets.reports import REPORTS

READABLE_PREFIXES = ("fct_", "dim_", "kpi_", "ml_")


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads(prepare_dbt_manifest().read_text())


def relations_named_in(code: str, known: set[str]) -> set[str]:
    """Relation names after FROM/JOIN in SQL and as keys of `report.missing({...})`, limited to known relations
    (prose such as "from the first touchpoint" names none)."""
    sql_names = re.findall(r"\b(?:from|join)\s+([a-z_][a-z0-9_]*)", code, flags=re.IGNORECASE)
    checked_names = re.findall(r"[\"']([a-z_][a-z0-9_]*)[\"']\s*:\s*\[", code)
    return {name for name in [*sql_names, *checked_names] if name in known}


def warehouse_relations(manifest: dict) -> tuple[set[str], set[str]]:
    """All relations reports could name, and the seeds among them."""
    nodes = [node for node in manifest["nodes"].values() if node["resource_type"] in ("model", "seed")]
    ml_tables = {node["name"] for node in manifest["sources"].values() if node["source_name"] == "ml"}
    seeds = {node["name"] for node in nodes if node["resource_type"] == "seed"}
    return {node["name"] for node in nodes} | ml_tables, seeds


def test_notebooks_and_their_shared_helpers_read_only_marts_seeds_and_ml_tables(manifest):
    known, seeds = warehouse_relations(manifest)
    for path in [*REPORTS_SOURCE_DIR.glob("*.py"), *(REPORTS_SOURCE_DIR / "cxreport").glob("*.py")]:
        named = relations_named_in(path.read_text(encoding="utf-8"), known)
        assert not {name for name in named if not name.startswith(READABLE_PREFIXES) and name not in seeds}, path.name


@pytest.mark.parametrize("spec", REPORTS, ids=lambda spec: spec.name)
def test_each_report_depends_on_what_its_notebook_reads_and_its_exposure_says_so(manifest, spec):
    known, _ = warehouse_relations(manifest)
    notebook = (REPORTS_SOURCE_DIR / f"{spec.name}.py").read_text(encoding="utf-8")
    assert relations_named_in(notebook, known) <= set(spec.reads)
    exposure = manifest["exposures"][f"exposure.cx_pipeline.{spec.name}"]
    exposed = {node_id.rsplit(".", 1)[-1] for node_id in exposure["depends_on"]["nodes"]}
    assert exposed == set(spec.reads)
