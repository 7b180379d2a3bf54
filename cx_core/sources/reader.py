"""Read one landing file into an in-memory DuckDB connection as untyped (all-VARCHAR) rows.

The result is two tables on the given connection:
  `landing_rows`    one column per contract column (VARCHAR; null when the file lacks an optional column)
                    plus `_source_line` (BIGINT, 1-based data line for CSV, record number for NDJSON/JSON);
  `landing_rejects` rows that could not even be split into fields: `_source_line`, `_raw` (the text as found)
                    and `reason` (`malformed_row` for CSV, `invalid_json` for JSON records).
Typing and validation happen afterwards in `validate.py`.

CSV line numbers follow DuckDB's reader: the header is line 1, a quoted field that spans lines still counts
as one line, blank lines count. `_source_line` is that number minus one (the header). NDJSON records carry
their physical line number (blank lines are skipped but counted), JSON array records their 1-based position.
"""

from __future__ import annotations

import codecs
import csv
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb

from cx_core.sources.contracts import SourceContract

CANDIDATE_DELIMITERS = (",", ";", "\t", "|")
UTF8_BOM = "\ufeff"
CHUNK_BYTES = 1 << 20
MAX_LINE_BYTES = 64 << 20
NEVER_IN_JSON = "\x1f"  # a control character JSON text cannot contain unescaped: splits NDJSON into whole lines


class ContractError(Exception):
    """A whole landing file does not match its source contract; the message says which file, what and the fix."""


@dataclass(frozen=True)
class LandingRead:
    rows_read: int
    encoding: str
    unknown_columns: tuple[str, ...]
    missing_optional_columns: tuple[str, ...]


@dataclass(frozen=True)
class _ByteScan:
    encoding: str
    has_blank_line: bool


def sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def file_label(contract: SourceContract, path: Path) -> str:
    return f"{contract.name}/{path.name}"


def read_landing_file(con: duckdb.DuckDBPyConnection, path: Path, contract: SourceContract) -> LandingRead:
    """Create `landing_rows` and `landing_rejects` on `con` from one landing file (see the module docstring)."""
    scan = _scan_bytes(path)
    if contract.format == "csv":
        return _read_csv(con, path, contract, scan)
    if contract.format == "ndjson":
        _scan_lines(con, path, scan.encoding, columns=1, delimiter=NEVER_IN_JSON, quote="", header=False,
                    blank_lines=[], reason="invalid_json")
        # Blank lines are no records (a one-column scan returns them as null).
        con.execute(
            "CREATE OR REPLACE VIEW json_records AS SELECT _source_line, "
            "CASE WHEN _source_line = 1 THEN ltrim(c0, chr(65279)) ELSE c0 END AS record FROM scanned WHERE trim(c0) <> ''"
        )
    else:
        with tempfile.TemporaryDirectory(prefix="cx-ingest-") as tmp:
            utf8_path = path if scan.encoding == "utf-8" else _transcode_to_utf8(path, scan.encoding, Path(tmp))
            _json_array_records(con, utf8_path, file_label(contract, path))
    return _read_json_records(con, contract, file_label(contract, path), scan.encoding)


def _scan_bytes(path: Path) -> _ByteScan:
    """One streaming pass: is the file valid UTF-8 (else Latin-1), and does it contain an empty line?"""
    decoder = codecs.getincrementaldecoder("utf-8")()
    is_utf8, has_blank_line, tail = True, False, b""
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            window = tail + chunk
            has_blank_line = has_blank_line or b"\n\n" in window or b"\n\r\n" in window
            tail = window[-2:]
            if is_utf8:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    is_utf8 = False
    if is_utf8:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            is_utf8 = False
    return _ByteScan("utf-8" if is_utf8 else "latin-1", has_blank_line)


def _transcode_to_utf8(path: Path, encoding: str, folder: Path) -> Path:
    target = folder / path.name
    with path.open("r", encoding=encoding, newline="") as src, target.open("w", encoding="utf-8", newline="") as dst:
        while text := src.read(CHUNK_BYTES):
            dst.write(text)
    return target


def _match_columns(found: list[str], contract: SourceContract, label: str, found_kind: str) -> tuple[dict, tuple, tuple]:
    """Map contract columns to names found in the file (case and surrounding spaces ignored).

    Returns (contract column -> found name, unknown found names, missing optional contract columns) and raises
    ContractError when a required column is missing.
    """
    by_key: dict[str, str] = {}
    for name in found:
        by_key.setdefault(name.strip().lower(), name)
    mapping = {c: by_key[c.lower()] for c in contract.column_names if c.lower() in by_key}
    missing_required = [c for c in contract.required_columns if c not in mapping]
    if missing_required:
        shown = ", ".join(found[:12]) + (", ..." if len(found) > 12 else "") if found else "nothing"
        column = missing_required[0]
        raise ContractError(
            f"{label}: required column {column!r} is missing from the {found_kind} (found: {shown}). "
            f"Rename the column in the export or map it in the contract "
            f"(expected a {contract.format.upper()} file with columns {', '.join(contract.column_names)})."
        )
    known = {c.lower() for c in contract.column_names}
    unknown = tuple(name for name in found if name.strip().lower() not in known)
    missing_optional = tuple(c for c in contract.column_names if c not in mapping)
    return mapping, unknown, missing_optional


# ---------------------------------------------------------------------------------------------------------- CSV


def _read_header(path: Path, encoding: str, label: str) -> tuple[str, list[str]]:
    with path.open("r", encoding=encoding, newline="") as handle:
        first_line = handle.readline().removeprefix(UTF8_BOM).rstrip("\r\n")
    if not first_line.strip():
        raise ContractError(f"{label}: the file is empty or its first line is blank; a CSV export needs a header line.")
    delimiter = max(CANDIDATE_DELIMITERS, key=first_line.count)
    names = [name.strip() for name in next(csv.reader([first_line], delimiter=delimiter))]
    return delimiter, names


def _read_csv(con: duckdb.DuckDBPyConnection, path: Path, contract: SourceContract, scan: _ByteScan) -> LandingRead:
    label = file_label(contract, path)
    delimiter, header = _read_header(path, scan.encoding, label)
    mapping, unknown, missing = _match_columns(header, contract, label, "header")
    blank_lines = _blank_data_lines(path, scan.encoding) if scan.has_blank_line else []
    _scan_lines(con, path, scan.encoding, columns=len(header), delimiter=delimiter, quote='"', header=True,
                blank_lines=blank_lines, reason="malformed_row")
    positional = {name: f"c{i}" for i, name in enumerate(header)}
    selected = ", ".join(
        f"{positional[mapping[c]]} AS {quote_identifier(c)}" if c in mapping else f"NULL::VARCHAR AS {quote_identifier(c)}"
        for c in contract.column_names
    )
    con.execute(f"CREATE OR REPLACE TABLE landing_rows AS SELECT {selected}, _source_line FROM scanned")
    return _summary(con, scan.encoding, unknown, missing)


def _scan_lines(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    encoding: str,
    *,
    columns: int,
    delimiter: str,
    quote: str,
    header: bool,
    blank_lines: list[int],
    reason: str,
) -> None:
    """Split a line-based file with DuckDB's CSV reader into the view `scanned` (c0..cN, `_source_line`).

    Lines that do not split into `columns` fields go to `landing_rejects` with `reason`. DuckDB numbers lines
    (header = line 1) but returns good rows without their number, in file order: the k-th good row sits on
    the k-th data line that is neither rejected nor one of the `blank_lines` DuckDB skipped.
    """
    fields = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(columns)) + "}"
    con.execute(
        f"""CREATE OR REPLACE TABLE raw_fields AS SELECT * FROM read_csv({sql_literal(str(path))},
            header = {str(header).lower()}, auto_detect = false, columns = {fields}, delim = {sql_literal(delimiter)},
            quote = {sql_literal(quote)}, escape = {sql_literal(quote)}, encoding = {sql_literal(encoding)},
            max_line_size = {MAX_LINE_BYTES}, store_rejects = true, rejects_table = 'reject_errors',
            rejects_scan = 'reject_scans')"""
    )
    header_lines = 1 if header else 0
    # DuckDB lists one error per problem; a line is rejected once.
    con.execute(
        f"""CREATE OR REPLACE TABLE landing_rejects AS
            SELECT (line - {header_lines})::BIGINT AS _source_line, ltrim(min(csv_line), E'\\r\\n') AS _raw,
                   {sql_literal(reason)} AS reason
            FROM reject_errors GROUP BY line"""
    )
    con.execute("CREATE OR REPLACE TEMP TABLE blank_lines (n BIGINT)")
    if blank_lines:
        con.executemany("INSERT INTO blank_lines VALUES (?)", [(n,) for n in blank_lines])
    con.execute(
        """CREATE OR REPLACE VIEW scanned AS
           WITH skipped AS (
               SELECT _source_line AS n FROM landing_rejects UNION SELECT n FROM blank_lines
           ), good_lines AS (
               SELECT n, row_number() OVER (ORDER BY n) - 1 AS good_index
               FROM range(1, (SELECT count(*) FROM raw_fields) + (SELECT count(*) FROM skipped) + 1) AS r(n)
               WHERE n NOT IN (SELECT n FROM skipped)
           )
           SELECT raw_fields.*, good_lines.n AS _source_line
           FROM raw_fields JOIN good_lines ON raw_fields.rowid = good_lines.good_index
           ORDER BY _source_line"""
    )


def _blank_data_lines(path: Path, encoding: str) -> list[int]:
    """Data line numbers (DuckDB's numbering minus the header) of blank lines outside quoted fields.

    Runs only for files that contain an empty line at all; counting quotes tells whether a line break is
    inside a quoted field (then it does not start a new line in DuckDB's numbering).
    """
    blank, line_number, inside_quotes = [], 0, False
    with path.open("r", encoding=encoding, newline="") as handle:
        for physical_line in handle:
            if not inside_quotes:
                line_number += 1
                if line_number > 1 and not physical_line.strip("\r\n"):
                    blank.append(line_number - 1)
            inside_quotes ^= physical_line.count('"') % 2 == 1
    return blank


# --------------------------------------------------------------------------------------------------------- JSON


def _json_array_records(con: duckdb.DuckDBPyConnection, utf8_path: Path, label: str) -> None:
    """`json_records` (`_source_line` = position in the array, `record`) from a file holding one JSON array."""
    try:
        con.execute(
            "CREATE OR REPLACE TABLE json_records AS SELECT json::VARCHAR AS record "
            f"FROM read_json_objects({sql_literal(str(utf8_path))}, format = 'array')"
        )
    except duckdb.Error as error:
        raise ContractError(
            f"{label}: not a JSON array of objects ({str(error).splitlines()[0]}). "
            f"Export the records as one JSON array [{{...}}, {{...}}]."
        ) from error
    # The reader keeps the array's order, so the row position is the record number.
    con.execute("ALTER TABLE json_records ADD COLUMN _source_line BIGINT")
    con.execute("UPDATE json_records SET _source_line = rowid + 1")
    con.execute("CREATE OR REPLACE TABLE landing_rejects (_source_line BIGINT, _raw VARCHAR, reason VARCHAR)")


def _read_json_records(con: duckdb.DuckDBPyConnection, contract: SourceContract, label: str, encoding: str) -> LandingRead:
    """Split `json_records` into objects (fields extracted to `landing_rows`) and `invalid_json` rejects."""
    # A valid JSON text that starts with "{" is an object; checking the first character saves a parse.
    con.execute(
        """CREATE OR REPLACE TABLE json_objects AS
           SELECT _source_line, record, left(ltrim(record), 1) = '{' AND json_valid(record) AS is_object
           FROM json_records"""
    )
    con.execute(
        "INSERT INTO landing_rejects SELECT _source_line, record, 'invalid_json' FROM json_objects WHERE NOT is_object"
    )
    con.execute("DELETE FROM json_objects WHERE NOT is_object")
    found = [row[0] for row in con.execute(
        "SELECT key FROM (SELECT _source_line, unnest(keys) AS key, generate_subscripts(keys, 1) AS position "
        "FROM (SELECT _source_line, json_keys(record) AS keys FROM json_objects)) "
        "GROUP BY key ORDER BY min({'line': _source_line, 'position': position})"
    ).fetchall()]
    has_objects = con.execute("SELECT count(*) > 0 FROM json_objects").fetchall()[0][0]
    if has_objects:
        mapping, unknown, missing = _match_columns(found, contract, label, "records")
    else:  # nothing but invalid lines: every record is quarantined, there is no header to check
        mapping, unknown, missing = {}, (), tuple(contract.column_names)
    paths = ", ".join(sql_literal("$." + quote_identifier(mapping[c])) for c in mapping)
    fields = f"json_extract_string(record, [{paths}])" if mapping else "[]::VARCHAR[]"
    selected = ", ".join(
        f"fields[{list(mapping).index(c) + 1}] AS {quote_identifier(c)}" if c in mapping
        else f"NULL::VARCHAR AS {quote_identifier(c)}"
        for c in contract.column_names
    )
    con.execute(
        f"""CREATE OR REPLACE TABLE landing_rows AS
            SELECT {selected}, _source_line FROM (SELECT {fields} AS fields, _source_line FROM json_objects)"""
    )
    return _summary(con, encoding, unknown, missing)


def _summary(con: duckdb.DuckDBPyConnection, encoding: str, unknown: tuple, missing: tuple) -> LandingRead:
    rows_read = con.execute(
        "SELECT (SELECT count(*) FROM landing_rows) + (SELECT count(*) FROM landing_rejects)"
    ).fetchall()[0][0]
    return LandingRead(rows_read, encoding, unknown, missing)
