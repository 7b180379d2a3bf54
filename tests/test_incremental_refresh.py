"""Incremental dbt refresh equals a full refresh, row for row (issue 19).

A small generated demo is ingested, then its raw layer is split in two loads by event time
(tests/helpers/two_loads.py): every day but the last, then the last day, ingested an hour later, with rows that
make incrementality hard: two cookies that were anonymous so far get linked to customers, one by its first
login, one by a chat (identity resolution re-attributes their earlier visits), an old order is re-exported
with a corrected value, an old web event with another cookie, a CRM customer with a changed e-mail and another
with a third one's phone (a newly shared identifier). One warehouse is built from the first load and refreshed incrementally
through the Dagster dbt asset as the daily refresh runs it (the production path: a build file with copies of the
incremental tables, the seeds loaded by the first load kept); a
second warehouse is built from both loads with `--full-refresh`. The marts must be equal.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import NamedTuple

import dagster as dg
import duckdb
import pytest

from cx_core.privacy.retention import apply_retention
from cx_core.settings import Settings
from cx_core.sources.contracts import CONTRACTS
from cx_core.sources.ingest import ingest_source
from cx_demo.generate import generate_demo
from dagster_project.defs.jobs import DAILY_REFRESH_TAG
from dagster_project.defs.resources import pipeline_resources
from tests.helpers.demo_warehouse import MODELS_ONLY, run_dbt
from tests.helpers.settings_env import point_settings_at
from tests.helpers.two_loads import (CHANGED_EMAIL, CORRECTED_VALUE_EUR, Planted, land_second_load,
                                     split_raw_into_two_loads)

pytestmark = pytest.mark.slow  # generates, ingests and builds two real warehouses

CUSTOMERS, DAYS, SEED = 120, 45, 5
# the marts compared, each ordered by every column (dim_customers' ML columns are null on both sides: no ML ran)
MARTS = ("fct_touchpoints", "fct_web_sessions", "fct_journeys", "fct_orders", "fct_campaign_assignments",
         "dim_customers", "kpi_metrics")
# incremental, unlike the other staging views
STAGING_TABLES = ("stg_web_events__events", "stg_email_events__events", "stg_orders__orders")
# the identity graph's incremental tables, without the columns saying when a run wrote a row, nor the time a
# record was first seen: the moved event was its first cookie's first, and nothing new names that cookie
IDENTITY_TABLES = {
    "int_identity_observations": "source, record_ref, identifier_type, identifier, identifier_value",
    "int_identity_blocked_identifiers": "identifier, records, linked_crm_ids, max_partners_of_one_type, rule, reason",
    "int_identity_components": "identifier, customer_key, component_label, is_blocked, label_changed_in_last_pass",
}
# the columns compared: all but the incremental bookkeeping (`_resolved_at`: when a run wrote the row)
PUBLISHED_COLUMNS = "COLUMNS('^[^_]')"


def query(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


class Refreshed(NamedTuple):
    incremental: Path  # the first load's warehouse after the incremental refresh through the Dagster dbt asset
    full: Path  # a second warehouse built over both loads with --full-refresh
    first_load: Path  # a copy of the first load's warehouse
    dbt_target: Path  # the Dagster dbt step's target folder (compiled SQL)
    settings: Settings  # of the incremental warehouse, whose raw layer holds both loads
    planted: Planted


def mart_rows(warehouse: Path, mart: str) -> list[tuple]:
    """The mart's rows, floats to 12 significant digits: DuckDB's parallel sums add in varying order, so the same
    amounts can differ in the last bit between any two builds (166.01 against 166.01000000000002)."""
    return [tuple(float(f"{value:.12g}") if isinstance(value, float) else value for value in row)
            for row in query(warehouse, f"SELECT {PUBLISHED_COLUMNS} FROM {mart} ORDER BY ALL")]


@pytest.fixture(scope="module")
def refreshed(tmp_path_factory) -> Refreshed:
    from dagster_project.defs.assets.dbt import cx_dbt_assets, dbt_manifest

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
        run_dbt(settings.dbt_project_dir, data_dir, MODELS_ONLY)
        first_load = data_dir / "first_load.duckdb"
        shutil.copy(settings.warehouse_path, first_load)
        land_second_load(settings.raw_dir, held)
        dbt_target = data_dir / "dagster_dbt_target"
        env.setenv("DBT_TARGET_PATH", str(dbt_target))
        # as the daily refresh runs it: the seeds the first load loaded are kept, output before what reads them
        refresh = dg.materialize([cx_dbt_assets], resources=pipeline_resources(), tags={DAILY_REFRESH_TAG: "true"})
        assert refresh.success
        kept = {event.asset_key.to_user_string() for event in refresh.get_asset_materialization_events()
                if "loaded" in event.materialization.metadata}
        assert kept == {node["name"] for node in dbt_manifest()["nodes"].values() if node["resource_type"] == "seed"}
        full = data_dir / "full_refresh.duckdb"
        run_dbt(settings.dbt_project_dir, data_dir, [*MODELS_ONLY, "--full-refresh"], warehouse=full)
        yield Refreshed(settings.warehouse_path, full, first_load, dbt_target, settings, planted)


@pytest.mark.parametrize("mart", MARTS)
def test_the_incremental_refresh_equals_a_full_refresh(refreshed, mart):
    assert mart_rows(refreshed.incremental, mart) == mart_rows(refreshed.full, mart)


@pytest.mark.parametrize("table", STAGING_TABLES)
def test_the_incremental_staging_tables_equal_a_full_refresh_and_read_only_the_new_raw_rows(refreshed, table):
    assert mart_rows(refreshed.incremental, table) == mart_rows(refreshed.full, table)
    [compiled] = refreshed.dbt_target.glob(f"*/compiled/cx_pipeline/models/staging/*/{table}.sql")
    assert "where _ingested_at > (" in compiled.read_text()


def test_an_event_moved_to_another_cookie_leaves_its_first_cookies_sessions(refreshed):
    """The first cookie gets no new event: only the sum over the cookies without news shows it lost one."""
    events = f"SELECT sum(events) FROM int_web_sessions WHERE anonymous_id = '{refreshed.planted.moved_from_cookie}'"
    [(before,)] = query(refreshed.first_load, events)
    assert query(refreshed.incremental, events) == [(before - 1,)]


@pytest.mark.parametrize("table, columns", IDENTITY_TABLES.items())
def test_the_incremental_identity_graph_equals_a_full_refresh(refreshed, table, columns):
    rows = f"SELECT {columns} FROM {table} ORDER BY ALL"
    assert query(refreshed.incremental, rows) == query(refreshed.full, rows)


def test_a_changed_crm_email_replaces_the_old_one(refreshed):
    emails = f"""SELECT identifier_value FROM int_identity_observations
                  WHERE record_ref = 'crm_customers:{refreshed.planted.changed_email_customer_id}'
                    AND identifier_type = 'email'"""
    [(old_email,)] = query(refreshed.first_load, emails)
    assert old_email != CHANGED_EMAIL
    assert query(refreshed.incremental, emails) == [(CHANGED_EMAIL,)]


def test_a_phone_now_shared_by_two_crm_customers_is_blocked(refreshed):
    owner, _ = refreshed.planted.shared_phone_customer_ids
    [(phone,)] = query(refreshed.incremental,
                       f"SELECT phone_e164 FROM stg_crm_customers__customers WHERE customer_id = '{owner}'")
    rule = f"SELECT rule FROM int_identity_blocked_identifiers WHERE identifier = 'phone:{phone}'"
    assert query(refreshed.first_load, rule) == []
    assert query(refreshed.incremental, rule) == [("max_crm_ids",)]


def test_the_incremental_kpi_history_holds_every_kpi_row_as_it_is_now(refreshed):
    """kpi_metrics_history rewrites only the rows that differ from kpi_metrics, so each kpi_metrics row of the periods
    a run replaces (starting on the data's first day, kpi_metrics' first day row, or later) must now be in it as it is
    in kpi_metrics. (The history does not equal a full refresh's: a key kpi_metrics no longer has, a channel x
    persona slice say, keeps its stored row in those periods, as it did before.)"""
    missing = """SELECT count(*) FROM (
                     SELECT * FROM kpi_metrics
                     WHERE period_start >= (SELECT min(period_start) FROM kpi_metrics WHERE period_grain = 'day')
                     EXCEPT ALL
                     SELECT * FROM kpi_metrics_history)"""
    assert query(refreshed.incremental, missing) == [(0,)]


@pytest.mark.parametrize("model, incremental_step", [("intermediate/int_identity_components", "usable_in_scope as ("),
                                                     ("intermediate/int_identity_observations", "watermarks as ("),
                                                     ("intermediate/int_identity_blocked_identifiers", "candidates as ("),
                                                     ("intermediate/int_touchpoints_resolved", "records_to_resolve as ("),
                                                     ("intermediate/int_web_sessions", "touched_cookies as ("),
                                                     ("intermediate/int_journey_touchpoints", "touched_customers as ("),
                                                     ("marts/fct_touchpoints", "relabelled_customers as ("),
                                                     ("marts/fct_journeys", "touched_customers as ("),
                                                     ("marts/fct_campaign_assignments", "rewritten_touchpoints as ("),
                                                     ("marts/dim_customer_profiles", "touched_customers as ("),
                                                     ("marts/fct_orders", "where touchpoints.source = 'orders'"),
                                                     ("marts/fct_web_sessions", "where _sessionized_at >"),
                                                     ("marts/kpi/kpi_metrics_history", "union all by name")])
def test_the_refresh_took_the_incremental_path(refreshed, model, incremental_step):
    [compiled] = refreshed.dbt_target.glob(f"*/compiled/cx_pipeline/models/{model}.sql")
    assert incremental_step in compiled.read_text()


@pytest.mark.parametrize("model, marker", [("int_identity_components", "changed_at"),
                                           ("int_identity_observations", "_changed_at"),
                                           ("int_touchpoints_resolved", "_identity_changed_at"),
                                           ("int_touchpoints_resolved", "_resolved_at"),
                                           ("int_web_sessions", "_identity_changed_at"),
                                           ("int_journey_touchpoints", "_resolved_at"),
                                           ("fct_touchpoints", "_resolved_at"),
                                           ("fct_journeys", "_resolved_at"),
                                           ("fct_campaign_assignments", "_resolved_at"),
                                           ("dim_customer_profiles", "_resolved_at"),
                                           ("fct_orders", "_resolved_at"),
                                           ("fct_web_sessions", "_sessionized_at"),
                                           ("stg_web_events__events", "_staged_at"),
                                           ("stg_email_events__events", "_staged_at"),
                                           ("int_touchpoints_unioned", "_unioned_at")])
def test_the_refresh_rewrote_only_part_of_each_incremental_model(refreshed, model, marker):
    """Rows the incremental run wrote carry its identity change; the first load's rows it left keep theirs."""
    [(rewritten, kept)] = query(refreshed.incremental, f"""
        SELECT count(*) FILTER ({marker} = (SELECT max({marker}) FROM {model})),
               count(*) FILTER ({marker} < (SELECT max({marker}) FROM {model}))
        FROM {model}""")
    assert rewritten > 0 and kept > 0


def test_the_data_tests_of_the_latest_run_catch_its_bad_rows(refreshed, tmp_path):
    """The data tests of the large incremental tables check the rows the latest run wrote (its stamp): rows that
    a run wrote with an id the table already holds, or without a cookie, fail `dbt test`; the refreshed
    warehouse itself passed the same tests in the refresh."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(refreshed.incremental, warehouse)
    with duckdb.connect(str(warehouse)) as con:
        for table, stamp in (("stg_web_events__events", "_staged_at"), ("int_touchpoints_unioned", "_unioned_at"),
                             ("int_web_sessions", "_sessionized_at"), ("fct_campaign_assignments", "_resolved_at")):
            # a copy of a row written by an earlier run, as a later run would have written it
            con.execute(f"""INSERT INTO {table} SELECT * REPLACE (
                                (SELECT max({stamp}) FROM {table}) + INTERVAL 1 HOUR AS {stamp})
                            FROM {table} WHERE {stamp} < (SELECT max({stamp}) FROM {table}) LIMIT 1""")
        con.execute("""INSERT INTO stg_web_events__events SELECT * REPLACE (
                           'planted-without-cookie' AS event_id, NULL AS anonymous_id,
                           (SELECT max(_staged_at) FROM stg_web_events__events) AS _staged_at)
                       FROM stg_web_events__events LIMIT 1""")
    data_dir = tmp_path / "dbt"
    run_dbt(refreshed.settings.dbt_project_dir, data_dir,
            ["test", "--select", "stg_web_events__events", "int_touchpoints_unioned", "int_web_sessions",
             "fct_campaign_assignments", "--exclude-resource-type", "unit_test"], warehouse=warehouse, succeeds=False)
    results = json.loads((data_dir / "dbt_target" / "run_results.json").read_text())["results"]
    failed = {result["unique_id"].split(".")[2]: result["failures"] for result in results
              if result["status"] == "fail"}
    assert failed == {"unique_in_latest_run_stg_web_events__events_event_id___staged_at": 1,
                      "stg_web_events__events_column_rules": 1,
                      "unique_in_latest_run_int_touchpoints_unioned_touchpoint_id___unioned_at": 1,
                      "unique_in_latest_run_int_web_sessions_session_id___sessionized_at": 1,
                      "unique_in_latest_run_fct_campaign_assignments_contact_id___resolved_at": 1}


@pytest.mark.parametrize("linked_by", ["login", "chat"])
def test_a_cookie_linked_to_a_customer_brings_its_earlier_visits_along(refreshed, linked_by):
    """The login re-splits the cookie's sessions (a new event); the chat adds no web event, so only the identity
    change can re-attribute that cookie's touchpoints and sessions."""
    planted = refreshed.planted
    cookie, customer_id = ((planted.login_cookie, planted.login_customer_id) if linked_by == "login"
                           else (planted.chat_cookie, planted.chat_customer_id))
    keys = f"""
        SELECT DISTINCT customer_key FROM fct_touchpoints WHERE touchpoint_id IN (
            SELECT 'web_events:' || event_id FROM stg_web_events__events
            WHERE anonymous_id = '{cookie}' AND event_id <> 'incremental-login')
        UNION SELECT DISTINCT customer_key FROM fct_web_sessions WHERE anonymous_id = '{cookie}'"""
    [(before,)] = query(refreshed.first_load, keys)
    assert before.startswith("P-")  # an anonymous person of its own
    assert query(refreshed.incremental, keys) == [(f"C-{customer_id}",)]


def test_a_corrected_re_export_replaces_the_old_record(refreshed):
    value = f"SELECT value_eur FROM fct_touchpoints WHERE touchpoint_id = 'orders:{refreshed.planted.corrected_order_id}'"
    assert query(refreshed.first_load, value) != [(CORRECTED_VALUE_EUR,)]
    assert query(refreshed.incremental, value) == [(CORRECTED_VALUE_EUR,)]


def refresh_first_load_after(refreshed: Refreshed, data_dir: Path, change: str) -> Path:
    """A copy of the first load's warehouse, changed by the SQL `change`, refreshed over both loads through the
    Dagster dbt asset; returns the warehouse."""
    from dagster_project.defs.assets.dbt import cx_dbt_assets

    with pytest.MonkeyPatch.context() as env:
        # the same pseudonym key: the marts' pseudonyms are compared with the full refresh's
        settings = point_settings_at(env, data_dir, CX_PSEUDONYM_KEY_FILE=str(refreshed.settings.pseudonym_key_file))
        env.setenv("DBT_TARGET_PATH", str(data_dir / "dagster_dbt_target"))
        shutil.copytree(refreshed.settings.raw_dir, settings.raw_dir, dirs_exist_ok=True)
        shutil.copy(refreshed.first_load, settings.warehouse_path)
        with duckdb.connect(str(settings.warehouse_path)) as con:
            con.execute(change)
        assert dg.materialize([cx_dbt_assets], resources=pipeline_resources()).success
    return settings.warehouse_path


def test_a_warehouse_built_before_the_resolved_at_stamp_refreshes_incrementally(refreshed, tmp_path):
    """An upgrade: the first load's warehouse as an earlier release left it (no `_resolved_at`, in the intermediates
    nor in the marts; identity observations without watermark; the orders' staging a view; no `_staged_at` or
    `_unioned_at` stamps) refreshes through the Dagster dbt asset without a full refresh and ends equal to one."""
    warehouse = refresh_first_load_after(refreshed, tmp_path / "data", """
        ALTER TABLE int_touchpoints_resolved DROP COLUMN _resolved_at;
        ALTER TABLE int_journey_touchpoints DROP COLUMN _resolved_at;
        ALTER TABLE fct_touchpoints DROP COLUMN _resolved_at;
        ALTER TABLE fct_journeys DROP COLUMN _resolved_at;
        ALTER TABLE int_identity_observations DROP COLUMN _ingested_at;
        ALTER TABLE int_identity_observations DROP COLUMN _changed_at;
        ALTER TABLE int_identity_observations DROP COLUMN _rows_removed_at;
        ALTER TABLE int_identity_blocked_identifiers DROP COLUMN _observations_changed_at;
        DROP TABLE stg_orders__orders;
        CREATE VIEW stg_orders__orders AS SELECT 'stale' AS order_id;
        ALTER TABLE stg_web_events__events DROP COLUMN _staged_at;
        ALTER TABLE stg_email_events__events DROP COLUMN _staged_at;
        ALTER TABLE int_touchpoints_unioned DROP COLUMN _unioned_at;""")
    for mart in MARTS:
        assert mart_rows(warehouse, mart) == mart_rows(refreshed.full, mart), mart


def test_an_order_moved_to_another_customer_no_longer_converts_its_first_customers_send(refreshed):
    """The order's first customer keeps no touchpoint the refresh rewrote; only the order's previous customer
    (int_touchpoints_resolved `_previous_customer_key`) tells fct_campaign_assignments to write its contacts again."""
    converted = ("SELECT converted_within_14d FROM fct_campaign_assignments "
                 f"WHERE contact_id = 'email_events:{refreshed.planted.unconverted_send_id}'")
    assert query(refreshed.first_load, converted) == [(True,)]
    assert query(refreshed.incremental, converted) == [(False,)]


@pytest.mark.parametrize("mart", ["fct_campaign_assignments", "dim_customer_profiles"])
def test_a_per_customer_mart_that_missed_a_run_is_written_whole(refreshed, tmp_path, mart):
    """The mart missed the first load's run (its stamp is older): whom a touchpoint the refresh rewrote belonged to
    when the mart was written is unknown, so every row is written again, equal to a full refresh."""
    warehouse = refresh_first_load_after(refreshed, tmp_path / "data", f"""
        UPDATE {mart} SET _resolved_at = _resolved_at - INTERVAL 1 DAY;""")
    assert query(warehouse, f"SELECT count(DISTINCT _resolved_at) FROM {mart}") == [(1,)]
    assert mart_rows(warehouse, mart) == mart_rows(refreshed.full, mart)


# The first load's customers whose last sale lies 30 to 90 days (the churn window) before the newest sale.
LAST_SALE_30_TO_90_DAYS_OLD = """
    SELECT customer_key FROM fct_orders WHERE order_type = 'sale' AND customer_key IS NOT NULL
    GROUP BY customer_key
    HAVING max(ordered_at) >= (SELECT max(ordered_at) FROM fct_orders WHERE order_type = 'sale') - INTERVAL 90 DAY
        AND max(ordered_at) < (SELECT max(ordered_at) FROM fct_orders WHERE order_type = 'sale') - INTERVAL 30 DAY"""


def test_the_customers_whose_last_sale_crossed_the_lapsed_cutoff_are_written_again(refreshed, tmp_path):
    """Lapsed is measured against the newest sale, so a newest sale that moves moves the cutoff: the customers whose
    last sale lies between the cutoff of the profile's latest run and this run's are written again. Planted: the
    latest run saw a newest sale 60 days later (since corrected away), and the segments of the customers whose last
    sale lies between the two cutoffs are stale; nothing else touches them."""
    assert query(refreshed.first_load, f"SELECT count(*) FROM ({LAST_SALE_30_TO_90_DAYS_OLD})")[0][0] > 0
    warehouse = refresh_first_load_after(refreshed, tmp_path / "data", f"""
        UPDATE dim_customer_profiles SET segment = 'stale' WHERE customer_key IN ({LAST_SALE_30_TO_90_DAYS_OLD});
        UPDATE dim_customer_profiles SET _latest_sale_at = _latest_sale_at + INTERVAL 60 DAY;""")
    assert mart_rows(warehouse, "dim_customer_profiles") == mart_rows(refreshed.full, "dim_customer_profiles")


def test_after_retention_emptied_the_observations_a_component_without_rows_leaves(refreshed, tmp_path):
    """An earlier release's retention emptied int_identity_observations: the refresh derives them again, and an
    identifier of a component no remaining row names (here planted) leaves int_identity_components."""
    warehouse = refresh_first_load_after(refreshed, tmp_path / "data", """
        INSERT INTO int_identity_components (identifier, identifier_type, identifier_value, customer_key,
                                             component_label, is_blocked, label_changed_in_last_pass, changed_at)
        VALUES ('anonymous_id:retired', 'anonymous_id', 'retired', 'P-retired', '1anonymous_id:retired', false,
                false, TIMESTAMP '2000-01-01');
        DELETE FROM int_identity_observations;""")
    assert query(warehouse, "SELECT count(*) FROM int_identity_components WHERE identifier_value = 'retired'") == [(0,)]
    for table, columns in IDENTITY_TABLES.items():
        rows = f"SELECT {columns} FROM {table} ORDER BY ALL"
        assert query(warehouse, rows) == query(refreshed.full, rows), table


def test_after_retention_the_refresh_rewrites_only_the_records_that_lost_rows(refreshed, tmp_path):
    """Retention (every source, its first ten days) stamps the observations of the records that lost rows
    (cx_core/privacy/retention.py); the refresh derives those records again from their remaining rows, drops those
    without any, and leaves every other record as it was: the identity tables equal a full refresh over the
    remaining rows."""
    from dagster_project.defs.assets.dbt import cx_dbt_assets

    first_day = query(refreshed.incremental, "SELECT min(observed_at) FROM int_identity_observations "
                                             "WHERE source <> 'crm_customers'")[0][0]
    now = first_day.replace(tzinfo=timezone.utc) + timedelta(days=10 + 30)
    data_dir = tmp_path / "data"
    with pytest.MonkeyPatch.context() as env:
        settings = point_settings_at(env, data_dir, CX_PSEUDONYM_KEY_FILE=str(refreshed.settings.pseudonym_key_file),
                                     CX_RETENTION_DAYS=",".join(f"{source}:30" for source in CONTRACTS))
        env.setenv("DBT_TARGET_PATH", str(data_dir / "dagster_dbt_target"))
        shutil.copytree(refreshed.settings.raw_dir, settings.raw_dir)
        shutil.copy(refreshed.incremental, settings.warehouse_path)
        records = "SELECT count(DISTINCT record_ref) FROM int_identity_observations"
        [(records_before,)] = query(settings.warehouse_path, records)
        removed = apply_retention(settings, now=now)
        assert {result.source for result in removed if result.raw} >= {"web_events", "orders", "email_events"}
        assert dg.materialize([cx_dbt_assets], resources=pipeline_resources()).success
        full = data_dir / "full_refresh.duckdb"
        run_dbt(settings.dbt_project_dir, data_dir, [*MODELS_ONLY, "--full-refresh"], warehouse=full)

    for table, columns in IDENTITY_TABLES.items():
        rows = f"SELECT {columns} FROM {table} ORDER BY ALL"
        assert query(settings.warehouse_path, rows) == query(full, rows), table
    [(records_after,)] = query(settings.warehouse_path, records)
    [(rewritten,)] = query(settings.warehouse_path, f"""{records} WHERE _changed_at = (
        SELECT max(_changed_at) FROM int_identity_observations)""")
    assert records_after < records_before  # records without any row left are gone
    assert 0 < rewritten < records_after / 2
