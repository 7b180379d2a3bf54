"""Failure behaviour with real materialisations on a small demo: a broken export fails its own source only; a
failed step leaves the warehouse tables and the reports as they were; re-running after the fix completes the work."""

import json

import dagster as dg
import duckdb
import pytest

from dagster_project.definitions import defs
from dagster_project.defs.assets.dbt import SEEDS_DIR
from dagster_project.defs.resources import pipeline_resources
from cx_demo.generate import generate_demo
from cx_core.sources.contracts import CONTRACTS
from tests.helpers.settings_env import point_settings_at

pytestmark = pytest.mark.slow

# Every asset of the code location; the privacy jobs (erasure, retention) run on their own, never in a refresh.
ALL_ASSETS = list(defs.assets)
NOT_IN_A_REFRESH = dg.AssetSelection.groups("privacy")
# An orders export whose header lost its key column: the whole file breaks the contract.
BROKEN_ORDERS = "ordered_at,customer_id,channel,order_type,items,value_eur\n2026-01-02T10:00:00Z,C1,web,sale,1,9.99\n"
# (with the other outputs of any multi-asset downstream: those run as one step)
SENTIMENT_AND_AFTER = dg.AssetSelection.assets("ml_sentiment").downstream().required_multi_asset_neighbors().without_checks()


def materialize(selection: dg.AssetSelection) -> dg.ExecuteInProcessResult:
    return dg.materialize(ALL_ASSETS, resources=pipeline_resources(), selection=selection - NOT_IN_A_REFRESH,
                          raise_on_error=False)


def materialized_keys(result: dg.ExecuteInProcessResult) -> set[str]:
    return {event.asset_key.to_user_string() for event in result.get_asset_materialization_events()}


def failed_steps(result: dg.ExecuteInProcessResult) -> set[str]:
    return {event.step_key for event in result.all_events if event.is_step_failure}


def table_rows(warehouse, table: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.sql(f"select * from {table} order by all").fetchall()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    data = tmp_path_factory.mktemp("failures")
    generate_demo(data / "landing", data / "demo_truth", customers=600, days=240, seed=11, progress=False)
    (data / "landing" / "orders" / "orders_broken.csv").write_text(BROKEN_ORDERS)
    with pytest.MonkeyPatch.context() as env:
        point_settings_at(env, data)
        yield data, env


def test_a_broken_export_fails_its_source_only_and_the_rerun_completes(demo):
    data, _ = demo
    broken = materialize(dg.AssetSelection.all().without_checks())
    assert failed_steps(broken) == {"raw__orders"}
    other_sources = {f"raw/{name}" for name in CONTRACTS if name != "orders"}
    seeds = {path.stem for path in SEEDS_DIR.glob("*.csv")}  # they read no source, so they load anyway
    assert materialized_keys(broken) - seeds == other_sources  # every model downstream of orders waits for it
    ledger = json.loads((data / "raw" / "_ledger" / "crm_customers.json").read_text())
    assert sum(entry["rows_loaded"] for entry in ledger.values()) > 0

    (data / "landing" / "orders" / "orders_broken.csv").unlink()
    fixed = materialize(dg.AssetSelection.all().without_checks())
    assert fixed.success, failed_steps(fixed)
    assert {"raw/orders", "kpi_metrics", "ml_churn_scores", "voice_of_customer"} <= materialized_keys(fixed)
    # the sources loaded by the broken run were not loaded twice
    ledger_after = json.loads((data / "raw" / "_ledger" / "crm_customers.json").read_text())
    assert ledger_after == ledger


def test_a_failed_step_leaves_tables_and_reports_as_they_were(demo):
    data, env = demo
    warehouse, report = data / "warehouse.duckdb", data / "reports" / "voice_of_customer.html"
    before = {table: table_rows(warehouse, table) for table in ("ml_sentiment", "kpi_voice_of_customer")}
    report_before = report.read_bytes()

    # a sentiment model id that cannot be loaded (offline, no such folder) fails the ML step
    env.setenv("CX_SENTIMENT_MODEL", str(data / "no-such-model"))
    env.setenv("HF_HUB_OFFLINE", "1")
    failed = materialize(SENTIMENT_AND_AFTER)
    assert failed_steps(failed) == {"ml_text"}  # the text assets' step (dagster_project/defs/assets/ml_text.py)
    assert materialized_keys(failed) == set()
    assert {table: table_rows(warehouse, table) for table in before} == before
    assert report.read_bytes() == report_before
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        leftovers = connection.sql("select table_name from information_schema.tables where table_name like '%staging' "
                                   "or table_name like '%__dbt_tmp%'").fetchall()
    assert leftovers == []

    env.delenv("CX_SENTIMENT_MODEL")
    rerun = materialize(SENTIMENT_AND_AFTER)
    assert rerun.success, failed_steps(rerun)
    assert {"ml_sentiment", "kpi_voice_of_customer", "voice_of_customer"} <= materialized_keys(rerun)
    assert table_rows(warehouse, "ml_sentiment") == before["ml_sentiment"]  # same texts, same cached scores
    assert report.read_bytes() != report_before
