"""The reader fuzzing of tests/test_ingest_fuzz.py with a larger budget: random CSV, NDJSON and JSON exports,
checked for rows read = records = loaded + quarantined and loaded values equal to what the file says.
Prints examples run and seconds per format; fails only when an invariant breaks (a bug to fix, with its example).
"""

import time

from hypothesis import HealthCheck, given, settings

from tests.helpers.fuzz_exports import check_export, csv_exports, json_exports

EXAMPLES = 500


def run() -> dict[str, float]:
    figures: dict[str, float] = {}
    for name, strategy in (("csv", csv_exports()), ("ndjson", json_exports(as_array=False)),
                           ("json", json_exports(as_array=True))):
        budget = settings(max_examples=EXAMPLES, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
        started = time.perf_counter()
        budget(given(export=strategy)(check_export))()
        figures[f"fuzz_{name}_examples"] = EXAMPLES
        figures[f"fuzz_{name}_seconds"] = round(time.perf_counter() - started, 1)
    return figures


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name:>48}: {value:,}")
