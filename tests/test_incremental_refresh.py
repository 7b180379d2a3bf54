"""Incremental dbt refresh equals a full refresh, row for row (issue 19).

A small generated demo is ingested, then its raw layer is split in two loads by event time: every day but the
last, then the last day, ingested an hour later, with two rows that make incrementality hard: a first login of a
cookie that was anonymous so far (identity resolution re-attributes its earlier visits to the customer) and a
corrected re-export of an old order. One warehouse is built from the first load and refreshed incrementally
through the Dagster dbt asset (the production path: a build file with copies of the incremental tables); a
second warehouse is built from both loads with `--full-refresh`. The marts must be equal.
"""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from cx_core.sources.contracts import CONTRACTS
from cx_core.sources.ingest import ingest_source
from cx_demo.generate import generate_demo
from dagster_project.defs.resources import pipeline_resources
from tests.helpers.demo_warehouse import run_dbt
from tests.helpers.settings_env import point_settings_at

pytestmark = pytest.mark.slow  # generates, ingests and builds two real warehouses

CUSTOMERS, DAYS, SEED = 120, 45, 5
SECOND_LOAD_DELAY = timedelta(hours=1)
CORRECTED_VALUE_EUR = 123.45
# the marts compared, each ordered by every column (dim_customers' ML columns are null on both sides: no ML ran)
MARTS = ("fct_touchpoints", "fct_web_sessions", "fct_journeys", "dim_customers", "kpi_metrics")
INCREMENTAL_MODELS = ("int_identity_components", "int_touchpoints_resolved", "int_web_sessions",
                      "int_journey_touchpoints")


# seeds and models without the data tests: the Dagster step of the incremental run builds and tests everything
MODELS_ONLY = ["build", "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"]


def query(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def split_raw_into_two_loads(raw_dir: Path, held_dir: Path, cutoff: datetime) -> tuple[str, str, str]:
    """Rewrite each source's raw Parquet as its first load (rows whose event time is before `cutoff`, as they
    were ingested) and put the second load (the others and the planted rows, ingested SECOND_LOAD_DELAY after
    the latest first-load row) into `held_dir` in the same layout. Returns plant_second_load_rows' ids."""
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        for contract in CONTRACTS.values():
            folder = raw_dir / contract.name
            con.execute(f"""CREATE TABLE "{contract.name}" AS SELECT * FROM read_parquet(
                '{folder}/load_date=*/*.parquet', union_by_name=true, hive_partitioning=false)""")
            con.execute(f'CREATE TABLE "planted_{contract.name}" AS FROM "{contract.name}" LIMIT 0')
            for load in folder.glob("load_date=*"):
                shutil.rmtree(load)
        second_load_at = con.execute(" UNION ALL ".join(
            f'SELECT max(_ingested_at) FROM "{name}"' for name in CONTRACTS) + " ORDER BY 1 DESC LIMIT 1"
        ).fetchone()[0] + SECOND_LOAD_DELAY
        planted = plant_second_load_rows(con, cutoff)
        for contract in CONTRACTS.values():
            table, event_time = f'"{contract.name}"', f'"{contract.event_time}"'
            first = f"SELECT * FROM {table} WHERE {event_time} IS NULL OR {event_time} < $cutoff"
            second = (f"SELECT * REPLACE ($second_load_at::TIMESTAMPTZ AS _ingested_at) FROM ("
                      f"SELECT * FROM {table} WHERE {event_time} >= $cutoff "
                      f'UNION ALL SELECT * FROM "planted_{contract.name}")')
            for folder, sql in ((raw_dir, first), (held_dir, second)):
                out = folder / contract.name / "load_date=2000-01-01" / f"{folder.name}.parquet"
                out.parent.mkdir(parents=True)
                con.execute(f"COPY ({sql}) TO '{out}' (FORMAT parquet)",
                            {"cutoff": cutoff, "second_load_at": second_load_at}
                            if folder == held_dir else {"cutoff": cutoff})
    return planted


def plant_second_load_rows(con: duckdb.DuckDBPyConnection, cutoff: datetime) -> tuple[str, str, str]:
    """Plant for the second load a first login of a cookie that was anonymous before `cutoff` and a re-export of
    an old order with a corrected value. Returns (cookie, the customer id it logs in as, the order id)."""
    cookie = con.execute("""
        SELECT anonymous_id FROM web_events GROUP BY anonymous_id
        HAVING count(user_id) = 0 AND count(*) FILTER (event_type = 'purchase') = 0
           AND max(event_time) < $cutoff AND anonymous_id NOT IN (
               SELECT anonymous_id FROM chat_conversations WHERE anonymous_id IS NOT NULL)
        ORDER BY anonymous_id LIMIT 1""", {"cutoff": cutoff}).fetchone()[0]
    customer_id = con.execute("SELECT min(customer_id) FROM crm_customers").fetchone()[0]
    con.execute("""
        INSERT INTO planted_web_events SELECT * REPLACE ('incremental-login' AS event_id, $customer_id AS user_id,
            'login' AS event_type, $cutoff::TIMESTAMPTZ + INTERVAL 1 HOUR AS event_time, NULL AS order_id,
            NULL AS value_eur)
        FROM web_events WHERE anonymous_id = $cookie ORDER BY event_time LIMIT 1""",
                {"customer_id": customer_id, "cutoff": cutoff, "cookie": cookie})
    order_id = con.execute("""SELECT min(order_id) FROM orders
        WHERE customer_id IS NOT NULL AND order_type = 'sale' AND ordered_at < $cutoff""",
                           {"cutoff": cutoff}).fetchone()[0]
    con.execute("INSERT INTO planted_orders SELECT * REPLACE ($value AS value_eur) FROM orders WHERE order_id = $id",
                {"value": CORRECTED_VALUE_EUR, "id": order_id})
    return cookie, customer_id, order_id


def mart_rows(warehouse: Path, mart: str) -> list[tuple]:
    return query(warehouse, f"SELECT * FROM {mart} ORDER BY ALL")


@pytest.fixture(scope="module")
def refreshed(tmp_path_factory):
    """The demo's first load built, its second load landed: (the warehouse refreshed incrementally through the
    Dagster dbt asset, a second warehouse fully refreshed over both loads, the first-load warehouse's copy,
    the planted ids)."""
    from dagster_project.defs.assets.dbt import cx_dbt_assets

    data_dir = tmp_path_factory.mktemp("incremental") / "data"
    with pytest.MonkeyPatch.context() as env:
        settings = point_settings_at(env, data_dir)
        summary = generate_demo(settings.landing_dir, settings.demo_truth_dir, customers=CUSTOMERS, days=DAYS,
                                seed=SEED)
        for contract in CONTRACTS.values():
            ingest_source(contract, settings)
        cutoff = datetime.combine(summary.end, datetime.min.time(), tzinfo=timezone.utc)
        held = data_dir / "second_load"
        planted = split_raw_into_two_loads(settings.raw_dir, held, cutoff)
        run_dbt(settings, data_dir, MODELS_ONLY)
        first_load = data_dir / "first_load.duckdb"
        shutil.copy(settings.warehouse_path, first_load)
        for load in held.glob("*/load_date=*"):
            shutil.move(load, settings.raw_dir / load.parent.name / "load_date=2000-01-02")
        env.setenv("DBT_TARGET_PATH", str(data_dir / "dagster_dbt_target"))
        result = dg.materialize([cx_dbt_assets], resources=pipeline_resources())
        assert result.success
        full = data_dir / "full_refresh.duckdb"
        run_dbt(settings, data_dir, [*MODELS_ONLY, "--full-refresh"], warehouse=full)
        yield settings.warehouse_path, full, first_load, planted


@pytest.mark.parametrize("mart", MARTS)
def test_the_incremental_refresh_equals_a_full_refresh(refreshed, mart):
    incremental, full, _, _ = refreshed
    assert mart_rows(incremental, mart) == mart_rows(full, mart)


def test_a_first_login_re_attributes_the_cookies_earlier_visits(refreshed):
    incremental, _, first_load, (cookie, customer_id, _) = refreshed
    visits = ("SELECT DISTINCT customer_key FROM fct_touchpoints WHERE touchpoint_id IN ("
              f"SELECT 'web_events:' || event_id FROM stg_web_events__events WHERE anonymous_id = '{cookie}' "
              "AND event_id <> 'incremental-login')")
    [(before,)] = query(first_load, visits)
    assert before.startswith("P-")  # an anonymous person of its own
    assert query(incremental, visits) == [(f"C-{customer_id}",)]


def test_a_corrected_re_export_replaces_the_old_record(refreshed):
    incremental, _, first_load, (_, _, order_id) = refreshed
    value = f"SELECT value_eur FROM fct_touchpoints WHERE touchpoint_id = 'orders:{order_id}'"
    assert query(first_load, value) != [(CORRECTED_VALUE_EUR,)]
    assert query(incremental, value) == [(CORRECTED_VALUE_EUR,)]


@pytest.mark.parametrize("model, marker", [("int_identity_components", "changed_at"),
                                           ("int_touchpoints_resolved", "_identity_changed_at"),
                                           ("int_web_sessions", "_identity_changed_at")])
def test_the_refresh_rewrote_only_part_of_each_incremental_model(refreshed, model, marker):
    """Rows the incremental run wrote carry its identity change; the first load's rows it left keep theirs."""
    incremental, _, _, _ = refreshed
    [(rewritten, kept)] = query(incremental, f"""SELECT count(*) FILTER ({marker} = (SELECT max({marker}) FROM {model})),
                                                   count(*) FILTER ({marker} < (SELECT max({marker}) FROM {model}))
                                               FROM {model}""")
    assert rewritten > 0 and kept > 0
