"""Read one landing file into an in-memory DuckDB connection as untyped (all-VARCHAR) rows.

The result is two tables on the given connection:
  `landing_rows`    one column per contract column (VARCHAR; null when the file lacks an optional column)
                    plus `_source_line` (BIGINT, 1-based data line for CSV, record number for NDJSON/JSON);
  `landing_rejects` rows that could not even be split into fields: `_source_line`, `_raw` (the text as found)
                    and `reason`: `malformed_row` for a CSV row whose field count differs from the header's,
                    `unterminated_quote` for a CSV row whose quote never closes and `after_unterminated_quote` for
                    every line that quote swallowed (so rows read = records a person counts), `invalid_json` for
                    JSON records.
Typing and validation happen afterwards in `validate.py`.

Encodings: UTF-8 (with or without BOM), UTF-16 with a BOM, and Windows-1252 (cp1252, the superset of Latin-1
that Excel writes, with €) are read; other files are transcoded to UTF-8 first. A file with NUL bytes is not
text; a file that is neither UTF-8 nor cp1252 fails with its name and the fix. File names are taken literally
(glob characters escaped for DuckDB).

CSV line numbers follow DuckDB's reader: the header is line 1, a quoted field that spans lines still counts
as one line, blank lines count. `_source_line` is that number minus one (the header), plus the lines an
unterminated quote swallowed before it. NDJSON records carry their physical line number (blank lines are
skipped but counted), JSON array records their 1-based position. Known limit: blank lines are found by
counting quotes, so after a stray quote that a later line closes, the numbers of the rows after the next blank
line are one lower per blank line (rows read and reasons stay right).
"""

from __future__ import annotations

import codecs
import csv
import re
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
# DuckDB reads an empty field as NULL by default and then accepts a row with one surplus empty trailing field;
# with an impossible null string every field is kept and a surplus field makes the row "TOO MANY COLUMNS".
NO_NULL_STRING = "\x1e\x1d"
GLOB_CHARACTERS = re.compile(r"([*?\[])")
# Decoders tried in order; cp1252 decodes every Latin-1 text except the C1 control bytes nobody exports.
TEXT_ENCODINGS = ("utf-8", "cp1252")
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


class ContractError(Exception):
    """A whole landing file does not match its source contract; the message says which file, what and the fix."""


@dataclass(frozen=True)
class LandingRead:
    rows_read: int
    encoding: str
    unknown_columns: tuple[str, ...]
    missing_optional_columns: tuple[str, ...]


def sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def path_literal(path: Path) -> str:
    """A file path as a DuckDB string literal that matches only that file (`*`, `?`, `[` are glob characters)."""
    return sql_literal(GLOB_CHARACTERS.sub(r"[\1]", str(path)))


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def file_label(contract: SourceContract, path: Path) -> str:
    return f"{contract.name}/{path.name}"


def read_landing_file(con: duckdb.DuckDBPyConnection, path: Path, contract: SourceContract) -> LandingRead:
    """Create `landing_rows` and `landing_rejects` on `con` from one landing file (see the module docstring)."""
    label = file_label(contract, path)
    encoding = detect_encoding(path, label, contract.format)
    if encoding == "utf-8":  # most files: no temporary folder to make and remove (a few ms each, issue 19)
        return _read_utf8_file(con, path, contract, label, encoding)
    with tempfile.TemporaryDirectory(prefix="cx-ingest-") as tmp:
        # DuckDB reads the UTF-8 text; the temporary copy keeps the landing name, so errors still name it.
        return _read_utf8_file(con, _transcode_to_utf8(path, encoding, Path(tmp)), contract, label, encoding)


def _read_utf8_file(con: duckdb.DuckDBPyConnection, text_path: Path, contract: SourceContract, label: str,
                    encoding: str) -> LandingRead:
    if contract.format == "csv":
        return _read_csv(con, text_path, contract, label, encoding)
    if contract.format == "ndjson":
        _scan_lines(con, text_path, columns=1, delimiter=NEVER_IN_JSON, quote="", header=False,
                    blank_lines=[], reason="invalid_json", strict_field_count=False)
        # Blank lines are no records (a one-column scan returns them as null). ltrim, not trim: the same test,
        # but trim walks the whole line and made this view 15 times slower (profiled, issue 19).
        con.execute(
            "CREATE OR REPLACE VIEW json_records AS SELECT _source_line, "
            "CASE WHEN _source_line = 1 THEN ltrim(c0, chr(65279)) ELSE c0 END AS record FROM scanned WHERE ltrim(c0) <> ''"
        )
    else:
        _json_array_records(con, text_path, label)
    return _read_json_records(con, contract, label, encoding)


def detect_encoding(path: Path, label: str, file_format: str) -> str:
    """The first of UTF-16 (by its BOM), UTF-8 and cp1252 that decodes the whole file, in one streaming pass.

    Raises ContractError for binary content (NUL bytes outside UTF-16) and for text no decoder accepts.
    """
    with path.open("rb") as handle:
        first = handle.read(CHUNK_BYTES)
        candidates = ["utf-16"] if first.startswith(UTF16_BOMS) else list(TEXT_ENCODINGS)
        decoders = {name: codecs.getincrementaldecoder(name)() for name in candidates}
        failures: dict[str, UnicodeDecodeError] = {}
        offset, chunk = 0, first
        while chunk:
            nul = chunk.find(b"\0") if candidates != ["utf-16"] else -1
            if nul >= 0:
                raise ContractError(
                    f"{label}: not a text {file_format.upper()} file (binary data: a NUL byte at offset {offset + nul}). "
                    f"Export the data as {file_format.upper()} text, UTF-8 encoded."
                )
            _feed(decoders, failures, chunk, final=False)
            offset += len(chunk)
            chunk = handle.read(CHUNK_BYTES)
        _feed(decoders, failures, b"", final=True)
    for name in candidates:
        if name not in failures:
            return name
    error = failures[candidates[-1]]
    raise ContractError(
        f"{label}: the file is neither UTF-8 nor Windows-1252 (cp1252/Latin-1) text (byte 0x{error.object[error.start]:02x} "
        f"cannot be decoded). Save the export as UTF-8 (in Excel: \"CSV UTF-8\") and land it again."
    )


def _feed(decoders: dict, failures: dict, chunk: bytes, *, final: bool) -> None:
    """Decode `chunk` with every decoder that has not failed yet; remember the first error of each."""
    for name, decoder in decoders.items():
        if name not in failures:
            try:
                decoder.decode(chunk, final=final)
            except UnicodeDecodeError as error:
                failures[name] = error


def _has_blank_line(path: Path) -> bool:
    """Does the (UTF-8) file contain an empty line? One streaming byte pass."""
    tail = b""
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            window = tail + chunk
            if b"\n\n" in window or b"\n\r\n" in window:
                return True
            tail = window[-2:]
    return False


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


def _read_header(path: Path, label: str) -> tuple[str, list[str]]:
    with path.open("r", encoding="utf-8", newline="") as handle:
        first_line = handle.readline().removeprefix(UTF8_BOM).rstrip("\r\n")
    if not first_line.strip():
        raise ContractError(f"{label}: the file is empty or its first line is blank; a CSV export needs a header line.")
    delimiter = max(CANDIDATE_DELIMITERS, key=first_line.count)
    names = [name.strip() for name in next(csv.reader([first_line], delimiter=delimiter))]
    return delimiter, names


def _read_csv(con: duckdb.DuckDBPyConnection, path: Path, contract: SourceContract, label: str, encoding: str) -> LandingRead:
    delimiter, header = _read_header(path, label)
    mapping, unknown, missing = _match_columns(header, contract, label, "header")
    blank_lines = _blank_data_lines(path) if _has_blank_line(path) else []
    _scan_lines(con, path, columns=len(header), delimiter=delimiter, quote='"', header=True,
                blank_lines=blank_lines, reason="malformed_row", strict_field_count=True)
    positional = {name: f"c{i}" for i, name in enumerate(header)}
    selected = ", ".join(
        f"{positional[mapping[c]]} AS {quote_identifier(c)}" if c in mapping else f"NULL::VARCHAR AS {quote_identifier(c)}"
        for c in contract.column_names
    )
    con.execute(f"CREATE OR REPLACE TABLE landing_rows AS SELECT {selected}, _source_line FROM scanned")
    return _summary(con, encoding, unknown, missing)


def _scan_lines(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    columns: int,
    delimiter: str,
    quote: str,
    header: bool,
    blank_lines: list[int],
    reason: str,
    strict_field_count: bool,
) -> None:
    """Split a line-based file with DuckDB's CSV reader into the view `scanned` (c0..cN, `_source_line`).

    Lines that do not split into `columns` fields go to `landing_rejects` with `reason`. DuckDB numbers lines
    (header = line 1) but returns good rows without their number, in file order: the k-th good row sits on
    the k-th data line that is neither rejected nor one of the `blank_lines` DuckDB skipped. A quote that never
    closes makes DuckDB reject everything up to the next quote as one line: that rejected text is split back
    into its lines, and every later line number moves down by the lines it held. With `strict_field_count`
    a row with a surplus empty trailing field is rejected too (DuckDB's default null string lets it pass).
    """
    null_string = f", nullstr = {sql_literal(NO_NULL_STRING)}" if strict_field_count else ""
    # DuckDB appends each scan's rejects to these tables: drop an earlier file's on a connection that reads several.
    con.execute("DROP TABLE IF EXISTS reject_errors")
    con.execute("DROP TABLE IF EXISTS reject_scans")
    fields = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(columns)) + "}"
    con.execute(
        f"""CREATE OR REPLACE TABLE raw_fields AS SELECT * FROM read_csv({path_literal(path)},
            header = {str(header).lower()}, auto_detect = false, columns = {fields}, delim = {sql_literal(delimiter)},
            quote = {sql_literal(quote)}, escape = {sql_literal(quote)}{null_string},
            max_line_size = {MAX_LINE_BYTES}, store_rejects = true, rejects_table = 'reject_errors',
            rejects_scan = 'reject_scans')"""
    )
    if not blank_lines and not con.execute("SELECT count(*) FROM reject_errors").fetchone()[0]:
        # A clean file (most are): no rejects to number, and the k-th row is on the k-th data line. Numbering the
        # lines by a join (below) costs a third of a clean file's read time, the reject tables about 10 ms a file
        # (profiled, issue 19).
        con.execute("CREATE OR REPLACE TABLE landing_rejects (_source_line BIGINT, _raw VARCHAR, reason VARCHAR)")
        con.execute("CREATE OR REPLACE VIEW scanned AS SELECT *, rowid + 1 AS _source_line FROM raw_fields")
        return
    header_lines = 1 if header else 0
    # DuckDB lists one error per problem; a line is rejected once. `swallowed` = the extra lines of its text.
    con.execute(
        f"""CREATE OR REPLACE TABLE duckdb_rejects AS
            SELECT (line - {header_lines})::BIGINT AS n, ltrim(min(csv_line), E'\\r\\n') AS raw,
                   bool_or(error_type = 'UNQUOTED VALUE') AS unterminated,
                   CASE WHEN unterminated THEN string_split(rtrim(raw, E'\\r\\n'), E'\\n') ELSE [raw] END AS lines,
                   len(lines) - 1 AS swallowed
            FROM reject_errors GROUP BY line"""
    )
    con.execute(
        """CREATE OR REPLACE TABLE line_shifts AS
           SELECT n, (sum(swallowed) OVER (ORDER BY n))::BIGINT AS shift FROM duckdb_rejects WHERE swallowed > 0"""
    )
    # A line's number in the file = DuckDB's number + the lines swallowed by unterminated quotes before it.
    con.execute(
        f"""CREATE OR REPLACE TABLE landing_rejects AS
            WITH numbered AS (
                SELECT n + coalesce((SELECT max(shift) FROM line_shifts s WHERE s.n < r.n), 0) AS first_line,
                       unterminated, unnest(lines) AS line, generate_subscripts(lines, 1) - 1 AS line_offset
                FROM duckdb_rejects r
            )
            SELECT (first_line + line_offset)::BIGINT AS _source_line, rtrim(line, E'\\r') AS _raw,
                   CASE WHEN NOT unterminated THEN {sql_literal(reason)}
                        WHEN line_offset = 0 THEN 'unterminated_quote' ELSE 'after_unterminated_quote' END AS reason
            FROM numbered WHERE line_offset = 0 OR trim(line, E' \\t\\r') <> ''"""
    )
    con.execute("CREATE OR REPLACE TEMP TABLE blank_lines (n BIGINT)")
    if blank_lines:
        con.executemany("INSERT INTO blank_lines VALUES (?)", [(n,) for n in blank_lines])
    con.execute(
        """CREATE OR REPLACE VIEW scanned AS
           WITH skipped AS (
               SELECT n FROM duckdb_rejects UNION SELECT n FROM blank_lines
           ), good_lines AS (
               SELECT n, row_number() OVER (ORDER BY n) - 1 AS good_index
               FROM range(1, (SELECT count(*) FROM raw_fields) + (SELECT count(*) FROM skipped) + 1) AS r(n)
               WHERE n NOT IN (SELECT n FROM skipped)
           ), shifted AS (
               SELECT good_lines.good_index, (good_lines.n + coalesce(line_shifts.shift, 0))::BIGINT AS n
               FROM good_lines ASOF LEFT JOIN line_shifts ON good_lines.n > line_shifts.n
           )
           SELECT raw_fields.*, shifted.n AS _source_line
           FROM raw_fields JOIN shifted ON raw_fields.rowid = shifted.good_index
           ORDER BY _source_line"""
    )


def _blank_data_lines(path: Path) -> list[int]:
    """Data line numbers (DuckDB's numbering minus the header) of blank lines outside quoted fields.

    Runs only for files that contain an empty line at all; counting quotes tells whether a line break is
    inside a quoted field (then it does not start a new line in DuckDB's numbering).
    """
    blank, line_number, inside_quotes = [], 0, False
    with path.open("r", encoding="utf-8", newline="") as handle:
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
            f"FROM read_json_objects({path_literal(utf8_path)}, format = 'array')"
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
    # The records of an export share a few key lists: group them first (as JSON text, which groups twice as fast
    # as a list) and unnest only those, not every record's keys (profiled, issue 19).
    found = [row[0] for row in con.execute(
        "SELECT key FROM (SELECT first_line, unnest(keys) AS key, generate_subscripts(keys, 1) AS position "
        "FROM (SELECT key_list::VARCHAR[] AS keys, first_line FROM (SELECT json_keys(record)::JSON AS key_list, "
        "min(_source_line) AS first_line FROM json_objects GROUP BY key_list))) "
        "GROUP BY key ORDER BY min({'line': first_line, 'position': position})"
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
