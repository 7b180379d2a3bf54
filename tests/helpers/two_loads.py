"""A demo's raw layer as two loads (issue 19's incremental refresh): every day but the last, then the last day
ingested an hour later, with rows that make an incremental refresh hard planted into the second load."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import duckdb

from cx_core.sources.contracts import CONTRACTS

SECOND_LOAD_DELAY = timedelta(hours=1)
CORRECTED_VALUE_EUR = 123.45
CHANGED_EMAIL = "changed.address@example.com"
FIRST_LOAD_FOLDER, SECOND_LOAD_FOLDER = "load_date=2000-01-01", "load_date=2000-01-02"


class Planted(NamedTuple):
    """The rows plant_second_load_rows adds to the second load."""
    login_cookie: str  # an anonymous cookie whose first login (a new web event) names login_customer_id
    login_customer_id: str
    chat_cookie: str  # an anonymous cookie without new events that a new chat links to chat_customer_id
    chat_customer_id: str
    corrected_order_id: str  # an old order re-exported with CORRECTED_VALUE_EUR
    moved_event_id: str  # an old anonymous web event re-exported with login_cookie: moved_from_cookie loses it
    moved_from_cookie: str
    changed_email_customer_id: str  # a CRM customer re-exported with CHANGED_EMAIL instead of their e-mail
    shared_phone_customer_ids: tuple[str, str]  # the second re-exported with the first's phone: now shared
    moved_order_id: str  # an old store order re-exported with another CRM customer's loyalty card
    unconverted_send_id: str  # its first customer's e-mail send that only this order converted


def split_raw_into_two_loads(raw_dir: Path, held_dir: Path, cutoff: datetime) -> Planted:
    """Rewrite each source's raw Parquet as its first load (rows whose event time is before `cutoff`, as they
    were ingested) and put the second load (the others and the planted rows, ingested SECOND_LOAD_DELAY after
    the latest first-load row) into `held_dir` in the same layout."""
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
            for out, sql, parameters in (
                (raw_dir / contract.name / FIRST_LOAD_FOLDER, first, {"cutoff": cutoff}),
                (held_dir / contract.name / SECOND_LOAD_FOLDER, second, {"cutoff": cutoff, "second_load_at": second_load_at}),
            ):
                out.mkdir(parents=True)
                con.execute(f"COPY ({sql}) TO '{out / 'load.parquet'}' (FORMAT parquet)", parameters)
    return planted


def plant_second_load_rows(con: duckdb.DuckDBPyConnection, cutoff: datetime) -> Planted:
    """Plant for the second load the rows of Planted: two cookies that were anonymous before `cutoff` get linked
    to two customers, one by its first login, one by a chat (identity resolution re-attributes the cookie's
    visits without a new event on it), an old order is re-exported with a corrected value, an old web event
    with another cookie (its first cookie gets no new event, only one event less), a CRM customer with a changed
    e-mail and another with a third one's phone (which then links two CRM ids: blocked), and an old store order
    with another CRM customer (the e-mail send it converted for its first customer converts nothing any more)."""
    first_cookie, second_cookie = (cookie for (cookie,) in con.execute("""
        SELECT anonymous_id FROM web_events GROUP BY anonymous_id
        HAVING count(user_id) = 0 AND count(*) FILTER (event_type = 'purchase') = 0
           AND max(event_time) < $cutoff AND anonymous_id NOT IN (
               SELECT anonymous_id FROM chat_conversations WHERE anonymous_id IS NOT NULL)
        ORDER BY anonymous_id LIMIT 2""", {"cutoff": cutoff}).fetchall())
    first_customer, second_customer = (customer for (customer,) in con.execute(
        "SELECT customer_id FROM crm_customers ORDER BY customer_id LIMIT 2").fetchall())
    con.execute("""
        INSERT INTO planted_web_events SELECT * REPLACE ('incremental-login' AS event_id, $customer AS user_id,
            'login' AS event_type, $cutoff::TIMESTAMPTZ + INTERVAL 1 HOUR AS event_time, NULL AS order_id,
            NULL AS value_eur)
        FROM web_events WHERE anonymous_id = $cookie ORDER BY event_time LIMIT 1""",
                {"customer": first_customer, "cutoff": cutoff, "cookie": first_cookie})
    con.execute("""
        INSERT INTO planted_chat_conversations SELECT * REPLACE ('incremental-chat' AS conversation_id,
            $customer AS user_id, NULL AS email, $cookie AS anonymous_id,
            $cutoff::TIMESTAMPTZ + INTERVAL 2 HOUR AS started_at, NULL AS ended_at, false AS handover,
            NULL AS handover_at)
        FROM chat_conversations ORDER BY conversation_id LIMIT 1""",
                {"customer": second_customer, "cutoff": cutoff, "cookie": second_cookie})
    order_id = con.execute("""SELECT min(order_id) FROM orders
        WHERE customer_id IS NOT NULL AND order_type = 'sale' AND ordered_at < $cutoff""",
                           {"cutoff": cutoff}).fetchone()[0]
    con.execute("INSERT INTO planted_orders SELECT * REPLACE ($value AS value_eur) FROM orders WHERE order_id = $id",
                {"value": CORRECTED_VALUE_EUR, "id": order_id})
    moved_event_id, moved_from_cookie = con.execute("""SELECT event_id, anonymous_id FROM web_events
        WHERE event_time < $cutoff AND anonymous_id NOT IN ($first, $second) AND user_id IS NULL
            AND event_type <> 'purchase' ORDER BY event_id LIMIT 1""",
                                                    {"cutoff": cutoff, "first": first_cookie, "second": second_cookie}
                                                    ).fetchone()
    con.execute("INSERT INTO planted_web_events SELECT * REPLACE ($cookie AS anonymous_id) FROM web_events "
                "WHERE event_id = $id", {"cookie": first_cookie, "id": moved_event_id})
    changed_email_customer, phone_sharer, phone_owner = (customer for (customer,) in con.execute(
        "SELECT customer_id FROM crm_customers WHERE phone IS NOT NULL ORDER BY customer_id LIMIT 3 OFFSET 2"
    ).fetchall())
    con.execute("INSERT INTO planted_crm_customers SELECT * REPLACE ($email AS email) FROM crm_customers "
                "WHERE customer_id = $id", {"email": CHANGED_EMAIL, "id": changed_email_customer})
    con.execute("INSERT INTO planted_crm_customers SELECT * REPLACE ((SELECT phone FROM crm_customers "
                "WHERE customer_id = $owner) AS phone) FROM crm_customers WHERE customer_id = $id",
                {"owner": phone_owner, "id": phone_sharer})
    # A store order paid with the loyalty card of a CRM customer who got an e-mail send in the 14 days before it
    # and made no other sale in the send's 14 days (store orders carry only the card: no cookie, no e-mail).
    moved_order_id, unconverted_send_id, first_owner = con.execute("""
        SELECT orders.order_id, sends.event_id, owner.customer_id
        FROM orders
        JOIN crm_customers AS owner ON owner.loyalty_id = orders.loyalty_id
        JOIN email_events AS sends ON lower(trim(sends.email)) = lower(trim(owner.email))
            AND sends.event_type = 'send' AND sends.event_time <= orders.ordered_at
            AND orders.ordered_at < sends.event_time + INTERVAL 14 DAY
        WHERE orders.order_type = 'sale' AND orders.ordered_at < $cutoff AND orders.customer_id IS NULL
            AND orders.email IS NULL AND owner.customer_id NOT IN ($first, $second, $changed, $sharer, $owner)
            AND NOT EXISTS (SELECT 1 FROM orders AS other
                WHERE (other.customer_id = owner.customer_id OR other.loyalty_id = owner.loyalty_id
                       OR lower(trim(other.email)) = lower(trim(owner.email)))
                    AND other.order_type = 'sale' AND other.order_id <> orders.order_id
                    AND other.ordered_at >= sends.event_time AND other.ordered_at < sends.event_time + INTERVAL 14 DAY)
        ORDER BY orders.order_id, sends.event_id LIMIT 1""",
        {"cutoff": cutoff, "first": first_customer, "second": second_customer, "changed": changed_email_customer,
         "sharer": phone_sharer, "owner": phone_owner}).fetchone()
    con.execute("""INSERT INTO planted_orders SELECT * REPLACE ((SELECT max(loyalty_id) FROM crm_customers
            WHERE customer_id NOT IN ($first_owner, $first, $second, $changed, $sharer, $owner)) AS loyalty_id)
        FROM orders WHERE order_id = $id""",
                {"id": moved_order_id, "first_owner": first_owner, "first": first_customer, "second": second_customer,
                 "changed": changed_email_customer, "sharer": phone_sharer, "owner": phone_owner})
    return Planted(first_cookie, first_customer, second_cookie, second_customer, order_id, moved_event_id,
                   moved_from_cookie, changed_email_customer, (phone_owner, phone_sharer), moved_order_id,
                   unconverted_send_id)


def land_second_load(raw_dir: Path, held_dir: Path) -> None:
    """Move the second load split_raw_into_two_loads held back into the raw layer."""
    for load in held_dir.glob(f"*/{SECOND_LOAD_FOLDER}"):
        load.rename(raw_dir / load.parent.name / SECOND_LOAD_FOLDER)
