"""Erase a person from the `spark` target's Parquet tables: its marts under `<CX_SPARK_DIR>/warehouse` and the ML
tables under `<CX_SPARK_DIR>/ml` (cx_core/spark_catalog.py). On that target the DuckDB warehouse holds only views
over these files, so deleting rows there cannot reach them.

A table folder with a row that names the person (cx_core/privacy/erased_values.py) is rewritten as one Parquet file
without those rows: written under a name Spark and DuckDB skip (a leading dot), then the old part files and their
checksum files are deleted and the new file takes a part file's name. DuckDB reads and writes the columns with the
types the files had, so Spark's table definition still fits. A folder without such a row is left as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from uuid import uuid4

import duckdb

from cx_core.privacy.erased_values import erased_row_condition, load_erased_values
from cx_core.spark_catalog import ml_table_folders, spark_table_folders
from cx_core.sources.reader import sql_literal


def spark_folders(spark_dir: Path) -> dict[str, Path]:
    """Every Parquet table folder of the `spark` target, by its path under `spark_dir`."""
    folders = {**spark_table_folders(spark_dir), **ml_table_folders(spark_dir)}
    return {folder.relative_to(spark_dir).as_posix(): folder for folder in folders.values()}


def erase_from_parquet_folders(folders: Mapping[str, Path], values: set[str]) -> dict[str, int]:
    """Remove every row that names one of `values` from the Parquet files of `folders`; rows removed by folder."""
    if not folders or not values:
        return {}
    removed = {}
    with duckdb.connect() as con:
        load_erased_values(con, values)
        for name, folder in folders.items():
            files = sorted(folder.glob("*.parquet"))
            source = f"read_parquet([{', '.join(sql_literal(str(path)) for path in files)}])"
            text_columns = [column for column, kind, *_ in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
                            if kind == "VARCHAR"]
            if not text_columns:
                continue
            condition = erased_row_condition(text_columns)
            count = con.execute(f"SELECT count(*) FROM {source} WHERE {condition}").fetchone()[0]
            if count:
                _rewrite_without(con, folder, files, source, condition)
                removed[name] = count
    return removed


def _rewrite_without(con: duckdb.DuckDBPyConnection, folder: Path, files: list[Path], source: str,
                     condition: str) -> None:
    written = folder / f".part-00000-erased-{uuid4().hex}.parquet"
    # a NULL text column makes the condition NULL, not true: such a row stays
    con.execute(f"COPY (SELECT * FROM {source} WHERE NOT coalesce({condition}, false)) "
                f"TO {sql_literal(str(written))} (FORMAT parquet)")
    for path in files:
        path.unlink()
        (folder / f".{path.name}.crc").unlink(missing_ok=True)  # Hadoop's checksum of the old part file
    written.rename(folder / written.name.removeprefix("."))
