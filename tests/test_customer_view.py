"""The central customer view end to end: hand-written raw Parquet -> real `dbt build` through Dagster -> customer
keys, journeys and repeat contacts checked against values worked out by hand; and the incremental touchpoint
table checked against a full refresh over the same data.

The fixture tells one story. Anna (CRM C1) browses anonymously on cookie ck1, logs in the next day and buys
(O1), then chats from that cookie giving a second address (anna.alt@), which she later uses for a ticket (with a
second handle) and a survey; she calls from her CRM phone written another way and returns O1 in a store with
her loyalty card typed in lower case. Max (C2) and Eva (C3) share a household phone and a tablet (ck9). Two
store orders carry the shop's info@ address with different loyalty cards. Marketing reaches Max by SMS (he taps
it), Eva by app push (she buys on the web the next day) and the shared household line with a win-back call.
"""

from __future__ import annotations

import hashlib
import hmac
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from cx_core.sources.ingest import ensure_raw_schemas
from tests.helpers.raw_parquet import write_raw_parquet
from tests.helpers.settings_env import point_settings_at

pytestmark = pytest.mark.slow  # builds real dbt models

FIRST_LOAD = "2024-04-01T06:00:00+00:00"
SECOND_LOAD = "2024-04-02T06:00:00+00:00"
CUSTOMER_VIEW_MODELS = [
    "dim_customers", "fct_touchpoints", "fct_orders", "fct_service_contacts", "fct_survey_responses",
    "fct_marketing_contacts", "fct_journeys", "fct_channel_transitions", "int_web_sessions",
]


PSEUDONYM_KEY = bytes(range(32))  # the keyed e-mail pseudonym in dim_customers, computed by hand below

def prospect_key(identifier: str) -> str:
    """customer_key of a component without a CRM id, from its smallest identifier (int_identity_components)."""
    return "P-" + hashlib.md5(f"1{identifier}".encode()).hexdigest()[:16]


def lineage(file: str, line: int, ingested_at: str = FIRST_LOAD) -> dict:
    return {"_source_file": file, "_source_line": line, "_file_sha256": "0" * 64, "_ingested_at": ingested_at}


def message(sent_at: str, sender: str, text: str) -> dict:
    return {"sent_at": sent_at, "sender": sender, "text": text}


def write_first_load(raw_dir: Path) -> None:
    ensure_raw_schemas(raw_dir)
    folder = "load_date=2024-04-01"

    def write(source: str, rows: list[dict]) -> None:
        write_raw_parquet(raw_dir / source / folder / f"{source}.parquet", source, [
            {**row, **lineage(f"{source}.export", line)} for line, row in enumerate(rows, start=1)
        ])

    write("crm_customers", [
        {"customer_id": "C1", "email": " Anna@Example.COM ", "phone": "0171 234-5678", "loyalty_id": "l100",
         "social_handle": "Anna_B", "segment": "loyal", "country": "DE", "language": "de",
         "created_at": "2024-01-01T00:00:00Z", "consent_email": True, "consent_sms": False},
        {"customer_id": "C2", "email": "max@example.de", "phone": "0171 999 0000", "created_at": "2024-01-02T00:00:00Z"},
        {"customer_id": "C3", "email": "eva@example.de", "phone": "+49 171 9990000", "created_at": "2024-01-03T00:00:00Z"},
    ])
    web = {"platform": "web", "device": "desktop"}
    write("web_events", [
        {"event_id": "W1", "event_time": "2024-03-01T10:00:00Z", "anonymous_id": "ck1", "event_type": "page_view", **web},
        {"event_id": "W2", "event_time": "2024-03-02T10:00:00Z", "anonymous_id": "ck1", "user_id": "C1",
         "event_type": "login", **web},
        {"event_id": "W3", "event_time": "2024-03-02T10:05:00Z", "anonymous_id": "ck1", "user_id": "C1",
         "event_type": "purchase", "value_eur": 100.0, "order_id": "O1", **web},
        {"event_id": "W4", "event_time": "2024-03-05T10:00:00Z", "anonymous_id": "ck9", "user_id": "C2",
         "event_type": "login", **web},
        {"event_id": "W5", "event_time": "2024-03-05T10:10:00Z", "anonymous_id": "ck9", "event_type": "page_view", **web},
        {"event_id": "W6", "event_time": "2024-03-06T10:00:00Z", "anonymous_id": "ck9", "user_id": "C3",
         "event_type": "login", **web},
    ])
    write("orders", [
        {"order_id": "O1", "ordered_at": "2024-03-02T10:06:00Z", "customer_id": "C1", "channel": "web",
         "order_type": "sale", "value_eur": 100.0, "items": 2},
        {"order_id": "O2", "ordered_at": "2024-03-25T12:00:00Z", "loyalty_id": "L100 ", "channel": "store",
         "order_type": "return", "original_order_id": "O1", "value_eur": 30.0, "items": 1},
        {"order_id": "O3", "ordered_at": "2024-03-10T12:00:00Z", "email": "info@shop.de", "loyalty_id": "L300",
         "channel": "store", "order_type": "sale", "value_eur": 50.0},
        {"order_id": "O4", "ordered_at": "2024-03-11T12:00:00Z", "email": "INFO@shop.de", "loyalty_id": "L400",
         "channel": "store", "order_type": "sale", "value_eur": 70.0},
        {"order_id": "O5", "ordered_at": "2024-03-09T09:00:00Z", "customer_id": "C3", "channel": "web",
         "order_type": "sale", "value_eur": 40.0},
    ])
    write("chat_conversations", [
        {"conversation_id": "CH1", "started_at": "2024-03-03T09:00:00Z", "ended_at": "2024-03-03T09:10:00Z",
         "platform": "web", "anonymous_id": "ck1", "email": "Anna.Alt@example.com", "handover": True,
         "handover_at": "2024-03-03T09:02:00Z", "agent_id": "ag1", "resolved": True, "topic": "order_status",
         "messages": [message("2024-03-03T09:00:00Z", "customer", "Wo ist meine Bestellung?"),
                      message("2024-03-03T09:00:05Z", "bot", "Einen Moment."),
                      message("2024-03-03T09:04:00Z", "agent", "Ich schaue nach."),
                      message("2024-03-03T09:05:00Z", "customer", "Danke!")]},
    ])
    write("support_tickets", [
        {"ticket_id": "T1", "created_at": "2024-03-20T08:00:00Z", "channel": "email",
         "email": "anna.alt@example.com", "social_handle": "@Anna_Alt", "subject": "Rückgabe",
         "body": "Wie geht das?", "status": "solved", "first_response_at": "2024-03-20T10:00:00Z",
         "response_channel": "phone", "solved_at": "2024-03-20T10:30:00Z"},
    ])
    write("calls", [
        {"call_id": "K1", "started_at": "2024-03-22T09:00:00Z", "phone": "0171 2345678", "direction": "inbound",
         "wait_seconds": 30, "talk_seconds": 300, "hold_seconds": 0, "wrap_seconds": 60, "abandoned": False,
         "agent_id": "ag2", "disposition": "resolved"},
        {"call_id": "K2", "started_at": "2024-03-07T09:00:00Z", "phone": "0171 9990000", "direction": "inbound",
         "wait_seconds": 10, "talk_seconds": 100, "abandoned": False, "agent_id": "ag2", "disposition": "resolved"},
        {"call_id": "K6", "started_at": "2024-03-08T09:00:00Z", "phone": "+491719990000", "direction": "outbound",
         "queue": "outbound_win_back", "talk_seconds": 90, "abandoned": False, "agent_id": "ag3"},
        {"call_id": "K7", "started_at": "2024-03-08T10:00:00Z", "phone": "+491719990000", "direction": "outbound",
         "queue": "outbound", "talk_seconds": 60, "abandoned": False, "agent_id": "ag3"},
    ])
    write("mobile_messages", [
        {"message_id": "M1", "sent_at": "2024-03-11T10:00:00Z", "channel": "sms", "customer_id": "C2",
         "phone": "0171 9990000", "campaign_id": "AUTO-win_back-202403", "campaign_type": "win_back",
         "status": "delivered", "clicked_at": "2024-03-11T10:30:00Z"},
        {"message_id": "M2", "sent_at": "2024-03-08T18:00:00Z", "channel": "push", "customer_id": "C3",
         "campaign_id": "AUTO-cross_sell-202403", "campaign_type": "cross_sell", "status": "delivered"},
    ])
    write("surveys", [
        {"response_id": "S1", "responded_at": "2024-03-22T12:00:00Z", "email": "ANNA.ALT@example.com",
         "survey_type": "csat", "score": 5, "comment": "Danke! Ruft mich an: +49 171 5559999", "trigger_type": "call",
         "trigger_id": "K1"},
    ])
    write("email_events", [
        {"event_id": "E1", "event_time": "2024-03-04T07:00:00Z", "email": "anna@example.com", "campaign_id": "K-1",
         "campaign_type": "newsletter", "event_type": "send"},
        {"event_id": "E2", "event_time": "2024-03-04T08:00:00Z", "email": "Anna@example.com", "campaign_id": "K-1",
         "event_type": "open"},
    ])


def write_second_load(raw_dir: Path) -> None:
    """A corrected order (same id, later ingestion), a new visitor and a call from a withheld number."""
    folder = "load_date=2024-04-02"
    write_raw_parquet(raw_dir / "orders" / folder / "orders.parquet", "orders", [
        {"order_id": "O3", "ordered_at": "2024-03-10T12:00:00Z", "email": "info@shop.de", "loyalty_id": "L300",
         "channel": "store", "order_type": "sale", "value_eur": 55.0, **lineage("orders-fix.csv", 1, SECOND_LOAD)},
    ])
    write_raw_parquet(raw_dir / "web_events" / folder / "web.parquet", "web_events", [
        {"event_id": "W7", "event_time": "2024-03-28T10:00:00Z", "anonymous_id": "ck2", "event_type": "page_view",
         "platform": "app", **lineage("web-2.ndjson", 1, SECOND_LOAD)},
    ])
    write_raw_parquet(raw_dir / "calls" / folder / "calls.parquet", "calls", [
        {"call_id": "K3", "started_at": "2024-03-28T11:00:00Z", "phone": "", "direction": "inbound",
         "abandoned": True, **lineage("calls-2.csv", 1, SECOND_LOAD)},
    ])


@pytest.fixture(scope="module")
def customer_view(tmp_path_factory) -> tuple[Path, dg.ExecuteInProcessResult]:
    """The customer-view models and everything upstream, built once through Dagster on the first load."""
    data_dir = tmp_path_factory.mktemp("cx_customer_view")
    with pytest.MonkeyPatch.context() as env:
        settings = point_settings_at(env, data_dir, CX_PSEUDONYM_KEY=PSEUDONYM_KEY.hex())
        write_first_load(settings.raw_dir)
        from dagster_project.defs.assets.dbt import cx_dbt_assets, dbt_cli_resource
        from dagster_project.defs.resources import pipeline_resources

        # The channel columns' relationships tests read this seed, which is not upstream of the models.
        dbt_cli_resource().cli(["seed", "--select", "channel_taxonomy"]).wait()
        selection = dg.AssetSelection.assets(*CUSTOMER_VIEW_MODELS).upstream()
        result = dg.materialize(
            [cx_dbt_assets], selection=selection, resources=pipeline_resources(), raise_on_error=False
        )
        yield settings.warehouse_path, result


def query(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.sql(sql).fetchall()


def test_build_succeeds_and_every_check_passes(customer_view):
    _, result = customer_view
    assert result.success
    assert [c.check_name for c in result.get_asset_check_evaluations() if not c.passed] == []
    materialized = {event.asset_key.to_user_string() for event in result.get_asset_materialization_events()}
    assert set(CUSTOMER_VIEW_MODELS) <= materialized


def test_identity_follows_chains_variants_and_late_links(customer_view):
    warehouse, _ = customer_view
    keys = dict(query(warehouse, "select identifier, customer_key from int_identity_components"))
    anna = ["crm_id:C1", "email:anna@example.com", "phone:+491712345678", "loyalty_id:L100", "social_handle:@anna_b",
            "anonymous_id:ck1", "email:anna.alt@example.com", "social_handle:@anna_alt"]
    assert {identifier: keys[identifier] for identifier in anna} == dict.fromkeys(anna, "C-C1")
    assert (keys["email:max@example.de"], keys["email:eva@example.de"]) == ("C-C2", "C-C3")
    assert keys["loyalty_id:L300"] == prospect_key("loyalty_id:L300")
    assert keys["loyalty_id:L400"] == prospect_key("loyalty_id:L400")
    assert query(warehouse, "select identifier, rule, reason from int_identity_blocked_identifiers order by 1") == [
        ("anonymous_id:ck9", "max_crm_ids", "linked to 2 CRM ids"),
        ("email:info@shop.de", "blocklist", "generic mailbox"),
        ("phone:+491719990000", "max_crm_ids", "linked to 2 CRM ids"),
    ]


def test_touchpoints_belong_to_the_right_customer(customer_view):
    warehouse, _ = customer_view
    owners = dict(query(warehouse, "select touchpoint_id, customer_key from fct_touchpoints"))
    # The anonymous first visit belongs to Anna, whose login on that cookie came a day later.
    for touchpoint in ["web_events:W1", "orders:O2", "chat_conversations:CH1", "support_tickets:T1", "calls:K1",
                       "surveys:S1", "email_events:E2"]:
        assert owners[touchpoint] == "C-C1", touchpoint
    # The shared tablet: logged-in events go to who logged in, the anonymous one stays with the device.
    assert (owners["web_events:W4"], owners["web_events:W6"]) == ("C-C2", "C-C3")
    assert owners["web_events:W5"] == prospect_key("anonymous_id:ck9")
    assert owners["calls:K2"] == prospect_key("phone:+491719990000")
    # Messages belong to the customer id the messaging platform keys on, not to the shared phone.
    assert (owners["mobile_messages:M1"], owners["mobile_messages:M1:click"]) == ("C-C2", "C-C2")
    assert owners["mobile_messages:M2"] == "C-C3"
    assert owners["orders:O3"] != owners["orders:O4"]


def test_survey_comments_keep_no_personal_data(customer_view):
    warehouse, _ = customer_view
    redacted = "Danke! Ruft mich an: [PHONE]"
    assert query(warehouse, "select comment from fct_survey_responses where response_id = 'S1'") == [(redacted,)]
    assert query(warehouse, "select text from fct_touchpoints where touchpoint_id = 'surveys:S1'") == [(redacted,)]


def test_journeys_split_at_the_gap_and_collapse_paths(customer_view):
    warehouse, _ = customer_view
    rows = query(warehouse, "select journey_id, touchpoints, web_sessions, channel_path, channel_switches, "
                            "stages_reached, outcome, is_converted from fct_journeys "
                            "where customer_key = 'C-C1' order by journey_number")
    assert rows == [
        ("C-C1-J1", 6, 2, "web > chat_bot > chat_agent", 2, "research,purchase,use_support", "purchase", True),
        # Her survey answer between the call and the store visit rates the journey; it is not a step of it.
        ("C-C1-J2", 3, 0, "email > phone > store", 2, "use_support", "resolved_service_issue", False),
    ]


def test_service_contacts_issues_and_repeats(customer_view):
    warehouse, _ = customer_view
    rows = query(warehouse, "select contact_id, issue_id, inbound_channel, response_channel, first_response_seconds, "
                            "handle_seconds, bot_handover, is_repeat_contact_7d from fct_service_contacts "
                            "where customer_key = 'C-C1' order by occurred_at")
    assert rows == [
        ("chat_conversations:CH1", "chat_conversations:CH1", "chat_bot", "chat_agent", 5, 600, True, False),
        ("support_tickets:T1", "support_tickets:T1", "email", "phone", 7200, None, False, False),
        ("calls:K1", "support_tickets:T1", "phone", "phone", 30, 360, False, True),
    ]


def test_golden_record(customer_view):
    warehouse, _ = customer_view
    row = query(warehouse, "select is_crm_contact, segment, email_hash, first_seen_at::varchar, "
                           "preferred_inbound_channel, consent_email, consent_sms, lifetime_value_eur, orders_count, "
                           "returns_count, open_service_issues from dim_customers where customer_key = 'C-C1'")
    email_hash = hmac.new(PSEUDONYM_KEY, b"email:anna@example.com", hashlib.sha256).hexdigest()
    assert row == [(True, "loyal", email_hash, "2024-01-01 00:00:00", "web",
                    True, False, 70.0, 1, 1, 0)]
    assert query(warehouse, "select count(*), count(distinct customer_key) from dim_customers") == [(8, 8)]


def test_channel_transitions_by_month(customer_view):
    warehouse, _ = customer_view
    rows = query(warehouse, "select from_channel, to_channel, transitions, median_seconds_between "
                            "from fct_channel_transitions where period_grain = 'month' order by 1, 2")
    assert rows == [
        ("chat_bot", "chat_agent", 1, 120.0),
        ("email", "phone", 1, 176400.0),
        ("phone", "store", 1, 270000.0),  # 3 hours to the survey answer (no step) and 3 days on to the store
        ("web", "chat_bot", 1, 82440.0),
        # Journeys follow what the customer did: Max's tap on the SMS (6 days 30 minutes after his login), not
        # the send; Eva never tapped her push message, so her web visit and web order stay on one channel.
        ("web", "sms", 1, 520200.0),
    ]


def test_marketing_contacts_on_every_channel(customer_view):
    """E-mail sends, SMS and push messages and campaign calls; a plain outbound call is not marketing."""
    warehouse, _ = customer_view
    rows = query(warehouse, "select contact_id, customer_key, channel, campaign_type, opened, clicked, "
                            "converted_within_14d, order_value_eur from fct_marketing_contacts order by contact_id")
    assert rows == [
        ("calls:K6", prospect_key("phone:+491719990000"), "phone", "win_back", True, False, False, 0.0),
        ("email_events:E1", "C-C1", "email", "newsletter", True, False, False, 0.0),
        ("mobile_messages:M1", "C-C2", "sms", "win_back", True, True, False, 0.0),
        ("mobile_messages:M2", "C-C3", "push", "cross_sell", False, False, True, 40.0),
    ]


def test_incremental_touchpoints_equal_a_full_refresh(customer_view, tmp_path):
    """Second load on a copy of the built warehouse: an incremental run, then a full refresh, same rows."""
    warehouse, _ = customer_view
    data_dir = tmp_path / "data"
    shutil.copytree(warehouse.parent / "raw", data_dir / "raw")
    shutil.copy(warehouse, data_dir / "warehouse.duckdb")
    write_second_load(data_dir / "raw")
    # the ingestion and the run that wrote a row (`_unioned_at`) differ between the two runs
    snapshot = "select * exclude (_ingested_at, _unioned_at) from int_touchpoints_unioned order by touchpoint_id"
    with pytest.MonkeyPatch.context() as env:
        point_settings_at(env, data_dir)
        from dagster_project.defs.assets.dbt import dbt_cli_resource

        dbt = dbt_cli_resource()
        # Staging views too: the copied ones still read the first data folder.
        invocation = dbt.cli(["run", "--select", "+int_touchpoints_unioned"]).wait()
        incremental = query(data_dir / "warehouse.duckdb", snapshot)
        compiled = next(invocation.target_path.rglob("compiled/**/int_touchpoints_unioned.sql")).read_text()
        assert "where _ingested_at > (" in compiled, "the second run should have been incremental"
        dbt.cli(["run", "--select", "+int_touchpoints_unioned", "--full-refresh"]).wait()
        full_refresh = query(data_dir / "warehouse.duckdb", snapshot)
    assert incremental == full_refresh
    values = {row[0]: row for row in query(data_dir / "warehouse.duckdb",
                                           "select touchpoint_id, value_eur from int_touchpoints_unioned")}
    assert values["orders:O3"] == ("orders:O3", 55.0)
    assert {"web_events:W7", "calls:K3"} <= set(values)
    assert len(full_refresh) == len(query(warehouse, snapshot)) + 2
