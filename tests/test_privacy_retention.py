"""Retention (issue 18): rows older than a source's period leave raw, quarantine and landing files; the landing
file's new checksum is in the ledger, so the next ingest neither fails nor reloads it."""

import shutil
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pytest

from cx_core.privacy.retention import apply_retention, retention_periods
from cx_core.sources.contracts import CONTRACTS
from cx_core.sources.ingest import ingest_source, load_ledger, source_ledger_path
from tests.helpers.settings_env import point_settings_at

FIXTURE = Path(__file__).parent / "fixtures" / "landing" / "web_events"
# the warehouse tables holding one row per touchpoint or journey step, which a refresh does not rebuild
TABLES = ("int_touchpoints_unioned", "int_touchpoints_resolved", "fct_touchpoints", "int_journey_touchpoints")


def test_retention_periods_are_source_day_pairs():
    assert retention_periods("web_events:396, calls:730") == {"web_events": 396, "calls": 730}
    assert retention_periods("") == {}
    for wrong in ("web:396", "web_events:0", "web_events:13m"):
        with pytest.raises(ValueError):
            retention_periods(wrong)


def test_old_web_events_leave_every_file_and_the_ledger_accepts_the_rewrite(tmp_path, monkeypatch):
    # the two good events happened at 08:00 and 08:05 UTC on 1 March 2026; one day's retention at 08:02 the
    # next day keeps the second only
    settings = point_settings_at(monkeypatch, tmp_path / "data", CX_RETENTION_DAYS="web_events:1")
    shutil.copytree(FIXTURE, settings.landing_dir / "web_events")
    contract = CONTRACTS["web_events"]
    ingest_source(contract, settings)
    raw_files = f"{settings.raw_dir}/web_events/load_date=*/*.parquet"
    cutoff = "2026-03-01 08:02:00+00"
    with duckdb.connect() as con:
        old, young = con.execute(f"SELECT count(*) FILTER (event_time < '{cutoff}'), count(*) FILTER "
                                 f"(event_time >= '{cutoff}') FROM read_parquet('{raw_files}')").fetchone()

    assert old >= 1 and young >= 1

    [result] = apply_retention(settings, now=datetime(2026, 3, 2, 8, 2, tzinfo=timezone.utc))

    assert (result.source, result.raw, result.landing) == ("web_events", old, result.raw + result.quarantine)
    with duckdb.connect() as con:
        kept = con.execute(f"SELECT count(*), min(event_time) >= '{cutoff}', count(*) FILTER (event_id = 'W2') "
                           f"FROM read_parquet('{raw_files}')").fetchone()
    assert kept == (young, True, 1)
    assert "2026-03-01T08:00:00Z" not in (settings.landing_dir / "web_events" / "web_events_good.ndjson").read_text()
    entry = load_ledger(source_ledger_path(settings.raw_dir, "web_events"))["web_events_good.ndjson"]
    assert len(entry["superseded_sha256"]) == 1 and entry["rewritten"][0]["reason"] == "retention 1 days"
    assert ingest_source(contract, settings).files == ()  # no "changed content", nothing loaded twice


def test_old_touchpoints_and_sessions_leave_the_incremental_tables(tmp_path, monkeypatch):
    """The incremental models would keep what a rebuild drops: retention deletes the old web events from their
    staging table (the e-mail events' stay), the old web touchpoints from the three touchpoint tables
    (fct_touchpoints included) and the journey steps (other sources stay), stamps the remaining touchpoints of the
    customers it removed some from as rewritten, so the next refresh numbers their journeys again, deletes the
    sessions of a cookie seen only before the cutoff (a cookie with a later event keeps its rows; int_web_sessions
    re-splits it because its event count changed) and stamps the identity observations of the records that lost
    rows (see the next test)."""
    settings = point_settings_at(monkeypatch, tmp_path / "data", CX_RETENTION_DAYS="web_events:1")
    settings.warehouse_path.parent.mkdir(parents=True)
    last_run = datetime(2026, 3, 1, 9, 0)
    touchpoints = ("('web_events:W1', 'web_events', TIMESTAMP '2026-03-01 08:00', 'C-1', $last_run),"
                   " ('web_events:W2', 'web_events', TIMESTAMP '2026-03-01 08:05', 'C-1', $last_run),"
                   " ('orders:O1', 'orders', TIMESTAMP '2026-03-01 07:00', 'C-2', $last_run)")
    with duckdb.connect(str(settings.warehouse_path)) as con:
        for table in TABLES:
            con.execute(f"CREATE TABLE {table} AS FROM (VALUES {touchpoints})"
                        " AS t(touchpoint_id, source, occurred_at, customer_key, _resolved_at)", {"last_run": last_run})
        con.execute("CREATE TABLE int_web_sessions AS FROM (VALUES ('old#1', 'old', TIMESTAMP '2026-03-01 08:01'),"
                    " ('mixed#1', 'mixed', TIMESTAMP '2026-03-01 07:00'), ('mixed#2', 'mixed', TIMESTAMP '2026-03-01 08:06'))"
                    " AS t(session_id, anonymous_id, ended_at)")
        for table in ("stg_web_events__events", "stg_email_events__events"):
            con.execute(f"CREATE TABLE {table} AS FROM (VALUES ('W1', TIMESTAMP '2026-03-01 08:00'),"
                        " ('W2', TIMESTAMP '2026-03-01 08:05')) AS t(event_id, event_time)")

    [result] = apply_retention(settings, now=datetime(2026, 3, 2, 8, 2, tzinfo=timezone.utc))

    assert result.warehouse == 1 + 1 + 1 + 1 + 1 + 1
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        for table in TABLES:
            assert con.sql(f"SELECT touchpoint_id FROM {table} ORDER BY 1").fetchall() == [("orders:O1",), ("web_events:W2",)]
        assert con.sql("SELECT touchpoint_id FROM int_touchpoints_resolved WHERE _resolved_at > $last_run",
                       params={"last_run": last_run}).fetchall() == [("web_events:W2",)]
        assert con.sql("SELECT session_id FROM int_web_sessions ORDER BY 1").fetchall() == [("mixed#1",), ("mixed#2",)]
        assert con.sql("SELECT event_id FROM stg_web_events__events").fetchall() == [("W2",)]
        assert con.sql("SELECT event_id FROM stg_email_events__events ORDER BY 1").fetchall() == [("W1",), ("W2",)]


@pytest.mark.parametrize("source, emptied", [("orders", True), ("web_events", False)])
def test_retention_empties_the_incremental_marts_that_read_its_source(tmp_path, monkeypatch, source, emptied):
    """fct_campaign_assignments is incremental: retention of a source of its contacts or orders empties it, so the
    next refresh writes it whole (a contact kept may have lost the order that converted it); other sources leave it.
    The customer profiles are emptied by retention of any source, the orders by retention of orders."""
    settings = point_settings_at(monkeypatch, tmp_path / "data", CX_RETENTION_DAYS=f"{source}:1")
    settings.warehouse_path.parent.mkdir(parents=True)
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute("CREATE TABLE int_touchpoints_resolved AS FROM (VALUES ($id, $source, TIMESTAMP '2026-03-01 08:00',"
                    " 'C-1', TIMESTAMP '2026-03-01 09:00')) AS t(touchpoint_id, source, occurred_at, customer_key,"
                    " _resolved_at)", {"id": f"{source}:X1", "source": source})
        con.execute("CREATE TABLE fct_campaign_assignments AS SELECT 'email_events:S1' AS contact_id, 'C-1' AS customer_key")
        con.execute("CREATE TABLE dim_customer_profiles AS SELECT 'C-1' AS customer_key")
        con.execute("CREATE TABLE fct_orders AS SELECT 'O1' AS order_id, 'C-1' AS customer_key")

    [result] = apply_retention(settings, now=datetime(2026, 3, 2, 8, 2, tzinfo=timezone.utc))

    assert result.warehouse == 1
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        assert con.sql("SELECT count(*) FROM fct_campaign_assignments").fetchall() == [(0,) if emptied else (1,)]
        assert con.sql("SELECT count(*) FROM dim_customer_profiles").fetchall() == [(0,)]
        assert con.sql("SELECT count(*) FROM fct_orders").fetchall() == [(0,) if emptied else (1,)]


def test_retention_stamps_the_identity_observations_of_the_records_that_lost_rows(tmp_path, monkeypatch):
    """The observations stay (an erasure before the next refresh still finds a person's records there); the records
    that may have lost rows get `_rows_removed_at`, which the next refresh derives again from their remaining
    rows: the web records first seen before the cutoff, and the orders their cookie was a purchase cookie of (the
    order's record takes its cookie from the web events). The identifiers of those records lose their `changed_at`
    in int_identity_components, so the refresh recomputes their components (a record without rows left leaves and
    may unlink them). The observations are as an earlier release built them (no `_rows_removed_at`): retention adds
    the column."""
    settings = point_settings_at(monkeypatch, tmp_path / "data", CX_RETENTION_DAYS="web_events:1")
    settings.warehouse_path.parent.mkdir(parents=True)
    last_run = datetime(2026, 3, 1, 9, 0)
    observations = [  # record_ref, observed_at (the record's first row), identifier
        ("web_events:a1|", "2026-03-01 08:00", "anonymous_id:a1"),  # lost its first event
        ("web_events:a2|C1", "2026-03-01 08:05", "anonymous_id:a2"),  # young
        ("web_events:a2|C1", "2026-03-01 08:05", "crm_id:C1"),
        ("orders:O1", "2026-03-01 07:00", "anonymous_id:a1"),  # bought from cookie a1: its cookie may have gone
        ("orders:O1", "2026-03-01 07:00", "crm_id:C2"),
        ("orders:O2", "2026-03-01 07:30", "crm_id:C1"),  # old, but no web record lent it an identifier
        ("crm_customers:C2", "2020-01-01 00:00", "crm_id:C2"),
        ("crm_customers:C1", "2020-01-01 00:00", "crm_id:C1"),
    ]
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute("CREATE TABLE stg_web_events__events AS FROM (VALUES ('W1', TIMESTAMP '2026-03-01 08:00'))"
                    " AS t(event_id, event_time)")
        con.execute("CREATE TABLE int_identity_observations (source VARCHAR, record_ref VARCHAR, observed_at TIMESTAMP,"
                    " identifier VARCHAR, _changed_at TIMESTAMP)")
        con.executemany("INSERT INTO int_identity_observations VALUES (split_part($1, ':', 1), $1, $2, $3, $4)",
                        [(*row, last_run) for row in observations])
        con.execute("CREATE TABLE int_identity_components AS SELECT DISTINCT identifier, _changed_at AS changed_at"
                    " FROM int_identity_observations")

    apply_retention(settings, now=datetime(2026, 3, 2, 8, 2, tzinfo=timezone.utc))

    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        stamped = con.sql("SELECT record_ref, identifier FROM int_identity_observations"
                          " WHERE _rows_removed_at IS NOT NULL ORDER BY ALL").fetchall()
        recomputed = con.sql("SELECT identifier FROM int_identity_components WHERE changed_at IS NULL"
                             " ORDER BY 1").fetchall()
    assert stamped == [("orders:O1", "anonymous_id:a1"), ("orders:O1", "crm_id:C2"),
                       ("web_events:a1|", "anonymous_id:a1")]
    assert recomputed == [("anonymous_id:a1",), ("crm_id:C2",)]
