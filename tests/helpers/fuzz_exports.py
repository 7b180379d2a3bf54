"""Random landing exports for property-based tests of the readers (hypothesis strategies and the property).

Every generated field is a pair (text written to the file, the value a person reads in it): the typed value,
or INVALID when the row must be quarantined. An export is a list of such records for `orders` (CSV: random
delimiter, encoding, quoting, field-count faults, an unterminated quote), `web_events` (NDJSON) or
`support_tickets` (a JSON array). `check_export` ingests one and checks the invariants:
  rows read = records in the file = rows loaded + rows quarantined;
  a record is loaded exactly when all its fields are valid, and then every loaded value is the value the file
  says in that column.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import tempfile
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
from hypothesis import assume
from hypothesis import strategies as st

from cx_core.settings import get_settings
from cx_core.sources.contracts import CONTRACTS
from cx_core.sources.ingest import IngestResult, ingest_source

INVALID = object()
BERLIN = ZoneInfo("Europe/Berlin")
# RE2's \s (DuckDB): a string of only these characters is blank, hence null.
BLANK = re.compile(r"^[\t\n\f\r ]*$")
NOW = datetime.now(timezone.utc).replace(microsecond=0)
# Inside the default plausible window (10 years back, 2 days ahead), with a margin for the time a test takes.
PLAUSIBLE = (NOW - timedelta(days=9 * 365), NOW + timedelta(days=1))
CSV_ENCODINGS = ("utf-8", "utf-8-sig", "cp1252", "utf-16")
DELIMITERS = (",", ";", "\t", "|")
ORDER_COLUMNS = ("order_id", "ordered_at", "customer_id", "channel", "order_type", "items", "value_eur",
                 "payment_method", "product_category")


@dataclass(frozen=True)
class Export:
    source: str
    name: str
    content: bytes
    records: int  # as a person counts them
    expected: dict[str, dict[str, object] | None]  # id -> column values, None when the record must be quarantined


def _text_alphabet(encoding: str) -> st.SearchStrategy[str]:
    codec = "cp1252" if encoding == "cp1252" else "utf-8"
    letters = st.characters(codec=codec, exclude_categories=("Cs", "Cc", "Cf", "Zl", "Zp"))
    return st.one_of(letters, st.sampled_from([",", ";", "|", "\t", '"', "'", " ", "\n", "€", "ä", "\\"]))


def free_text(encoding: str) -> st.SearchStrategy[tuple[str, object]]:
    return st.text(_text_alphabet(encoding), max_size=10).map(lambda s: (s, None if BLANK.match(s) else s))


def _number_text(value: float, decimal_comma: bool) -> str:
    text = repr(value)
    return text.replace(".", ",") if decimal_comma else text


def amounts(required: bool) -> st.SearchStrategy[tuple[str, object]]:
    good = st.builds(lambda v, comma: (_number_text(v, comma), float(_number_text(v, False))),
                     st.floats(min_value=0, max_value=1e9, allow_nan=False, allow_infinity=False), st.booleans())
    bad = st.sampled_from(["NaN", "nan", "Infinity", "-inf", "inf", "1e309", "-1e400", "zehn", "-5"])
    blank = st.sampled_from(["", " "]).map(lambda text: (text, INVALID if required else None))
    return st.one_of(good, blank, bad.map(lambda text: (text, INVALID)))


def counts() -> st.SearchStrategy[tuple[str, object]]:
    good = st.integers(min_value=0, max_value=10**12).map(lambda n: (str(n), n))
    return st.one_of(good, st.just(("", None)), st.sampled_from(["-1", "x", "1e400"]).map(lambda t: (t, INVALID)))


def _utc_to_text(instant: datetime, style: str, offset_minutes: int) -> tuple[str, object]:
    local = instant.astimezone(BERLIN)
    if style == "z":
        return instant.strftime("%Y-%m-%dT%H:%M:%SZ"), instant
    if style == "offset":
        shifted = instant + timedelta(minutes=offset_minutes)
        sign, minutes = ("+" if offset_minutes >= 0 else "-"), abs(offset_minutes)
        return shifted.strftime("%Y-%m-%dT%H:%M:%S") + f"{sign}{minutes // 60:02d}:{minutes % 60:02d}", instant
    naive = local.replace(tzinfo=None)
    # A wall time Berlin shows twice (clocks go back) is read as standard time, the second occurrence.
    meant = naive.replace(tzinfo=BERLIN, fold=1).astimezone(timezone.utc)
    if style == "naive":
        return naive.strftime("%Y-%m-%d %H:%M:%S"), meant
    if style == "german":
        return naive.strftime("%d.%m.%Y %H:%M:%S"), meant
    # a bare date is that calendar day: noon in Berlin
    noon = datetime.combine(local.date(), time(12), tzinfo=BERLIN).astimezone(timezone.utc)
    return local.strftime("%Y-%m-%d"), noon


def event_times() -> st.SearchStrategy[tuple[str, object]]:
    instants = st.datetimes(min_value=PLAUSIBLE[0].replace(tzinfo=None), max_value=PLAUSIBLE[1].replace(tzinfo=None))
    good = st.builds(
        lambda moment, style, offset: _utc_to_text(moment.replace(microsecond=0, tzinfo=timezone.utc), style, offset),
        instants,
        st.sampled_from(["z", "offset", "naive", "german", "date"]),
        st.integers(min_value=-12 * 4, max_value=14 * 4).map(lambda quarters: quarters * 15),
    )
    bad = st.sampled_from(["gestern", "1900-01-01T00:00:00Z", "2999-01-01", "2026-03-29 02:30:00", "31.02.2026", ""])
    return st.one_of(good, bad.map(lambda text: (text, INVALID)))


def _row_is_valid(values: dict[str, tuple[str, object]]) -> bool:
    return all(meaning is not INVALID for _, meaning in values.values())


def _meanings(values: dict[str, tuple[str, object]]) -> dict[str, object] | None:
    return {column: meaning for column, (_, meaning) in values.items()} if _row_is_valid(values) else None


@st.composite
def csv_exports(draw) -> Export:
    encoding = draw(st.sampled_from(CSV_ENCODINGS))
    delimiter = draw(st.sampled_from(DELIMITERS))
    text = free_text(encoding)
    rows = []
    for i in range(draw(st.integers(min_value=0, max_value=8))):
        values = {"order_id": (f"O{i}", f"O{i}"), "ordered_at": draw(event_times()), "customer_id": draw(text),
                  "channel": ("web", "web"), "order_type": ("sale", "sale"), "items": draw(counts()),
                  "value_eur": draw(amounts(required=True)), "payment_method": draw(text), "product_category": draw(text)}
        fault = draw(st.sampled_from([None] * 6 + ["surplus", "short"]))
        rows.append((values, fault))
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerow(ORDER_COLUMNS)
    expected = {}
    for values, fault in rows:
        fields = [values[c][0] for c in ORDER_COLUMNS]
        fields = fields + [""] if fault == "surplus" else fields[:-1] if fault == "short" else fields
        writer.writerow(fields)
        expected[values["order_id"][0]] = None if fault else _meanings(values)
    content, records = buffer.getvalue(), len(rows)
    if draw(st.booleans()):  # a last record whose quote never closes: each of its lines is a quarantined row
        broken = f'X{len(rows)}{delimiter}"never closed{delimiter}' + draw(text)[0].replace('"', "'")
        content += broken + "\n"
        records += 1 + sum(1 for line in broken.split("\n")[1:] if line.strip(" \t\r"))
    encoded = content.encode(encoding)
    if encoding == "cp1252":  # a cp1252 file that is also valid UTF-8 is read as UTF-8 (documented)
        assume(not _is_utf8(encoded))
    return Export("orders", "orders_export.csv", encoded, records, expected)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _json_token(text_and_meaning: tuple[str, object], as_number: bool) -> str:
    text, _ = text_and_meaning
    return text if as_number else json.dumps(text, ensure_ascii=False)


@st.composite
def json_exports(draw, as_array: bool) -> Export:
    text = free_text("utf-8")
    lines, expected = [], {}
    for i in range(draw(st.integers(min_value=0, max_value=8))):
        key = "ticket_id" if as_array else "event_id"
        time_column = "created_at" if as_array else "event_time"
        event_time, comment, amount = draw(event_times()), draw(text), draw(amounts(required=False))
        if as_array:
            body = {key: f"T{i}", time_column: event_time[0], "channel": "email", "email": "x@example.com",
                    "status": "open", "subject": comment[0]}
            values = {key: (f"T{i}", f"T{i}"), time_column: event_time, "subject": comment}
            record = json.dumps(body, ensure_ascii=False)
        else:
            number = draw(st.booleans()) and re.fullmatch(r"-?\d+(\.\d+)?(e-?\d+)?", amount[0]) is not None
            values = {key: (f"W{i}", f"W{i}"), time_column: event_time, "page_url": comment, "value_eur": amount}
            record = (f'{{"{key}": "W{i}", "{time_column}": {json.dumps(event_time[0])}, "anonymous_id": "a", '
                      f'"event_type": "purchase", "platform": "web", "page_url": {json.dumps(comment[0], ensure_ascii=False)}, '
                      f'"value_eur": {_json_token(amount, number)}}}')
        if draw(st.integers(min_value=0, max_value=9)) == 0:
            # NDJSON: a cut line is no JSON; an array element that is no object (a cut array fails as a whole)
            record = f'["{values[key][0]}"]' if as_array else record[:-1]
            values = {key: values[key], "json": ("", INVALID)}
        lines.append(record)
        expected[values[key][0]] = _meanings(values)
    content = ("[" + ",\n".join(lines) + "]") if as_array else "".join(line + "\n" for line in lines)
    source, name = ("support_tickets", "tickets.json") if as_array else ("web_events", "events.ndjson")
    return Export(source, name, content.encode("utf-8"), len(lines), expected)


def check_export(export: Export) -> None:
    """Ingest one export into a fresh data folder and check the invariants of the module docstring."""
    with tempfile.TemporaryDirectory(prefix="cx-fuzz-") as folder:
        data_dir = Path(folder)
        settings = replace(get_settings(), data_dir=data_dir, landing_dir=data_dir / "landing",
                           raw_dir=data_dir / "raw", quarantine_dir=data_dir / "quarantine")
        (settings.landing_dir / export.source).mkdir(parents=True)
        (settings.landing_dir / export.source / export.name).write_bytes(export.content)
        _check_loaded(export, data_dir, ingest_source(CONTRACTS[export.source], settings))


def _check_loaded(export: Export, data_dir: Path, result: IngestResult) -> None:
    [file] = result.files
    contract = CONTRACTS[export.source]

    assert file.rows_read == export.records == file.rows_loaded + file.rows_quarantined
    key = contract.primary_key[0]
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        relation = con.sql(f"SELECT * FROM read_parquet('{data_dir}/raw/{export.source}/**/*.parquet', "
                           "union_by_name = true, hive_partitioning = false)")
        loaded = {row[key]: row for row in (dict(zip(relation.columns, values)) for values in relation.fetchall())}
    should_load = {record_id: values for record_id, values in export.expected.items() if values is not None}
    assert set(loaded) == set(should_load)
    for record_id, values in should_load.items():
        for column, meaning in values.items():
            assert _same(loaded[record_id][column], meaning), (record_id, column, loaded[record_id][column], meaning)


def _same(loaded: object, meaning: object) -> bool:
    if isinstance(meaning, float):
        return isinstance(loaded, float) and math.isfinite(loaded) and loaded == meaning
    return loaded == meaning
