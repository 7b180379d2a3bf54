"""The copy of the warehouse file `cx run` makes while it starts (cx_core/warehouse_copy_ahead.py): a build takes it
only while the warehouse is as it was copied, and a run that copies ahead builds the same warehouse."""

from pathlib import Path

import duckdb

from cx_core.warehouse_build import publish_build, start_build
from cx_core.warehouse_copy_ahead import copy_warehouse, finish_copy_ahead, start_copy_ahead


def make_warehouse(path: Path, rows: int) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE OR REPLACE TABLE facts AS SELECT range AS id FROM range(?)", [rows])


def facts(path: Path) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute("SELECT count(*), sum(id) FROM facts").fetchall()


def leftovers(warehouse: Path) -> list[str]:
    return sorted(path.name for path in warehouse.parent.glob(f"{warehouse.name}.ahead*"))


def test_the_build_takes_the_copy_made_ahead(tmp_path):
    warehouse, target = tmp_path / "warehouse.duckdb", tmp_path / "build.duckdb"
    make_warehouse(warehouse, 1000)
    start_copy_ahead(warehouse)
    ahead = finish_copy_ahead(warehouse)
    assert ahead is not None and ahead.read_bytes() == warehouse.read_bytes()
    made_ahead = ahead.stat().st_ino
    copy_warehouse(warehouse, target)
    assert target.stat().st_ino == made_ahead  # moved into place, not copied again
    assert facts(target) == facts(warehouse) and leftovers(warehouse) == []


def test_a_warehouse_written_after_the_copy_is_copied_again(tmp_path):
    warehouse, target = tmp_path / "warehouse.duckdb", tmp_path / "build.duckdb"
    make_warehouse(warehouse, 1000)
    start_copy_ahead(warehouse)
    assert finish_copy_ahead(warehouse) is not None
    make_warehouse(warehouse, 2000)  # a writer (a run from the UI) after the copy
    assert finish_copy_ahead(warehouse) is None  # the old copy is deleted, not used
    copy_warehouse(warehouse, target)
    assert facts(target) == [(2000, sum(range(2000)))] and leftovers(warehouse) == []


def test_nothing_is_copied_ahead_of_a_warehouse_with_a_write_ahead_log(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    make_warehouse(warehouse, 10)
    (tmp_path / "warehouse.duckdb.wal").write_bytes(b"")  # a writer may be at work
    start_copy_ahead(warehouse)
    assert finish_copy_ahead(warehouse) is None and leftovers(warehouse) == []


def test_a_build_with_a_copy_ahead_publishes_the_same_warehouse_and_leaves_no_copy(tmp_path):
    """start_build copies the file when dbt rebuilds most of the warehouse (copies_the_file); after publishing no
    copy of the old warehouse is kept (it could never be used)."""
    warehouse = tmp_path / "warehouse.duckdb"
    make_warehouse(warehouse, 5000)
    start_copy_ahead(warehouse)
    made_ahead = finish_copy_ahead(warehouse).stat().st_ino
    build = start_build(warehouse, rebuilt=frozenset({"facts"}), incremental=frozenset({"facts"}))
    assert build.stat().st_ino == made_ahead
    with duckdb.connect(str(build)) as con:  # what dbt does: add to the incremental table
        con.execute("INSERT INTO facts SELECT range FROM range(5000, 5010)")
    publish_build(build, warehouse)
    assert facts(warehouse) == [(5010, sum(range(5010)))] and leftovers(warehouse) == []
