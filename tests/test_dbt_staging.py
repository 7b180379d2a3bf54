"""Staging layer end to end: tiny raw Parquet -> real `dbt build` through Dagster -> hand-checked rows."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from cx_core.sources.contracts import CONTRACTS
from cx_core.sources.ingest import ensure_raw_schemas
from tests.helpers.raw_parquet import raw_columns, write_raw_parquet
from tests.helpers.settings_env import point_settings_at

pytestmark = pytest.mark.slow  # builds real dbt models

STAGING_MODELS = {
    "crm_customers": ["stg_crm_customers__customers"],
    "web_events": ["stg_web_events__events"],
    "orders": ["stg_orders__orders"],
    "email_events": ["stg_email_events__events"],
    "mobile_messages": ["stg_mobile_messages__messages"],
    "support_tickets": ["stg_support_tickets__tickets"],
    "chat_conversations": ["stg_chat_conversations__conversations", "stg_chat_conversations__messages"],
    "calls": ["stg_calls__calls"],
    "social_mentions": ["stg_social_mentions__posts"],
    "surveys": ["stg_surveys__responses"],
}
FIRST_LOAD = "2024-04-01T06:00:00+00:00"
SECOND_LOAD = "2024-04-02T06:00:00+00:00"


def lineage(file: str, line: int, ingested_at: str) -> dict:
    return {"_source_file": file, "_source_line": line, "_file_sha256": "0" * 64, "_ingested_at": ingested_at}


def write_fixture_raw_layer(raw_dir: Path) -> None:
    ensure_raw_schemas(raw_dir)
    first, second = "load_date=2024-04-01", "load_date=2024-04-02"
    write_raw_parquet(raw_dir / "crm_customers" / first / "crm-a.parquet", "crm_customers", [
        {"customer_id": "C1", "email": " Anna@Example.COM ", "phone": "0171 234-5678", "social_handle": "Anna_B",
         "segment": "old", "created_at": "2024-03-31T02:30:00+02:00", **lineage("crm-a.csv", 1, FIRST_LOAD)},
        {"customer_id": "C2", "email": "max@example.de", "phone": "+43 1 234 5678", "segment": "first",
         "created_at": "2024-01-15T12:00:00+01:00", **lineage("crm-a.csv", 2, FIRST_LOAD)},
        {"customer_id": "C2", "email": "max@example.de", "phone": "+43 1 234 5678", "segment": "second",
         "created_at": "2024-01-15T12:00:00+01:00", **lineage("crm-a.csv", 3, FIRST_LOAD)},
    ])
    write_raw_parquet(raw_dir / "crm_customers" / second / "crm-b.parquet", "crm_customers", [
        {"customer_id": "C1", "email": "ANNA@example.com", "phone": "0171 234-5678", "social_handle": "@Anna_B",
         "segment": "new", "created_at": "2024-03-31T02:30:00+02:00", **lineage("crm-b.csv", 1, SECOND_LOAD)},
    ])
    write_raw_parquet(raw_dir / "calls" / first / "calls.parquet", "calls", [
        {"call_id": "K1", "started_at": "2024-03-01T09:00:00+01:00", "phone": "0043 1 234-5678",
         "direction": "inbound", "abandoned": False, **lineage("calls.csv", 1, FIRST_LOAD)},
        {"call_id": "K2", "started_at": "2024-03-01T10:00:00+01:00", "phone": "",
         "direction": "inbound", "abandoned": True, **lineage("calls.csv", 2, FIRST_LOAD)},
        {"call_id": "K3", "started_at": "2024-03-01T11:00:00+01:00", "phone": "(0171) 234 56 78",
         "direction": "outbound", "abandoned": False, **lineage("calls.csv", 3, FIRST_LOAD)},
    ])

    def message(sent_at: str, sender: str, text: str) -> dict:
        return {"sent_at": sent_at, "sender": sender, "text": text}

    write_raw_parquet(raw_dir / "chat_conversations" / first / "chat.parquet", "chat_conversations", [
        {"conversation_id": "CH1", "started_at": "2024-03-02T10:00:00+01:00", "handover": False,
         "messages": [message("2024-03-02T10:00:00+01:00", "customer", "Hallo")],
         **lineage("chat.ndjson", 1, FIRST_LOAD)},
        {"conversation_id": "CH2", "started_at": "2024-03-02T12:00:00Z", "handover": False, "user_id": "C2",
         "messages": [message("2024-03-02T12:00:05Z", "customer", "Where is my order?")],
         **lineage("chat.ndjson", 2, FIRST_LOAD)},
        {"conversation_id": "CH1", "started_at": "2024-03-02T10:00:00+01:00", "handover": True,
         "email": "Anna@Example.com",
         "messages": [
             message("2024-03-02T10:00:00+01:00", "customer", "Hallo"),
             message("2024-03-02T10:00:30+01:00", "bot", "Wie kann ich helfen?"),
             message("2024-03-02T10:05:00+01:00", "agent", "Ich übernehme."),
         ],
         **lineage("chat.ndjson", 3, FIRST_LOAD)},
    ])


@pytest.fixture(scope="module")
def staged_warehouse(tmp_path_factory) -> tuple[Path, dg.ExecuteInProcessResult]:
    """Build every dbt node once on the fixture raw layer; yield the warehouse path and the Dagster result."""
    data_dir = tmp_path_factory.mktemp("cx_data")
    with pytest.MonkeyPatch.context() as env:
        settings = point_settings_at(env, data_dir)
        write_fixture_raw_layer(settings.raw_dir)
        from dagster_project.defs.assets.dbt import cx_dbt_assets
        from dagster_project.defs.resources import pipeline_resources

        result = dg.materialize([cx_dbt_assets], resources=pipeline_resources(), raise_on_error=False)
        yield settings.warehouse_path, result


def query(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.sql(sql).fetchall()


def test_build_succeeds_and_every_dbt_test_passes(staged_warehouse):
    _, result = staged_warehouse
    assert result.success
    checks = result.get_asset_check_evaluations()
    assert checks, "dbt tests should surface as asset checks"
    assert [c.check_name for c in checks if not c.passed] == []
    materialized = {event.asset_key.to_user_string() for event in result.get_asset_materialization_events()}
    expected = {model for models in STAGING_MODELS.values() for model in models} | {"channel_taxonomy"}
    assert expected <= materialized


def test_latest_ingestion_then_highest_line_wins(staged_warehouse):
    warehouse, _ = staged_warehouse
    rows = query(warehouse, "select customer_id, segment, _source_file, _source_line "
                            "from stg_crm_customers__customers order by customer_id")
    assert rows == [("C1", "new", "crm-b.csv", 1), ("C2", "second", "crm-a.csv", 3)]


def test_identifiers_are_normalised(staged_warehouse):
    warehouse, _ = staged_warehouse
    customers = query(warehouse, "select customer_id, email, phone_e164, social_handle "
                                 "from stg_crm_customers__customers order by customer_id")
    assert customers == [("C1", "anna@example.com", "+491712345678", "@anna_b"),
                         ("C2", "max@example.de", "+4312345678", None)]
    calls = query(warehouse, "select call_id, phone_e164 from stg_calls__calls order by call_id")
    assert calls == [("K1", "+4312345678"), ("K2", None), ("K3", "+491712345678")]
    columns = {name for (name,) in query(warehouse, "select column_name from information_schema.columns "
                                                   "where table_name = 'stg_calls__calls'")}
    assert "phone" not in columns


def test_timestamps_are_plain_utc(staged_warehouse):
    warehouse, _ = staged_warehouse
    assert query(warehouse, "select cast(created_at as varchar), typeof(created_at) "
                            "from stg_crm_customers__customers order by customer_id") == [
        ("2024-03-31 00:30:00", "TIMESTAMP"),
        ("2024-01-15 11:00:00", "TIMESTAMP"),
    ]
    assert query(warehouse, "select cast(started_at as varchar) from stg_calls__calls where call_id = 'K1'") == [
        ("2024-03-01 08:00:00",)
    ]


def test_chat_messages_are_unnested_in_order_from_the_kept_conversation(staged_warehouse):
    warehouse, _ = staged_warehouse
    assert query(warehouse, "select conversation_id, handover, email from stg_chat_conversations__conversations "
                            "order by conversation_id") == [("CH1", True, "anna@example.com"), ("CH2", False, None)]
    assert query(warehouse, "select conversation_id, message_index, cast(sent_at as varchar), sender, text "
                            "from stg_chat_conversations__messages order by conversation_id, message_index") == [
        ("CH1", 1, "2024-03-02 09:00:00", "customer", "Hallo"),
        ("CH1", 2, "2024-03-02 09:00:30", "bot", "Wie kann ich helfen?"),
        ("CH1", 3, "2024-03-02 09:05:00", "agent", "Ich übernehme."),
        ("CH2", 1, "2024-03-02 12:00:05", "customer", "Where is my order?"),
    ]


def test_channel_taxonomy_seed_is_loaded(staged_warehouse):
    warehouse, _ = staged_warehouse
    rows = dict(query(warehouse, "select channel, is_service_channel from channel_taxonomy"))
    assert set(rows) == {"web", "app", "store", "email", "chat_bot", "chat_agent", "phone", "ivr", "social",
                         "survey", "sms", "push", "web_form"}
    assert rows["chat_agent"] is True and rows["web"] is False


def test_dbt_unit_tests_pass(staged_warehouse):
    """The normalisation and dedup unit tests (dbt `unit_tests:`) run against the same warehouse."""
    from dagster_project.defs.assets.dbt import dbt_cli_resource

    invocation = dbt_cli_resource().cli(["test", "--select", "test_type:unit,path:models/staging"], raise_on_error=False).wait()
    results = json.loads(invocation.target_path.joinpath("run_results.json").read_text())["results"]
    assert {r["unique_id"].rsplit(".", 1)[-1]: r["status"] for r in results if r["unique_id"].startswith("unit_test.")} == {
        "test_crm_customers_identifiers_are_normalised": "pass",
        "test_crm_customers_latest_duplicate_wins": "pass",
        "test_case_updates_latest_by_update_time": "pass",
        "test_web_events_incremental_run_reads_only_new_ingestions": "pass",
    }


# a CRM sends case updates when cases change, not every day: no freshness expectation
SOURCES_WITHOUT_FRESHNESS = {"case_updates"}


def test_sources_document_exactly_the_contract_columns():
    from dagster_project.defs.assets.dbt import prepare_dbt_manifest

    manifest = json.loads(prepare_dbt_manifest().read_text())
    raw_sources = {node["identifier"]: node for node in manifest["sources"].values() if node["schema"] == "raw"}
    assert set(raw_sources) == set(CONTRACTS)
    for source, contract in CONTRACTS.items():
        node = raw_sources[source]
        assert node["source_name"] == source and node["meta"]["dagster"]["asset_key"] == ["raw", source]
        assert node["loaded_at_field"] == "_ingested_at"
        if source in SOURCES_WITHOUT_FRESHNESS:
            assert node["freshness"] is None
        else:
            assert node["freshness"]["error_after"]["count"] == 50
        assert list(node["columns"]) == list(raw_columns(contract)), source


def test_asset_graph_keys_groups_and_raw_dependencies():
    from dagster_project.defs.assets.dbt import cx_dbt_assets

    assert {cx_dbt_assets.group_names_by_key[key] for key in cx_dbt_assets.keys} == {
        "seeds", "staging", "intermediate", "marts", "kpi"}
    for source, models in STAGING_MODELS.items():
        for model in models:
            key = dg.AssetKey(model)
            assert key in cx_dbt_assets.keys
            assert dg.AssetKey(["raw", source]) in cx_dbt_assets.asset_deps[key]
