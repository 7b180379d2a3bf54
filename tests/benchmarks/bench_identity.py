"""Identity resolution against the demo truth: pairwise precision and recall of "same person".

Reads the warehouse and `identities.parquet` of the demo truth folder that `make run` produced (settings paths),
so run it after `make run`. Targets on the default demo: precision >= 0.99, recall >= 0.95.
"""

from dagster_project.identity_quality import measure_warehouse_against_truth
from dagster_project.settings import get_settings

TARGET_PRECISION = 0.99
TARGET_RECALL = 0.95


def run() -> dict[str, float]:
    settings = get_settings()
    truth = settings.demo_truth_dir / "identities.parquet"
    if not (settings.warehouse_path.exists() and truth.exists()):
        raise FileNotFoundError(f"needs a built warehouse ({settings.warehouse_path}) and {truth}: run `make run` first")
    figures = measure_warehouse_against_truth(settings.warehouse_path, settings.demo_truth_dir).as_metadata()
    figures["identity_target_precision"] = TARGET_PRECISION
    figures["identity_target_recall"] = TARGET_RECALL
    return figures


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name}: {value}")
