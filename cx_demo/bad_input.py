"""Deliberate bad input in the first chunk, so every demo run exercises the quarantine and the odd formats.

Row-level faults are appended to already written part files and returned as truth rows (source, file, 1-based
data line as the ingest numbers it, kind, the reason the ingest should give). File-level quirks (a Latin-1
POS export with `;` and decimal commas, a UTF-8 BOM) load completely and are listed with `line` null; the late
event loads too (it is valid, only old) and is listed with `expected_reason` null.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from cx_demo.timing import DAY
from cx_demo.writers import format_times, utc_instants

POS_STORE = "S03"  # this store's till still exports its own file
LATE_EVENT_DAYS = 35


def _row(source: str, path: Path, line: int | None, kind: str, reason: str | None) -> dict:
    return {"source": source, "file": path.name, "line": line, "kind": kind, "expected_reason": reason}


def _header_and_last_record(path: Path) -> tuple[list[str], list[str]]:
    """The header and the last record of a demo CSV (its fields never contain line breaks)."""
    with path.open("rb") as handle:
        header = handle.readline().decode("utf-8-sig")
        handle.seek(max(handle.tell(), path.stat().st_size - 64_000))
        last = handle.read().decode("utf-8", errors="ignore").rstrip("\n").rsplit("\n", 1)[-1]
    return next(csv.reader([header])), next(csv.reader([last]))


def _append_csv_row(path: Path, fields: list[str]) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(fields)
    with path.open("a", encoding="utf-8", newline="") as handle:
        handle.write(buffer.getvalue())


def split_store_pos(orders: pl.DataFrame, rng: np.random.Generator, start: date) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Take one store's orders out of the main export into its POS file, with German timestamps."""
    is_pos = (pl.col("store_id") == POS_STORE).fill_null(False)
    pos = orders.filter(is_pos)
    pos = pos.with_columns(ordered_at=format_times(rng, utc_instants(pos["_t"], start), "german"))
    return orders.filter(~is_pos), pos


def split_daily_web(events: pl.DataFrame, last_day: int) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """The last day's web events go to a daily drop file, together with one page view from weeks earlier
    (a late event); returns (rest, daily file rows, 1-based line of the late event in the daily file)."""
    daily = pl.col("_t") // DAY >= last_day
    old = events.with_row_index("_i").filter((pl.col("_t") // DAY <= last_day - LATE_EVENT_DAYS) & (pl.col("event_type") == "page_view")).head(1)
    late_index = old["_i"].to_list()
    rest = events.with_row_index("_i").filter(~daily & ~pl.col("_i").is_in(late_index)).drop("_i")
    drop = pl.concat([events.filter(daily), old.drop("_i")])
    return rest, drop, drop.height


def add_row_faults(files: dict[str, Path], records: dict[str, int]) -> list[dict]:
    """Append a malformed call row, an e-mail event with an unparseable time, a survey score out of range
    and an exact duplicate web event to files holding `records` records (one line each); return truth rows."""
    calls = files["calls"]
    _, fields = _header_and_last_record(calls)
    _append_csv_row(calls, fields[:-3])
    faults = [_row("calls", calls, records["calls"] + 1, "malformed_row", "malformed_row")]

    emails = files["email_events"]
    _, fields = _header_and_last_record(emails)
    fields[0], fields[1] = fields[0] + "X", "31.02.2026 25:61"
    _append_csv_row(emails, fields)
    faults.append(_row("email_events", emails, records["email_events"] + 1, "unparseable_timestamp", "invalid_timestamp:event_time"))

    surveys = files["surveys"]
    header, last = _header_and_last_record(surveys)
    fields = dict(zip(header, last))
    fields.update(response_id=fields["response_id"] + "X", survey_type="csat", score="9")
    _append_csv_row(surveys, [fields[h] for h in header])
    faults.append(_row("surveys", surveys, records["surveys"] + 1, "score_out_of_range", "rule:score_out_of_range_for_survey_type"))

    web = files["web_events"]
    with web.open("rb") as handle:
        first_event = handle.readline()
    with web.open("ab") as handle:
        handle.write(first_event)
    faults.append(_row("web_events", web, records["web_events"] + 1, "duplicate_row", "duplicate_key"))
    return faults


def file_quirks(pos_file: Path, bom_file: Path, daily_file: Path, late_line: int) -> list[dict]:
    return [
        _row("orders", pos_file, None, "latin1_semicolon_decimal_comma", None),
        _row("crm_customers", bom_file, None, "utf8_bom", None),
        _row("web_events", daily_file, late_line, "late_event", None),
    ]
