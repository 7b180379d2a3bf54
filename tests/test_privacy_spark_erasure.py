"""Erasure on the `spark` target's Parquet tables (cx_core/privacy/spark_erasure.py), on folders laid out as Spark
writes them (part files, Hadoop checksum files, `_SUCCESS`). Spark reading a rewritten folder is in
tests/test_spark_parity.py."""

from datetime import datetime, timezone

import duckdb
import pyarrow.parquet as pq

from cx_core.privacy.spark_erasure import erase_from_parquet_folders, spark_folders

JOURNEYS = [
    # journey_id, customer_key, started_at, touchpoints
    ("C-1-J1", "C-1", "2024-03-01 10:00:00+00", 3),
    ("C-2-J1", "C-2", "2024-03-02 11:00:00+00", 1),
    ("C-10-J1", "C-10", "2024-03-03 12:00:00+00", 2),  # a key that merely starts like the erased one
    (None, None, "2024-03-04 13:00:00+00", 4),
]


def spark_like_table(folder, rows):
    """Two part files, each with its checksum file, and the job's `_SUCCESS` marker."""
    folder.mkdir(parents=True)
    with duckdb.connect() as con:
        con.execute("CREATE TABLE t (journey_id VARCHAR, customer_key VARCHAR, started_at TIMESTAMPTZ, touchpoints INTEGER)")
        con.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", rows)
        for part, half in enumerate(("touchpoints % 2 = 1", "touchpoints % 2 = 0")):
            name = f"part-0000{part}-abc.snappy.parquet"
            con.execute(f"COPY (SELECT * FROM t WHERE {half} ORDER BY started_at) TO '{folder / name}' (FORMAT parquet)")
            (folder / f".{name}.crc").write_bytes(b"crc")
    (folder / "_SUCCESS").write_bytes(b"")


def column_types(path):
    return [(field.name, str(field.type)) for field in pq.read_schema(path)]


def read_rows(folder):
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        return con.sql(f"SELECT * FROM read_parquet('{folder}/*.parquet') ORDER BY started_at").fetchall()


def test_rows_naming_the_person_leave_the_parquet_files_and_the_rest_stays_as_it_was(tmp_path):
    spark_dir = tmp_path / "spark"
    journeys = spark_dir / "warehouse" / "main.db" / "fct_journeys"
    spark_like_table(journeys, JOURNEYS)
    scores = spark_dir / "ml" / "ml_churn_scores"
    spark_like_table(scores, [("x", "C-2", "2024-03-05 10:00:00+00", 1)])
    folders = spark_folders(spark_dir)
    assert set(folders) == {"warehouse/main.db/fct_journeys", "ml/ml_churn_scores"}
    before_scores = sorted(path.name for path in scores.iterdir())
    types_before = column_types(next(journeys.glob("*.parquet")))

    removed = erase_from_parquet_folders(folders, {"C-1"})

    assert removed == {"warehouse/main.db/fct_journeys": 1}  # the customer's journey: its id derives from the key
    assert [row[0] for row in read_rows(journeys)] == ["C-2-J1", "C-10-J1", None]
    assert read_rows(journeys)[1][2] == datetime(2024, 3, 3, 12, tzinfo=timezone.utc)
    [rewritten] = journeys.glob("*.parquet")
    assert column_types(rewritten) == types_before
    assert sorted(path.name for path in journeys.iterdir()) == sorted(["_SUCCESS", rewritten.name])  # no stale .crc
    assert sorted(path.name for path in scores.iterdir()) == before_scores  # nothing of the person: not rewritten


def test_no_spark_folder_no_values_nothing_to_do(tmp_path):
    assert spark_folders(tmp_path / "spark") == {}
    journeys = tmp_path / "fct_journeys"
    spark_like_table(journeys, JOURNEYS)
    assert erase_from_parquet_folders({"fct_journeys": journeys}, set()) == {}
    assert len(read_rows(journeys)) == len(JOURNEYS)
