"""Type and validate `landing_rows` (see reader.py) in one pass of DuckDB SQL generated from the contract.

`validate_landing_rows(con, contract, window)` creates the table `validated` (in the order of `landing_rows`):
`_source_line`, every contract column typed (string→VARCHAR, integer→BIGINT, double→DOUBLE, boolean→BOOLEAN,
date→DATE, timestamp→TIMESTAMPTZ, messages→LIST(STRUCT(sent_at TIMESTAMPTZ, sender VARCHAR, text VARCHAR)))
and `reason`: null for a good row, else the first failing check. Checks run in this order,
each over the columns in contract order: missing_required, nonexistent_local_time, not_a_number, invalid_<type>,
not_allowed, out_of_range (contract bounds, and the event-time column outside the plausible `EventTimeWindow`),
rule:<name>, then duplicate_key (among rows that passed everything else, the first line wins).

Naive timestamps are read in the contract's `naive_timezone` by running the casts with that session time zone;
the connection is left in UTC. A naive time that does not exist there (the hour skipped when clocks go
forward) is quarantined as `nonexistent_local_time`, never shifted; a repeated hour (clocks go back) is read
as standard time. A date without a time in a timestamp column ("1997-01-01", "01.01.1997") means that
calendar day: it is stored as 12:00 local time, which stays on the same day in UTC and in every time zone
within 11 hours of the naive one. NaN and infinite numbers ("NaN", "inf", "1e309") are `not_a_number`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb

from cx_core.sources.contracts import Column, SourceContract
from cx_core.sources.reader import quote_identifier, sql_literal

RAW_PREFIX = "__raw__"
MESSAGE_SENDERS = ("customer", "bot", "agent")
# DuckDB's boolean cast knows true/false, t/f, 1/0, yes/no, y/n; German exports add these.
GERMAN_BOOLEANS = {"ja": True, "j": True, "nein": False}
NAIVE_TIMESTAMP_FORMATS = ("%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M")
GERMAN_DATE_FORMAT = "%d.%m.%Y"
DATE_ONLY_HOUR = 12

SQL_TYPES = {
    "string": "VARCHAR",
    "integer": "BIGINT",
    "double": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMPTZ",
    "messages": "STRUCT(sent_at TIMESTAMPTZ, sender VARCHAR, text VARCHAR)[]",
}


def has_content(value: str) -> str:
    """SQL: the value is not null and not only whitespace (a regex search stops at the first character, where
    trim() would copy long texts)."""
    return f"coalesce(regexp_matches({value}, '\\S'), false)"


def _in_list(values: tuple[str, ...]) -> str:
    return ", ".join(sql_literal(v) for v in values)


@dataclass(frozen=True)
class EventTimeWindow:
    """The plausible event times of one load: an event-time value outside [earliest, latest] is `out_of_range`."""

    earliest: datetime
    latest: datetime

    @classmethod
    def around(cls, load_time: datetime, years_back: int, days_ahead: int) -> "EventTimeWindow":
        # 29 February has no twin in most years: a load on that day looks back from 28 February.
        start = load_time.replace(day=28) if (load_time.month, load_time.day) == (2, 29) else load_time
        return cls(start.replace(year=start.year - years_back), load_time + timedelta(days=days_ahead))


def _wall_time_sql(value: str) -> str:
    """The TIMESTAMP as written (no time zone applied); also set for values with an offset, which it ignores."""
    german = [f"try_strptime({value}, {sql_literal(f)})" for f in NAIVE_TIMESTAMP_FORMATS]
    return f"coalesce(TRY_CAST({value} AS TIMESTAMP), {', '.join(german)})"


def _instant_sql(value: str) -> str:
    """The instant DuckDB reads (a naive value in the session time zone, shifted forward when in a DST gap)."""
    return f"coalesce(TRY_CAST({value} AS TIMESTAMPTZ), {_wall_time_sql(value)}::TIMESTAMPTZ)"


def _has_offset_sql(value: str) -> str:
    """Z or a +/- offset after the date part (string tests: far cheaper than a regular expression)."""
    return f"(right({value}, 1) IN ('Z', 'z') OR contains(substr({value}, 11), '+') OR contains(substr({value}, 11), '-'))"


def timestamp_sql(value: str) -> str:
    """SQL turning a trimmed, non-empty VARCHAR expression into TIMESTAMPTZ (null when it does not parse).

    Values with `Z` or an offset keep their instant; values without one are read in the session time zone,
    which `validate_landing_rows` sets to the contract's `naive_timezone`, and are null when that wall time
    does not exist there (it does not come back unchanged); a date alone (no `:`) is noon of that day there.
    """
    date_only = f"coalesce(TRY_CAST({value} AS DATE), try_strptime({value}, {sql_literal(GERMAN_DATE_FORMAT)})::DATE)"
    instant, wall = _instant_sql(value), _wall_time_sql(value)
    # CASE evaluates each branch only for its own rows: the time-zone round trip runs for naive values only.
    return (
        f"CASE WHEN NOT contains({value}, ':') AND {date_only} IS NOT NULL "
        f"THEN ({date_only} + INTERVAL {DATE_ONLY_HOUR} HOUR)::TIMESTAMPTZ "
        f"WHEN {_has_offset_sql(value)} THEN TRY_CAST({value} AS TIMESTAMPTZ) "
        f"ELSE CASE WHEN {wall} IS NULL OR {instant}::TIMESTAMP = {wall} THEN {instant} END END"
    )


def _messages_sql(value: str) -> str:
    """A JSON list of messages as a typed list (null when it is no list; see `_invalid_sql` for the elements)."""
    parsed = (
        f"TRY(json_transform({value}, "
        """'[{"sent_at": "VARCHAR", "sender": "VARCHAR", "text": "VARCHAR"}]'))"""
    )
    return (
        f"list_transform({parsed}, lambda m: {{'sent_at': {timestamp_sql('trim(m.sent_at)')}, "
        f"'sender': m.sender, 'text': m.text}})"
    )


def _invalid_sql(column: Column) -> str:
    """True when a non-blank raw value did not become a valid typed value."""
    raw_present = has_content(quote_identifier(RAW_PREFIX + column.name))
    typed = quote_identifier(column.name)
    if column.type != "messages":
        return f"{raw_present} AND {typed} IS NULL"
    bad_message = f"lambda m: m.sent_at IS NULL OR m.sender IS NULL OR m.sender NOT IN ({_in_list(MESSAGE_SENDERS)})"
    return f"{raw_present} AND ({typed} IS NULL OR len(list_filter({typed}, {bad_message})) > 0)"


def typed_sql(column: Column) -> str:
    """SQL for one column's typed value from its raw VARCHAR column; null when blank or unparseable."""
    raw = quote_identifier(column.name)
    value = f"NULLIF(trim({raw}), '')"
    if column.type == "string":
        return f"CASE WHEN {has_content(raw)} THEN {raw} END"
    if column.type == "integer":
        return f"CASE WHEN TRY_CAST({value} AS DOUBLE) = TRY_CAST({value} AS BIGINT) THEN TRY_CAST({value} AS BIGINT) END"
    if column.type == "double":
        # A decimal comma ("12,50") is accepted when the value has no point.
        return f"TRY_CAST(CASE WHEN NOT contains({value}, '.') THEN replace({value}, ',', '.') ELSE {value} END AS DOUBLE)"
    if column.type == "boolean":
        german = " ".join(f"WHEN {sql_literal(word)} THEN {str(flag).lower()}" for word, flag in GERMAN_BOOLEANS.items())
        return f"coalesce(TRY_CAST({value} AS BOOLEAN), CASE lower({value}) {german} END)"
    if column.type == "date":
        return f"coalesce(TRY_CAST({value} AS DATE), TRY_CAST(try_strptime({value}, {sql_literal(GERMAN_DATE_FORMAT)}) AS DATE))"
    if column.type == "timestamp":
        return timestamp_sql(value)
    return _messages_sql(raw)  # the JSON parser skips surrounding whitespace itself


def _reason_sql(contract: SourceContract, window: EventTimeWindow) -> str:
    checks: list[tuple[str, str]] = [
        (f"NOT {has_content(quote_identifier(RAW_PREFIX + c.name))}", f"missing_required:{c.name}")
        for c in contract.columns
        if c.required
    ]
    # A timestamp DuckDB reads but `timestamp_sql` refuses is a local time the clock change skips.
    checks += [
        (f"{quote_identifier(c.name)} IS NULL AND {_instant_sql(f'trim({quote_identifier(RAW_PREFIX + c.name)})')} IS NOT NULL",
         f"nonexistent_local_time:{c.name}")
        for c in contract.columns
        if c.type == "timestamp"
    ]
    checks += [(f"NOT isfinite({quote_identifier(c.name)})", f"not_a_number:{c.name}") for c in contract.columns if c.type == "double"]
    checks += [(_invalid_sql(c), f"invalid_{c.type}:{c.name}") for c in contract.columns if c.type != "string"]
    checks += [
        (f"{quote_identifier(c.name)} NOT IN ({_in_list(c.allowed)})", f"not_allowed:{c.name}")
        for c in contract.columns
        if c.allowed
    ]
    for c in contract.columns:
        bounds = [f"{quote_identifier(c.name)} < {c.minimum}"] if c.minimum is not None else []
        bounds += [f"{quote_identifier(c.name)} > {c.maximum}"] if c.maximum is not None else []
        if c.name == contract.event_time:
            event_time = quote_identifier(c.name)
            bounds += [f"{event_time} < {sql_literal(window.earliest.isoformat())}::TIMESTAMPTZ",
                       f"{event_time} > {sql_literal(window.latest.isoformat())}::TIMESTAMPTZ"]
        if bounds:
            checks.append((" OR ".join(bounds), f"out_of_range:{c.name}"))
    # A rule that evaluates to null (a value it needs is missing) does not reject the row.
    checks += [(f"NOT ({rule.sql})", f"rule:{rule.reason}") for rule in contract.rules]
    return "CASE " + " ".join(f"WHEN {condition} THEN {sql_literal(reason)}" for condition, reason in checks) + " END"


def validate_landing_rows(con: duckdb.DuckDBPyConnection, contract: SourceContract, window: EventTimeWindow) -> None:
    """Create `validated` from `landing_rows` (see the module docstring)."""
    raw_columns = ", ".join(
        f"{quote_identifier(c)} AS {quote_identifier(RAW_PREFIX + c)}" for c in contract.column_names
    )
    typed_columns = ", ".join(
        f"{typed_sql(c)}::{SQL_TYPES[c.type]} AS {quote_identifier(c.name)}"
        for c in contract.columns
    )
    key = ", ".join(quote_identifier(c) for c in contract.primary_key)
    typed_names = ", ".join(quote_identifier(c) for c in contract.column_names)
    con.execute(f"SET TimeZone = {sql_literal(contract.naive_timezone)}")
    try:
        con.execute(
            f"""CREATE OR REPLACE TABLE validated AS
                WITH typed AS (SELECT _source_line, {typed_columns}, {raw_columns} FROM landing_rows)
                SELECT _source_line, {typed_names}, {_reason_sql(contract, window)} AS reason FROM typed"""
        )
    finally:
        con.execute("SET TimeZone = 'UTC'")
    # Among rows that passed every other check, the first line of a key wins.
    con.execute(
        f"""UPDATE validated SET reason = 'duplicate_key' WHERE _source_line IN (
                SELECT _source_line FROM validated WHERE reason IS NULL
                QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY _source_line) > 1
            )"""
    )


def empty_schema_sql(contract: SourceContract) -> str:
    """A zero-row select with every contract column in its raw-layer type."""
    columns = ", ".join(f"NULL::{SQL_TYPES[c.type]} AS {quote_identifier(c.name)}" for c in contract.columns)
    return f"SELECT {columns} LIMIT 0"
