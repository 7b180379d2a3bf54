"""dbt on Spark (local session) next to dbt on DuckDB, on the same raw Parquet: seconds for `dbt seed` + `dbt run`.

Reads the raw layer of the settings' data folder (`make bench` runs the default demo first). Spark's local
session pays for a JVM, a metastore and a task per file and partition: the ratio says what the switch costs on
one machine, which a cluster then earns back on data one machine cannot hold.
"""

import tempfile
import time
from pathlib import Path

from cx_core.settings import get_settings
from tests.helpers.dbt_engines import dbt_on


def build_seconds(target: str, raw_dir: Path, work: Path) -> float:
    started = time.perf_counter()
    for command in ("seed", "run"):
        dbt_on(target, raw_dir, work, command).check_returncode()
    return time.perf_counter() - started


def run() -> dict[str, float]:
    raw_dir = get_settings().raw_dir
    if not any(raw_dir.glob("*/load_date=*")):
        raise FileNotFoundError(f"needs ingested raw data in {raw_dir}: run `make run` first")
    with tempfile.TemporaryDirectory(prefix="cx-bench-spark-") as tmp:
        duckdb_seconds = build_seconds("duckdb", raw_dir, Path(tmp))
        spark_seconds = build_seconds("spark", raw_dir, Path(tmp))
    return {
        "dbt_duckdb_seconds": round(duckdb_seconds, 1),
        "dbt_spark_local_seconds": round(spark_seconds, 1),
        "spark_vs_duckdb": round(spark_seconds / duckdb_seconds, 2),
    }


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name:>40}: {value}")
