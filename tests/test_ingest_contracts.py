"""Contract checks of the ingestion on tiny hand-written exports (tests/fixtures/landing) and inline files.

Every expected value here was worked out by hand from the fixture lines; times are converted to UTC by hand
(Europe/Berlin is UTC+1 in winter, UTC+2 from 2026-03-29 01:00 UTC).
"""

import dataclasses
import json
import os
import shutil
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

from cx_core.settings import Settings, get_settings
from cx_core.sources.contracts import CONTRACTS
from cx_core.sources import ingest as ingest_module
from cx_core.sources.ingest import SCHEMA_FILE_NAME, ingest_source
from cx_core.sources.reader import ContractError

FIXTURES = Path(__file__).parent / "fixtures" / "landing"
ORDERS_HEADER = (
    "order_id,ordered_at,customer_id,email,loyalty_id,channel,store_id,order_type,original_order_id,items,"
    "value_eur,payment_method,product_category"
)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


@pytest.fixture
def settings(data_dir) -> Settings:
    return get_settings()


def land(settings: Settings, source: str, name: str, content: str | bytes) -> Path:
    target = settings.landing_dir / source / name
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        target.write_text(content, encoding="utf-8")
    else:
        target.write_bytes(content)
    return target


def land_fixture(settings: Settings, source: str, name: str) -> Path:
    target = settings.landing_dir / source / name
    target.parent.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(FIXTURES / source / name, target))


def rows(pattern: Path, order_by: str = "_source_line") -> list[dict]:
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        relation = con.sql(
            f"SELECT * FROM read_parquet('{pattern}', union_by_name = true, hive_partitioning = false) ORDER BY {order_by}"
        )
        return [dict(zip(relation.columns, values)) for values in relation.fetchall()]


def parquet_types(path: Path) -> dict[str, str]:
    with duckdb.connect() as con:
        return {name: kind for name, kind, *_ in con.execute(f"DESCRIBE SELECT * FROM '{path}'").fetchall()}


def loaded(settings: Settings, source: str) -> list[dict]:
    return rows(settings.raw_dir / source / "**" / "*.parquet")


def quarantined(settings: Settings, source: str) -> list[dict]:
    return rows(settings.quarantine_dir / source / "*.parquet")


def reasons_by(settings: Settings, source: str, key: str = "_source_line") -> dict:
    return {r[key]: r["reason"] for r in quarantined(settings, source)}


def ingest(settings: Settings, source: str):
    return ingest_source(CONTRACTS[source], settings)


GOOD_ROW_COUNTS = {
    "crm_customers": 2,
    "web_events": 2,
    "orders": 3,
    "email_events": 2,
    "mobile_messages": 2,
    "support_tickets": 2,
    "chat_conversations": 1,
    "calls": 2,
    "social_mentions": 2,
    "surveys": 3,
}


@pytest.mark.parametrize("source", sorted(GOOD_ROW_COUNTS))
def test_good_file_of_every_source_loads_completely(settings, source):
    fixture = next((FIXTURES / source).glob(f"{source}_good.*"))
    land_fixture(settings, source, fixture.name)

    result = ingest(settings, source)

    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (GOOD_ROW_COUNTS[source], GOOD_ROW_COUNTS[source], 0)
    assert len(loaded(settings, source)) == GOOD_ROW_COUNTS[source]
    assert not (settings.quarantine_dir / source).exists()


def test_a_message_without_recipient_is_quarantined(settings):
    header = "message_id,sent_at,channel,customer_id,phone,campaign_id,campaign_type,status,clicked_at\n"
    land(settings, "mobile_messages", "messages.csv", header
         + "MM1,2026-03-02T18:00:00Z,push,,,AUTO-x,promotion,delivered,\n"
         + "MM2,2026-03-02T18:00:00Z,sms,,+491711234567,AUTO-x,promotion,delivered,2026-03-02T19:00:00+01:00\n")

    result = ingest(settings, "mobile_messages")

    assert (result.rows_loaded, result.rows_quarantined) == (1, 1)
    assert reasons_by(settings, "mobile_messages") == {1: "rule:message_without_recipient"}
    [message] = loaded(settings, "mobile_messages")
    assert (message["message_id"], message["clicked_at"]) == ("MM2", utc(2026, 3, 2, 18, 0))


def test_each_bad_csv_row_is_quarantined_with_its_reason_and_line(settings):
    land_fixture(settings, "orders", "orders_bad.csv")

    result = ingest(settings, "orders")

    assert reasons_by(settings, "orders") == {
        2: "invalid_timestamp:ordered_at",
        3: "invalid_double:value_eur",
        4: "missing_required:order_id",
        5: "not_allowed:channel",
        6: "out_of_range:items",
        7: "rule:return_without_original_order",
        8: "duplicate_key",
        9: "malformed_row",
    }
    good = loaded(settings, "orders")
    # line 10 has a quoted field spanning two physical lines and a decimal comma; it still counts as one line.
    assert [(r["_source_line"], r["order_id"], r["value_eur"]) for r in good] == [
        (1, "O2001", 10.0),
        (10, "O2010", 1.5),
        (11, "O2011", 2.5),
    ]
    assert good[1]["product_category"] == "bags\nand more"
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (11, 3, 8)
    assert result.reasons["malformed_row"] == 1


def test_quarantine_keeps_original_strings_and_the_raw_text_of_malformed_rows(settings):
    land_fixture(settings, "orders", "orders_bad.csv")
    ingest(settings, "orders")

    by_line = {r["_source_line"]: r for r in quarantined(settings, "orders")}

    assert by_line[2]["ordered_at"] == "not a time"
    assert by_line[3]["value_eur"] == "zehn"
    assert by_line[9]["_raw"] == "O2009,2026-03-01T10:00:00Z,C0000001,web"
    assert by_line[9]["order_id"] is None
    assert by_line[9]["_source_file"] == "orders_bad.csv"


def test_survey_ranges_and_rules(settings):
    land_fixture(settings, "surveys", "surveys_bad.csv")

    result = ingest(settings, "surveys")

    assert reasons_by(settings, "surveys", "response_id") == {
        "R10": "out_of_range:score",
        "R11": "rule:score_out_of_range_for_survey_type",
        "R12": "rule:response_without_respondent",
        "R13": "invalid_integer:score",
    }
    assert result.rows_loaded == 0


def test_ndjson_invalid_lines_and_values(settings):
    land_fixture(settings, "web_events", "web_events_bad.ndjson")

    result = ingest(settings, "web_events")

    # line 4 is blank: not a record, so 7 records are read
    assert reasons_by(settings, "web_events") == {
        2: "invalid_json",
        3: "invalid_json",
        5: "invalid_timestamp:event_time",
        6: "not_allowed:platform",
        8: "invalid_double:value_eur",
    }
    assert [(r["_source_line"], r["event_id"], r["value_eur"]) for r in loaded(settings, "web_events")] == [
        (1, "W10", None),
        (7, "W15", 12.5),
    ]
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (7, 2, 5)


def test_chat_messages_become_typed_utc_lists(settings):
    land_fixture(settings, "chat_conversations", "chat_conversations_good.ndjson")
    ingest(settings, "chat_conversations")

    [conversation] = loaded(settings, "chat_conversations")

    assert conversation["started_at"] == utc(2026, 3, 5, 9, 0)
    assert conversation["handover"] is True
    assert conversation["messages"] == [
        {"sent_at": utc(2026, 3, 5, 9, 0), "sender": "customer", "text": "Wo ist mein Paket?"},
        {"sent_at": utc(2026, 3, 5, 9, 0, 5), "sender": "bot", "text": "Ich verbinde dich."},
        {"sent_at": utc(2026, 3, 5, 9, 4), "sender": "agent", "text": "Es kommt morgen."},
    ]


def test_bad_chat_messages_are_quarantined(settings):
    land_fixture(settings, "chat_conversations", "chat_conversations_bad.ndjson")
    ingest(settings, "chat_conversations")

    assert reasons_by(settings, "chat_conversations", "conversation_id") == {
        "CH10": "invalid_messages:messages",  # unknown sender
        "CH11": "invalid_messages:messages",  # sent_at is no time
        "CH12": "invalid_messages:messages",  # not a list
        "CH13": "invalid_boolean:handover",  # handover comes before messages in the contract
    }


def test_json_array_records_and_cross_column_rules(settings):
    land_fixture(settings, "support_tickets", "support_tickets_bad.json")
    ingest(settings, "support_tickets")

    assert reasons_by(settings, "support_tickets") == {
        1: "rule:ticket_without_contact",
        2: "rule:first_response_before_creation",
        3: "invalid_json",
    }


def test_timestamps_with_offsets_z_and_naive_local_time_become_utc(settings):
    for source in ("crm_customers", "orders", "support_tickets", "calls"):
        fixture = next((FIXTURES / source).glob(f"{source}_good.*"))
        land_fixture(settings, source, fixture.name)
        ingest(settings, source)
    land(settings, "orders", "orders_summer.csv", f"{ORDERS_HEADER}\nO9,2026-07-01 10:00:00,,,,web,,sale,,1,1,,\n")
    ingest(settings, "orders")

    crm = {r["customer_id"]: r for r in loaded(settings, "crm_customers")}
    assert crm["C0000001"]["created_at"] == utc(2024, 1, 15, 8, 0)
    assert crm["C0000001"]["updated_at"] == utc(2026, 3, 1, 9, 0)  # naive, Berlin winter time
    assert crm["C0000002"]["created_at"] == utc(2025, 6, 1, 10, 0)
    assert crm["C0000002"]["updated_at"] is None
    orders = {r["order_id"]: r["ordered_at"] for r in loaded(settings, "orders")}
    assert orders == {
        "O1001": utc(2026, 3, 1, 8, 15),
        "O1002": utc(2026, 3, 2, 13, 0),
        "O1003": utc(2026, 3, 29, 1, 30),
        "O9": utc(2026, 7, 1, 8, 0),  # naive, Berlin summer time
    }
    tickets = {r["ticket_id"]: r for r in loaded(settings, "support_tickets")}
    assert tickets["T1"]["first_response_at"] == utc(2026, 3, 2, 9, 0)
    assert tickets["T2"]["created_at"] == utc(2026, 3, 3, 8, 0)
    assert {r["call_id"]: r["started_at"] for r in loaded(settings, "calls")} == {
        "K1": utc(2026, 3, 3, 8, 0),
        "K2": utc(2026, 3, 3, 9, 0),
    }


def test_booleans_decimal_comma_and_integers_are_typed(settings):
    land_fixture(settings, "crm_customers", "crm_customers_good.csv")
    land_fixture(settings, "orders", "orders_good.csv")
    ingest(settings, "crm_customers")
    ingest(settings, "orders")

    crm = {r["customer_id"]: r for r in loaded(settings, "crm_customers")}
    consents = ("consent_email", "consent_sms", "consent_phone", "consent_push")
    assert [crm["C0000001"][c] for c in consents] == [True, False, True, False]  # ja, nein, 1, 0
    assert [crm["C0000002"][c] for c in consents] == [True, False, True, False]  # true, false, yes, no
    assert crm["C0000001"]["birth_year"] == 1985
    assert crm["C0000001"]["email"] == " Anna.Mueller@Example.de "  # raw keeps the value; staging normalises
    assert {r["order_id"]: r["value_eur"] for r in loaded(settings, "orders")} == {
        "O1001": 59.9,
        "O1002": 19.99,
        "O1003": 59.9,
    }


def test_bom_semicolons_and_latin1_are_read_latin1_as_its_superset_cp1252(settings):
    header = "response_id;responded_at;customer_id;survey_type;score;comment"
    land(settings, "surveys", "bom.csv", "\ufeff" + header + "\nR1;2026-03-04T12:00:00Z;C1;nps;10;Grüße aus Köln\n")
    land(settings, "surveys", "latin1.csv", (header + "\nR2;2026-03-04T12:00:00Z;C1;csat;5;Schöne Größe\n").encode("latin-1"))

    result = ingest(settings, "surveys")

    assert {f.name: f.encoding for f in result.files} == {"bom.csv": "utf-8", "latin1.csv": "cp1252"}
    assert {r["response_id"]: r["comment"] for r in loaded(settings, "surveys")} == {
        "R1": "Grüße aus Köln",
        "R2": "Schöne Größe",
    }
    assert result.rows_quarantined == 0


def test_bom_and_latin1_json_exports_are_read(settings):
    post = '{"post_id": "P1", "posted_at": "2026-03-06T18:00:00Z", "platform": "x", "author_handle": "@a", "is_brand": false, "text": "Grüße"}'
    land(settings, "social_mentions", "bom.ndjson", "\ufeff" + post + "\n")
    land(settings, "social_mentions", "latin1.ndjson", post.replace("P1", "P2").encode("latin-1") + b"\n")
    ticket = '[{"ticket_id": "T1", "created_at": "2026-03-02T08:00:00Z", "channel": "email", "email": "x@example.com", "status": "open", "subject": "Größe"}]'
    land(settings, "support_tickets", "bom.json", "\ufeff" + ticket)
    land(settings, "support_tickets", "latin1.json", ticket.replace("T1", "T2").encode("latin-1"))

    ingest(settings, "social_mentions")
    ingest(settings, "support_tickets")

    assert {r["post_id"]: r["text"] for r in loaded(settings, "social_mentions")} == {"P1": "Grüße", "P2": "Grüße"}
    assert {r["ticket_id"]: r["subject"] for r in loaded(settings, "support_tickets")} == {"T1": "Größe", "T2": "Größe"}


def test_blank_lines_keep_csv_line_numbers(settings):
    content = f"{ORDERS_HEADER}\nO1,2026-03-01T10:00:00Z,,,,web,,sale,,1,1,,\n\nO2,bad,,,,web,,sale,,1,1,,\nO3,2026-03-01T10:00:00Z,,,,web,,sale,,1,1,,\n"
    land(settings, "orders", "blank.csv", content)

    ingest(settings, "orders")

    assert [(r["_source_line"], r["order_id"]) for r in loaded(settings, "orders")] == [(1, "O1"), (4, "O3")]
    assert [(r["_source_line"], r["reason"]) for r in quarantined(settings, "orders")] == [(3, "invalid_timestamp:ordered_at")]


def test_unknown_columns_are_reported_and_missing_optional_columns_are_null(settings):
    land(settings, "orders", "slim.csv", "Order_ID,ordered_at,channel,order_type,value_eur,shoe_size\nO1,2026-03-01T10:00:00Z,web,sale,5,42\n")

    result = ingest(settings, "orders")

    [file] = result.files
    assert file.unknown_columns == ("shoe_size",)
    assert "customer_id" in file.missing_optional_columns
    [order] = loaded(settings, "orders")
    assert (order["order_id"], order["customer_id"], order["items"]) == ("O1", None, None)
    assert "shoe_size" not in order
    assert result.unknown_columns == ("shoe_size",)


def test_missing_required_column_fails_the_file_naming_file_column_and_fix(settings):
    land(settings, "orders", "orders_2026-03.csv", "id,date,channel\n1,2026-03-01,web\n")

    with pytest.raises(ContractError) as error:
        ingest(settings, "orders")

    message = str(error.value)
    assert "orders/orders_2026-03.csv" in message
    assert "'order_id'" in message
    assert "found: id, date, channel" in message
    assert "Rename the column" in message


@pytest.mark.parametrize(
    ("source", "name", "content", "expected"),
    [
        ("orders", "orders.csv", '{"order_id": "O1"}\n', "required column 'order_id'"),
        ("support_tickets", "tickets.json", '{"ticket_id": "T1"}\n{"ticket_id": "T2"}\n', "not a JSON array of objects"),
        ("web_events", "events.ndjson", '{"id": "W1", "time": "2026-03-01T10:00:00Z"}\n', "required column 'event_id'"),
        ("orders", "empty.csv", "", "empty"),
    ],
)
def test_files_in_the_wrong_format_fail_as_a_whole(settings, source, name, content, expected):
    land(settings, source, name, content)

    with pytest.raises(ContractError, match=expected):
        ingest(settings, source)
    assert not (settings.raw_dir / source / "_ledger").exists()
    assert list((settings.raw_dir / source).glob("load_date=*")) == []


def test_files_are_processed_once_and_a_changed_file_is_an_error(settings):
    path = land_fixture(settings, "orders", "orders_good.csv")
    first = ingest(settings, "orders")
    second = ingest(settings, "orders")

    assert [f.name for f in first.files] == ["orders_good.csv"]
    assert (second.files, second.skipped_files) == ((), ("orders_good.csv",))
    assert len(loaded(settings, "orders")) == 3
    ledger = json.loads((settings.raw_dir / "_ledger" / "orders.json").read_text())
    assert ledger["orders_good.csv"]["rows_loaded"] == 3
    assert ledger["orders_good.csv"]["sha256"] == first.files[0].sha256

    path.write_text(path.read_text() + "O1004,2026-03-03T10:00:00Z,,,,web,,sale,,1,5,,\n")
    with pytest.raises(ContractError, match="new name"):
        ingest(settings, "orders")
    assert len(loaded(settings, "orders")) == 3


def orders_file(first_id: int, rows: int) -> str:
    return ORDERS_HEADER + "\n" + "".join(
        f"O{first_id + n},2026-03-0{1 + n % 5}T10:00:00Z,C{n % 7},,,web,,sale,,1,{n + 1},,\n" for n in range(rows))


@pytest.mark.parametrize("two_at_a_time", [True, False])
def test_small_files_are_ingested_two_at_a_time_with_the_results_of_one_at_a_time(settings, monkeypatch, two_at_a_time):
    if not two_at_a_time:  # the limit below which files are read two at a time
        monkeypatch.setattr(ingest_module, "PARALLEL_FILES_MAX_BYTES", 0)
    names = [f"orders_{day:02d}.csv" for day in range(1, 7)]
    for number, name in enumerate(names):
        land(settings, "orders", name, orders_file(1000 * number, rows=5 + number))
    land(settings, "orders", "orders_03b.csv", "not,the,header\n1,2,3\n")  # fails as a whole, alone
    threads, ingest_file = set(), ingest_module.ingest_file
    monkeypatch.setattr(ingest_module, "ingest_file", lambda *arguments: threads.add(threading.get_ident())
                        or ingest_file(*arguments))

    with pytest.raises(ContractError, match="orders_03b.csv") as failure:
        ingest(settings, "orders")

    assert len(threads) == (2 if two_at_a_time else 1)
    assert "6 other file(s) of orders were loaded" in str(failure.value)
    ledger = json.loads((settings.raw_dir / "_ledger" / "orders.json").read_text())
    assert list(ledger) == names  # in the order of the files, the failed one left out
    assert [ledger[name]["rows_loaded"] for name in names] == [5, 6, 7, 8, 9, 10]
    assert sorted(row["order_id"] for row in loaded(settings, "orders")) == sorted(
        f"O{1000 * number + n}" for number in range(6) for n in range(5 + number))


def test_a_known_file_is_hashed_again_only_when_its_size_or_modification_time_changed(settings):
    path = land_fixture(settings, "orders", "orders_good.csv")
    ingest(settings, "orders")
    ledger_path = settings.raw_dir / "_ledger" / "orders.json"
    entry = json.loads(ledger_path.read_text())["orders_good.csv"]
    assert (entry["size"], entry["mtime_ns"]) == (path.stat().st_size, path.stat().st_mtime_ns)

    # Same size and modification time: the file is taken for the loaded one without reading it (a ledger with a
    # wrong checksum shows that nothing was hashed).
    ledger_path.write_text(json.dumps({"orders_good.csv": entry | {"sha256": "0" * 64}}))
    assert ingest(settings, "orders").skipped_files == ("orders_good.csv",)

    # Touched but the same content (a copy that kept the bytes): hashed, skipped, and its new time remembered.
    ledger_path.write_text(json.dumps({"orders_good.csv": entry}))
    os.utime(path, ns=(entry["mtime_ns"] + 10**9, entry["mtime_ns"] + 10**9))
    assert ingest(settings, "orders").skipped_files == ("orders_good.csv",)
    assert json.loads(ledger_path.read_text())["orders_good.csv"]["mtime_ns"] == entry["mtime_ns"] + 10**9

    # A ledger written before the times were kept: hashed, as every time before, so even new content of the same
    # size under the old time is found.
    ledger_path.write_text(json.dumps({"orders_good.csv": {k: v for k, v in entry.items() if k != "mtime_ns"}}))
    path.write_text(path.read_text().replace("O1001", "O1009"))
    os.utime(path, ns=(entry["mtime_ns"], entry["mtime_ns"]))
    with pytest.raises(ContractError, match="new name"):
        ingest(settings, "orders")


def test_output_layout_schema_file_and_ignored_partial_files(settings):
    land_fixture(settings, "orders", "orders_bad.csv")
    land(settings, "orders", "upload.csv.part", "garbage")
    land(settings, "orders", ".hidden.csv", "garbage")
    land(settings, "orders", "orders_next.csv.tmp", "garbage")

    result = ingest(settings, "orders")

    [file] = result.files
    stem = f"orders_bad-{file.sha256[:8]}.parquet"
    today = datetime.now(timezone.utc).date()
    assert Path(file.raw_file) == settings.raw_dir / "orders" / f"load_date={today:%Y-%m-%d}" / stem
    assert Path(file.quarantine_file) == settings.quarantine_dir / "orders" / stem
    assert file.rows_read == file.rows_loaded + file.rows_quarantined
    assert file.event_time_min == "2026-03-01 09:00:00+00" and file.event_time_max == "2026-03-01 10:00:00+00"
    schema_file = settings.raw_dir / "orders" / SCHEMA_FILE_NAME
    schema = parquet_types(schema_file)
    with duckdb.connect() as con:
        schema_rows = con.execute(f"SELECT count(*) FROM '{schema_file}'").fetchall()[0][0]
    assert schema_rows == 0
    assert schema["ordered_at"] == "TIMESTAMP WITH TIME ZONE"
    assert (schema["items"], schema["value_eur"], schema["_source_line"]) == ("BIGINT", "DOUBLE", "BIGINT")
    assert list(schema)[-4:] == ["_source_file", "_source_line", "_file_sha256", "_ingested_at"]
    leftovers = [p.name for p in settings.data_dir.rglob("*") if p.name.endswith(".tmp") and "landing" not in p.parts]
    assert leftovers == []


def test_chat_schema_types_messages_as_list_of_structs(settings):
    ingest(settings, "chat_conversations")  # no files yet: only the schema file is written

    types = parquet_types(settings.raw_dir / "chat_conversations" / SCHEMA_FILE_NAME)
    assert types["messages"] == 'STRUCT(sent_at TIMESTAMP WITH TIME ZONE, sender VARCHAR, "text" VARCHAR)[]'
    assert types["handover"] == "BOOLEAN"


# ------------------------------------------------------------------ issue 13: readers that never load wrong values

GOOD_ORDER = "2026-03-01T10:00:00Z,C1,,,web,,sale,,1,1.5,card,shoes"


def test_a_row_whose_field_count_differs_from_the_header_is_malformed_never_shifted(settings):
    land(settings, "orders", "fields.csv", f"{ORDERS_HEADER}\n"
         "O1,2026-03-01T10:00:00Z,C1,,,web,,sale,,1,1.0,234.56,shoes,\n"  # one surplus empty trailing field
         f"O2,{GOOD_ORDER}\n"
         "O3,2026-03-01T10:00:00Z,C1,,,web,,sale,,1,1.0,card\n"  # one field short
         "O4,2026-03-01T10:00:00Z,C1,,,web,,sale,,1,1.0,card,shoes,,\n")  # two surplus fields

    result = ingest(settings, "orders")

    assert reasons_by(settings, "orders") == {1: "malformed_row", 3: "malformed_row", 4: "malformed_row"}
    assert [(r["_source_line"], r["order_id"], r["payment_method"]) for r in loaded(settings, "orders")] == [(2, "O2", "card")]
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (4, 1, 3)


def test_an_unterminated_quote_quarantines_each_line_it_swallowed(settings):
    land(settings, "orders", "to_end.csv", f"{ORDERS_HEADER}\nO1,{GOOD_ORDER}\n"
         'O2,2026-03-01T10:00:00Z,C1,,,web,,sale,,1,1.5,"card,shoes\n'
         f"O3,{GOOD_ORDER}\nO4,{GOOD_ORDER}\n")

    result = ingest(settings, "orders")

    assert reasons_by(settings, "orders") == {2: "unterminated_quote", 3: "after_unterminated_quote", 4: "after_unterminated_quote"}
    assert {r["_source_line"]: r["_raw"] for r in quarantined(settings, "orders")}[4] == f"O4,{GOOD_ORDER}"
    assert [r["order_id"] for r in loaded(settings, "orders")] == ["O1"]
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (4, 1, 3)


def test_lines_after_a_quote_closed_by_a_later_line_keep_their_numbers(settings):
    land(settings, "orders", "closed_later.csv", f"{ORDERS_HEADER}\n"
         'O1,2026-03-01T10:00:00Z,C1,,,web,,sale,,1,1.5,"card,shoes\n'
         f"O2,{GOOD_ORDER}\n"
         'O3,2026-03-01T10:00:00Z,C1,,,web,,sale,,1,1.5,"card",shoes\n'
         f"O4,{GOOD_ORDER}\n")

    result = ingest(settings, "orders")

    assert reasons_by(settings, "orders") == {1: "unterminated_quote", 2: "after_unterminated_quote", 3: "after_unterminated_quote"}
    assert [(r["_source_line"], r["order_id"]) for r in loaded(settings, "orders")] == [(4, "O4")]
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (4, 1, 3)


def test_event_times_outside_the_plausible_window_are_out_of_range(settings):
    now = datetime.now(timezone.utc)
    inside = [(now.replace(year=now.year - 9, day=1)), now + timedelta(days=1)]
    outside = [datetime(1900, 3, 1, tzinfo=timezone.utc), now.replace(year=now.year - 11, day=1),
               now + timedelta(days=3), datetime(2999, 1, 1, tzinfo=timezone.utc)]
    lines = [f"O{i},{t:%Y-%m-%dT%H:%M:%SZ},C1,,,web,,sale,,1,1,card,shoes" for i, t in enumerate(inside + outside, 1)]
    land(settings, "orders", "window.csv", "\n".join([ORDERS_HEADER, *lines]) + "\n")

    ingest(settings, "orders")

    assert [r["order_id"] for r in loaded(settings, "orders")] == ["O1", "O2"]
    assert reasons_by(settings, "orders") == {n: "out_of_range:ordered_at" for n in (3, 4, 5, 6)}


def test_the_plausible_window_is_a_setting(settings, monkeypatch):
    monkeypatch.setenv("CX_EVENT_TIME_YEARS_BACK", "200")
    monkeypatch.setenv("CX_EVENT_TIME_DAYS_AHEAD", "0")
    tomorrow = datetime.now(timezone.utc) + timedelta(days=1)
    land(settings, "orders", "window.csv", f"{ORDERS_HEADER}\nO1,1900-03-01T10:00:00Z,C1,,,web,,sale,,1,1,,\n"
         f"O2,{tomorrow:%Y-%m-%dT%H:%M:%SZ},C1,,,web,,sale,,1,1,,\n")

    ingest_source(CONTRACTS["orders"], get_settings())

    assert [r["order_id"] for r in loaded(settings, "orders")] == ["O1"]
    assert reasons_by(settings, "orders") == {2: "out_of_range:ordered_at"}


def test_a_local_time_skipped_by_the_clock_change_is_quarantined_not_shifted(settings):
    # Berlin skips 02:00-03:00 on 2026-03-29 and repeats 02:00-03:00 on 2026-10-25 (read as standard time, UTC+1).
    land(settings, "orders", "dst.csv", f"{ORDERS_HEADER}\nO1,2026-03-29 02:30:00,C1,,,web,,sale,,1,1,,\n"
         "O2,2026-03-29 03:30:00,C1,,,web,,sale,,1,1,,\nO3,29.03.2026 02:15,C1,,,web,,sale,,1,1,,\n"
         "O4,2026-10-25 02:30:00,C1,,,web,,sale,,1,1,,\nO5,2026-03-29T02:30:00+01:00,C1,,,web,,sale,,1,1,,\n")

    ingest(settings, "orders")

    assert reasons_by(settings, "orders") == {1: "nonexistent_local_time:ordered_at", 3: "nonexistent_local_time:ordered_at"}
    assert {r["order_id"]: r["ordered_at"] for r in loaded(settings, "orders")} == {
        "O2": utc(2026, 3, 29, 1, 30),
        "O4": utc(2026, 10, 25, 1, 30),
        "O5": utc(2026, 3, 29, 1, 30),  # an explicit offset names the instant, gap or not
    }


def test_nan_and_infinite_numbers_are_quarantined(settings):
    values = ["NaN", "Infinity", "inf", "-inf", "1e309", "12.5"]
    lines = [f"O{i},2026-03-01T10:00:00Z,C1,,,web,,sale,,1,{v},card,shoes" for i, v in enumerate(values, 1)]
    land(settings, "orders", "nan.csv", "\n".join([ORDERS_HEADER, *lines]) + "\n")
    event = '{"event_id": "W%d", "event_time": "2026-03-01T08:00:00Z", "anonymous_id": "a", "event_type": "purchase", "platform": "web", "value_eur": %s}\n'
    land(settings, "web_events", "nan.ndjson", event % (1, "1e309") + event % (2, '"NaN"') + event % (3, "2.5"))

    ingest(settings, "orders")
    ingest(settings, "web_events")

    assert reasons_by(settings, "orders") == {n: "not_a_number:value_eur" for n in range(1, 6)}
    assert [(r["order_id"], r["value_eur"]) for r in loaded(settings, "orders")] == [("O6", 12.5)]
    assert reasons_by(settings, "web_events") == {1: "not_a_number:value_eur", 2: "not_a_number:value_eur"}
    assert [(r["event_id"], r["value_eur"]) for r in loaded(settings, "web_events")] == [("W3", 2.5)]


@pytest.mark.parametrize(("timezone_name", "utc_hour"), [("Europe/Berlin", 11), ("America/Los_Angeles", 20)])
def test_a_bare_date_keeps_its_calendar_day_as_noon_local_time(settings, monkeypatch, timezone_name, utc_hour):
    monkeypatch.setenv("CX_EVENT_TIME_YEARS_BACK", "40")
    land(settings, "orders", "dates.csv", f"{ORDERS_HEADER}\nO1,1997-01-01,C1,,,web,,sale,,1,1,,\nO2,02.01.1997,C1,,,web,,sale,,1,1,,\n")
    contract = dataclasses.replace(CONTRACTS["orders"], naive_timezone=timezone_name)

    ingest_source(contract, get_settings())

    assert {r["order_id"]: r["ordered_at"] for r in loaded(settings, "orders")} == {
        "O1": utc(1997, 1, 1, utc_hour),
        "O2": utc(1997, 1, 2, utc_hour),
    }


def test_cp1252_and_utf16_exports_are_read(settings):
    header = "response_id;responded_at;customer_id;survey_type;score;comment"
    land(settings, "surveys", "excel.csv", (header + "\nR1;2026-03-04T12:00:00Z;C1;nps;9;„Preis 5 €“ – gut\n").encode("cp1252"))
    land(settings, "surveys", "unicode.csv", (header + "\nR2;2026-03-04T12:00:00Z;C1;nps;8;Grüße ✓\n").encode("utf-16"))

    result = ingest(settings, "surveys")

    assert {f.name: f.encoding for f in result.files} == {"excel.csv": "cp1252", "unicode.csv": "utf-16"}
    assert {r["response_id"]: r["comment"] for r in loaded(settings, "surveys")} == {"R1": "„Preis 5 €“ – gut", "R2": "Grüße ✓"}


def test_an_undecodable_file_fails_alone_with_its_name_and_the_fix(settings):
    land_fixture(settings, "orders", "orders_good.csv")
    # 0x81 is undefined in cp1252 and "\xe4" (ä in Latin-1) followed by ASCII is no UTF-8.
    land(settings, "orders", "broken.csv", (ORDERS_HEADER + "\nO9,2026-03-01T10:00:00Z,,,,web,,sale,,1,1,,M\xe4rz\n").encode("latin-1") + b"\x81\n")

    with pytest.raises(ContractError) as error:
        ingest(settings, "orders")

    message = str(error.value)
    assert message.startswith("orders/broken.csv: the file is neither UTF-8 nor Windows-1252")
    assert "0x81" in message and "Save the export as UTF-8" in message
    assert "1 other file(s) of orders were loaded" in message
    assert [r["order_id"] for r in loaded(settings, "orders")] == ["O1001", "O1002", "O1003"]
    assert list(json.loads((settings.raw_dir / "_ledger" / "orders.json").read_text())) == ["orders_good.csv"]


def test_glob_characters_in_file_names_are_read_literally(settings):
    names = {"a*.csv": "O1", "ab.csv": "O2", "q?.csv": "O3", "[x].csv": "O4", "x.csv": "O5"}
    for name, order_id in names.items():
        land(settings, "orders", name, f"{ORDERS_HEADER}\n{order_id},{GOOD_ORDER}\n")
    land(settings, "support_tickets", "t*.json", '[{"ticket_id": "T1", "created_at": "2026-03-02T08:00:00Z", "channel": "email", "email": "x@example.com", "status": "open"}]')
    land(settings, "support_tickets", "tb.json", '[{"ticket_id": "T2", "created_at": "2026-03-02T08:00:00Z", "channel": "email", "email": "x@example.com", "status": "open"}]')

    result = ingest(settings, "orders")
    ingest(settings, "support_tickets")

    assert {f.name: f.rows_read for f in result.files} == dict.fromkeys(names, 1)
    assert sorted((r["_source_file"], r["order_id"]) for r in loaded(settings, "orders")) == sorted(names.items())
    assert sorted(r["ticket_id"] for r in loaded(settings, "support_tickets")) == ["T1", "T2"]


def test_a_binary_file_named_csv_fails_as_not_a_text_csv(settings):
    land(settings, "orders", "export.csv", b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xdf\xa4\xd2lZ\x01" * 50)

    with pytest.raises(ContractError) as error:
        ingest(settings, "orders")

    message = str(error.value)
    assert message.startswith("orders/export.csv: not a text CSV file")
    assert message.isascii() and message.isprintable()
    assert "Rename the column" not in message


def test_files_read_one_after_another_keep_their_own_rejects(settings):
    # One DuckDB connection reads all new files of a run: a file's malformed rows, and a file that fails, must not
    # leak into the next file's quarantine or counts.
    shutil.copy(FIXTURES / "orders" / "orders_bad.csv", land(settings, "orders", "a_bad.csv", ""))
    land(settings, "orders", "b_broken.csv", "order_id;ordered_at\nO1;2026-03-01T10:00:00Z\n")
    shutil.copy(FIXTURES / "orders" / "orders_good.csv", land(settings, "orders", "c_good.csv", ""))

    with pytest.raises(ContractError, match="orders/b_broken.csv: required column"):
        ingest(settings, "orders")

    ledger = json.loads((settings.raw_dir / "_ledger" / "orders.json").read_text())
    assert sorted(ledger) == ["a_bad.csv", "c_good.csv"]
    assert (ledger["a_bad.csv"]["rows_quarantined"], ledger["a_bad.csv"]["reasons"]["malformed_row"]) == (8, 1)
    assert (ledger["c_good.csv"]["rows_read"], ledger["c_good.csv"]["rows_loaded"]) == (3, 3)
    assert (ledger["c_good.csv"]["rows_quarantined"], ledger["c_good.csv"]["reasons"]) == (0, {})
    assert {r["_source_file"] for r in quarantined(settings, "orders")} == {"a_bad.csv"}
