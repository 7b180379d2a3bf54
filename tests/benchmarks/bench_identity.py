"""Identity resolution against the demo truth: pairwise precision and recall of "same person".

Reads the warehouse and `identities.parquet` of the demo truth folder that `make run` produced (settings paths),
so run it after `make run`. Targets on the default demo: precision >= 0.99, recall >= 0.95.
"""

import duckdb

from cx_core.identity_quality import measure_against_truth, truth_identities
from cx_core.settings import get_settings

TARGET_PRECISION = 0.99
TARGET_RECALL = 0.95


def run() -> dict[str, float]:
    settings = get_settings()
    truth = truth_identities(settings.demo_truth_dir)
    if not (settings.warehouse_path.exists() and truth.exists()):
        raise FileNotFoundError(f"needs a built warehouse ({settings.warehouse_path}) and {truth}: run `make run` first")
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as warehouse:
        figures = measure_against_truth(warehouse, settings.demo_truth_dir).as_metadata()
    figures["identity_target_precision"] = TARGET_PRECISION
    figures["identity_target_recall"] = TARGET_RECALL
    return figures


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name}: {value}")
