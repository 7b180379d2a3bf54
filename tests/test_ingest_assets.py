"""Materialise the real ingest assets with Dagster on the tiny fixture exports in a temporary data dir."""

import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from dagster_project.defs.assets.ingest import PII_MASK, ingest_assets
from dagster_project.defs.resources import pipeline_resources

FIXTURES = Path(__file__).parent / "fixtures" / "landing"

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def landed(data_dir) -> None:
    """Every test starts with the fixture exports in its landing folder."""
    shutil.copytree(FIXTURES, data_dir / "landing")


def metadata_of(result, source: str) -> dict:
    [materialization] = result.asset_materializations_for_node(f"raw__{source}")
    return {key: value.value for key, value in materialization.metadata.items()}


def test_materialising_ingest_assets_writes_parquet_and_metadata(data_dir):
    result = dg.materialize(ingest_assets, resources=pipeline_resources())

    assert result.success
    orders = metadata_of(result, "orders")
    # orders_good.csv: 3 good rows; orders_bad.csv: 11 rows, 3 good, 8 quarantined with one reason each
    assert (orders["files_processed"], orders["rows_read"], orders["rows_loaded"], orders["rows_quarantined"]) == (2, 14, 6, 8)
    assert orders["quarantined:malformed_row"] == 1
    assert orders["quarantined:invalid_timestamp:ordered_at"] == 1
    assert orders["quarantined:duplicate_key"] == 1
    assert orders["event_time_min"] == "2026-03-01 08:15:00+00"
    assert orders["event_time_max"] == "2026-03-29 01:30:00+00"
    assert orders["raw_path"] == str(data_dir / "raw" / "orders")
    assert "O1001" in orders["preview"]
    assert "anna@example.de" not in orders["preview"] and PII_MASK in orders["preview"]
    assert metadata_of(result, "web_events")["unknown_columns"] == "session_hint"

    with duckdb.connect() as con:
        loaded = con.execute(
            f"SELECT count(*), count(DISTINCT _source_file) FROM read_parquet('{data_dir}/raw/orders/**/*.parquet', "
            "union_by_name = true, hive_partitioning = false)"
        ).fetchall()[0]
        quarantined = con.execute(f"SELECT count(*) FROM '{data_dir}/quarantine/orders/*.parquet'").fetchall()[0][0]
    assert loaded == (6, 2)
    assert quarantined == 8

    again = dg.materialize(ingest_assets, resources=pipeline_resources())
    assert metadata_of(again, "orders")["files_processed"] == 0
    assert metadata_of(again, "orders")["files_already_loaded"] == 2


def test_a_broken_file_fails_only_its_own_source(data_dir):
    (data_dir / "landing" / "calls" / "calls_broken.csv").write_text("caller,when\n0171,2026-03-01\n")

    result = dg.materialize(ingest_assets, resources=pipeline_resources(), raise_on_error=False)

    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert failure.step_key == "raw__calls"
    assert "calls/calls_broken.csv: required column 'call_id' is missing" in str(failure.event_specific_data.error)
    materialised = {event.asset_key.path[1] for event in result.get_asset_materialization_events()}
    assert materialised == {
        "crm_customers", "web_events", "orders", "email_events", "mobile_messages", "support_tickets",
        "chat_conversations", "social_mentions", "surveys", "case_updates",
    }


def test_an_undecodable_file_fails_alone_and_a_cp1252_file_of_another_source_loads(data_dir):
    header = "order_id,ordered_at,customer_id,email,loyalty_id,channel,store_id,order_type,original_order_id,items,value_eur,payment_method,product_category"
    (data_dir / "landing" / "orders" / "excel_export.csv").write_bytes(
        (header + "\nO7001,2026-03-01T10:00:00Z,,,,store,S1,sale,,1,\"5,50\",cash,Geschenk für 5 €\n").encode("cp1252"))
    (data_dir / "landing" / "calls" / "calls_undecodable.csv").write_bytes(
        b"call_id,started_at,direction,abandoned\nK9,2026-03-01T10:00:00Z,inbound,false,\x81\xe4\n")

    result = dg.materialize(ingest_assets, resources=pipeline_resources(), raise_on_error=False)

    [failure] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert failure.step_key == "raw__calls"
    error = str(failure.event_specific_data.error)
    assert "calls/calls_undecodable.csv: the file is neither UTF-8 nor Windows-1252" in error
    assert "1 other file(s) of calls were loaded" in error  # calls_good.csv
    assert metadata_of(result, "orders")["files_processed"] == 3
    with duckdb.connect() as con:
        category = con.execute(
            f"SELECT product_category FROM read_parquet('{data_dir}/raw/orders/**/*.parquet', union_by_name = true, "
            "hive_partitioning = false) WHERE order_id = 'O7001'").fetchall()
        calls = con.execute(
            f"SELECT count(*) FROM read_parquet('{data_dir}/raw/calls/**/*.parquet', union_by_name = true, "
            "hive_partitioning = false)").fetchall()[0][0]
    assert category == [("Geschenk für 5 €",)]
    assert calls == 2
