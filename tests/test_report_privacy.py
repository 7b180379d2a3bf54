"""Reports never read personal data (issue 18): every relation a report reads, by its asset's `reads` and by
the names in its notebook and the shared helpers, has no column that the source contracts mark as personal
data (names, e-mails, phones, handles) under that name or the normalised staging name. And values from the
data never become markup or links in any report."""

import json
import re

import dagster as dg
import duckdb
import pytest

from cx_core.reporting import REPORTS_SOURCE_DIR
from cx_core.sources.contracts import CONTRACTS
from dagster_project.defs.assets.dbt import prepare_dbt_manifest
from dagster_project.defs.assets.reports import REPORTS, report_assets
from dagster_project.defs.resources import pipeline_resources
from tests.helpers.report_warehouse import AS_OF, build_report_warehouse
from tests.helpers.settings_env import point_settings_at
from tests.test_report_lineage import relations_named_in, warehouse_relations
from tests.test_reports import body_without_plotly_library, readable_text

# staging renames `phone` to `phone_e164` (docs/CONVENTIONS.md); every other personal column keeps its name
PERSONAL_COLUMNS = {c for contract in CONTRACTS.values() for c in contract.pii_columns} | {"phone_e164"}


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads(prepare_dbt_manifest().read_text())


def columns_of(manifest: dict, relation: str) -> set[str]:
    for node in [*manifest["nodes"].values(), *manifest["sources"].values()]:
        if node["name"] == relation and node["resource_type"] in ("model", "seed", "source"):
            return set(node["columns"])
    return set()


def read_by_reports(manifest: dict) -> set[str]:
    known, _ = warehouse_relations(manifest)
    named = {name for path in [*REPORTS_SOURCE_DIR.glob("*.py"), *(REPORTS_SOURCE_DIR / "cxreport").glob("*.py")]
             for name in relations_named_in(path.read_text(encoding="utf-8"), known)}
    return named | {table for spec in REPORTS for table in spec.reads}


def test_personal_columns_come_from_the_contracts():
    assert {"first_name", "last_name", "email", "customer_name", "author_handle"} <= PERSONAL_COLUMNS


def test_no_relation_a_report_reads_has_personal_columns(manifest):
    relations = read_by_reports(manifest)
    assert {"fct_touchpoints", "dim_customers", "kpi_metrics"} <= relations
    assert all(columns_of(manifest, r) for r in relations if not r.startswith("ml_")), "columns documented"
    personal = {r: sorted(columns_of(manifest, r) & PERSONAL_COLUMNS) for r in relations}
    assert {r: cols for r, cols in personal.items() if cols} == {}


# Values an export could carry in a field the reports show: a Markdown link to script, HTML, a spreadsheet
# formula. Each must reach the reader as plain text.
HOSTILE = {
    "markdown_link": "[click me](javascript:alert(1))",
    "script": "<script>alert(2)</script>",
    "image": "<img src=x onerror=alert(3)>",
    "formula": '=HYPERLINK("http://evil.example","open")',
}


@pytest.fixture(scope="module")
def hostile_pages(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile_reports")
    warehouse = build_report_warehouse(folder / "warehouse.duckdb")
    with duckdb.connect(str(warehouse)) as con:
        con.execute("UPDATE dim_customers SET segment = ? WHERE segment = 'vip_omnichannel'",
                    [HOSTILE["markdown_link"]])
        con.execute("UPDATE dim_customers SET segment = ? WHERE segment = 'digital_native'", [HOSTILE["script"]])
        con.execute("UPDATE ml_text_insights SET topic = ?, topic_label = ? WHERE topic = 'payment_billing'",
                    [HOSTILE["image"], HOSTILE["image"]])
        con.execute("UPDATE ml_emerging_topics SET top_words_en = ? WHERE status = 'new'", [HOSTILE["markdown_link"]])
        con.execute("UPDATE fct_touchpoints SET text = ? || ' ' || text WHERE text IS NOT NULL",
                    [f"{HOSTILE['formula']} {HOSTILE['script']}"])
    with pytest.MonkeyPatch.context() as env:
        point_settings_at(env, folder, CX_WAREHOUSE=str(warehouse), CX_REPORTS_DIR=str(folder / "out"),
                          CX_AS_OF=AS_OF.isoformat())
        result = dg.materialize(report_assets, resources=pipeline_resources())
    assert result.success
    return {spec.name: (folder / "out" / f"{spec.name}.html").read_text(encoding="utf-8") for spec in REPORTS}


@pytest.mark.slow
@pytest.mark.parametrize("name", [spec.name for spec in REPORTS])
def test_hostile_strings_stay_text_in_every_report(hostile_pages, name):
    produced = body_without_plotly_library(hostile_pages[name])
    assert not re.search(r"""href\s*=\s*["']?\s*javascript:""", produced, re.IGNORECASE)
    for value in HOSTILE.values():
        if value.startswith("<"):
            assert value not in produced  # never as markup


@pytest.mark.slow
def test_the_hostile_segment_is_shown_as_text(hostile_pages):
    text = readable_text(hostile_pages["churn_and_actions"])
    assert "javascript:alert(1)" in text and "<script>alert(2)</script>" in text
