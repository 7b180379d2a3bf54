"""Property-based fuzzing of the landing readers (tests/helpers/fuzz_exports.py): random CSV, NDJSON and JSON
exports with quotes, delimiters, encodings, field counts, numbers and timestamps. Invariants: rows read =
records in the file = loaded + quarantined, and no loaded value differs from what the file says in its column.
A bounded budget keeps `make test` fast; `make bench` runs the same properties longer (bench_ingest_fuzz.py).
"""

from hypothesis import HealthCheck, given, settings

from tests.helpers.fuzz_exports import check_export, csv_exports, json_exports

BUDGET = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@BUDGET
@given(export=csv_exports())
def test_csv_exports_load_exactly_what_they_say(export):
    check_export(export)


@BUDGET
@given(export=json_exports(as_array=False))
def test_ndjson_exports_load_exactly_what_they_say(export):
    check_export(export)


@BUDGET
@given(export=json_exports(as_array=True))
def test_json_array_exports_load_exactly_what_they_say(export):
    check_export(export)
