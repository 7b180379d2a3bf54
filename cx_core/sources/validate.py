"""Type and validate `landing_rows` (see reader.py) in one pass of DuckDB SQL generated from the contract.

`validate_landing_rows(con, contract)` creates the table `validated` (in the order of `landing_rows`):
`_source_line`, every contract column typed (string→VARCHAR, integer→BIGINT, double→DOUBLE, boolean→BOOLEAN,
date→DATE, timestamp→TIMESTAMPTZ, messages→LIST(STRUCT(sent_at TIMESTAMPTZ, sender VARCHAR, text VARCHAR)))
and `reason`: null for a good row, else the first failing check. Checks run in this order,
each over the columns in contract order: missing_required, invalid_<type>, not_allowed, out_of_range,
rule:<name>, then duplicate_key (among rows that passed everything else, the first line wins).

Naive timestamps are read in the contract's `naive_timezone` by running the casts with that session time zone;
the connection is left in UTC.
"""

from __future__ import annotations

import duckdb

from cx_core.sources.contracts import Column, SourceContract
from cx_core.sources.reader import quote_identifier, sql_literal

RAW_PREFIX = "__raw__"
MESSAGE_SENDERS = ("customer", "bot", "agent")
# DuckDB's boolean cast knows true/false, t/f, 1/0, yes/no, y/n; German exports add these.
GERMAN_BOOLEANS = {"ja": True, "j": True, "nein": False}
NAIVE_TIMESTAMP_FORMATS = ("%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M")

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


def timestamp_sql(value: str) -> str:
    """SQL turning a trimmed, non-empty VARCHAR expression into TIMESTAMPTZ (null when it does not parse).

    Values with `Z` or an offset keep their instant; values without one are read in the session time zone,
    which `validate_landing_rows` sets to the contract's `naive_timezone`.
    """
    german = [f"try_strptime({value}, {sql_literal(f)})::TIMESTAMPTZ" for f in NAIVE_TIMESTAMP_FORMATS]
    return f"coalesce(TRY_CAST({value} AS TIMESTAMPTZ), {', '.join(german)})"


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
        return f"coalesce(TRY_CAST({value} AS DATE), TRY_CAST(try_strptime({value}, '%d.%m.%Y') AS DATE))"
    if column.type == "timestamp":
        return timestamp_sql(value)
    return _messages_sql(raw)  # the JSON parser skips surrounding whitespace itself


def _reason_sql(contract: SourceContract) -> str:
    checks: list[tuple[str, str]] = [
        (f"NOT {has_content(quote_identifier(RAW_PREFIX + c.name))}", f"missing_required:{c.name}")
        for c in contract.columns
        if c.required
    ]
    checks += [(_invalid_sql(c), f"invalid_{c.type}:{c.name}") for c in contract.columns if c.type != "string"]
    checks += [
        (f"{quote_identifier(c.name)} NOT IN ({_in_list(c.allowed)})", f"not_allowed:{c.name}")
        for c in contract.columns
        if c.allowed
    ]
    for c in contract.columns:
        bounds = [f"{quote_identifier(c.name)} < {c.minimum}"] if c.minimum is not None else []
        bounds += [f"{quote_identifier(c.name)} > {c.maximum}"] if c.maximum is not None else []
        if bounds:
            checks.append((" OR ".join(bounds), f"out_of_range:{c.name}"))
    # A rule that evaluates to null (a value it needs is missing) does not reject the row.
    checks += [(f"NOT ({rule.sql})", f"rule:{rule.reason}") for rule in contract.rules]
    return "CASE " + " ".join(f"WHEN {condition} THEN {sql_literal(reason)}" for condition, reason in checks) + " END"


def validate_landing_rows(con: duckdb.DuckDBPyConnection, contract: SourceContract) -> None:
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
                SELECT _source_line, {typed_names}, {_reason_sql(contract)} AS reason FROM typed"""
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
