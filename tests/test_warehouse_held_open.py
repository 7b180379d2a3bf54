"""A Python step holds the warehouse open (issue 19): its many connections share one open database, which DuckDB
checkpoints once when the step ends, and the file is free again after the step, also after a failure."""

from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from cx_core.settings import Settings
from cx_core.warehouse import read_frame, replace_table
from cx_core.warehouse_copy_ahead import write_ahead_log
from dagster_project.defs.resources import WarehouseResource, holds_warehouse_open


def write_ahead_log_of(resource: WarehouseResource) -> Path:
    return write_ahead_log(Path(resource.database))


@pytest.fixture
def warehouse(tmp_path) -> WarehouseResource:
    return WarehouseResource(database=str(tmp_path / "warehouse.duckdb"))


def test_connections_in_a_held_block_share_one_database_checkpointed_when_it_ends(warehouse):
    frame = pl.DataFrame({"customer_key": ["C-1", "C-2"], "value": [1.0, 2.0]})
    with warehouse.held_open():
        replace_table(warehouse, "scores", frame)
        with warehouse.get_connection() as connection:
            connection.execute("SET GLOBAL threads = 1")
        # a new connection sees the setting: it is the same open database, not the file opened again
        assert read_frame(warehouse, "SELECT current_setting('threads') AS threads")["threads"][0] == 1
        # the write's connection closed without a checkpoint: its changes wait in the write-ahead log
        assert write_ahead_log_of(warehouse).exists()
    assert not write_ahead_log_of(warehouse).exists()
    with duckdb.connect(warehouse.database, read_only=True) as connection:
        assert connection.sql("SELECT * FROM scores ORDER BY customer_key").pl().equals(frame)


def test_without_a_held_block_each_connection_opens_the_file_and_checkpoints(warehouse):
    replace_table(warehouse, "scores", pl.DataFrame({"value": [1.0]}))
    assert not write_ahead_log_of(warehouse).exists()
    with warehouse.get_connection() as connection:
        connection.execute("SET GLOBAL threads = 1")
    assert read_frame(warehouse, "SELECT current_setting('threads') AS threads")["threads"][0] != 1


def held_assets():
    @dg.asset
    @holds_warehouse_open
    def written_twice(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        replace_table(warehouse, "first", pl.DataFrame({"value": [1]}))
        replace_table(warehouse, "second", pl.DataFrame({"value": [2]}))
        return dg.MaterializeResult(metadata={"held": write_ahead_log_of(warehouse).exists()})

    @dg.multi_asset(specs=[dg.AssetSpec("yielded_a"), dg.AssetSpec("yielded_b")])
    @holds_warehouse_open
    def yielded(warehouse: WarehouseResource):
        replace_table(warehouse, "third", pl.DataFrame({"value": [3]}))
        yield dg.MaterializeResult(asset_key="yielded_a", metadata={"held": write_ahead_log_of(warehouse).exists()})
        replace_table(warehouse, "fourth", pl.DataFrame({"value": [4]}))
        yield dg.MaterializeResult(asset_key="yielded_b", metadata={"held": write_ahead_log_of(warehouse).exists()})

    @dg.asset
    @holds_warehouse_open
    def fails(warehouse: WarehouseResource) -> None:
        replace_table(warehouse, "fifth", pl.DataFrame({"value": [5]}))
        raise RuntimeError("the step fails while it holds the warehouse")

    return written_twice, yielded, fails


def test_a_step_holds_the_warehouse_open_while_it_runs_and_frees_it_after(warehouse):
    written_twice, yielded, fails = held_assets()
    result = dg.materialize([written_twice, yielded], resources={"warehouse": warehouse})

    assert result.success
    held = {event.asset_key.path[-1]: event.materialization.metadata["held"].value
            for event in result.get_asset_materialization_events()}
    assert held == {"written_twice": True, "yielded_a": True, "yielded_b": True}
    assert not write_ahead_log_of(warehouse).exists()
    # another configuration can open the file only once no connection of this process is left
    with duckdb.connect(warehouse.database, read_only=True) as connection:
        both = connection.execute("SELECT count(*) FROM (SELECT * FROM first UNION ALL SELECT * FROM fourth)")
        assert both.fetchone() == (2,)

    failed = dg.materialize([fails], resources={"warehouse": warehouse}, raise_on_error=False)
    assert not failed.success
    with duckdb.connect(warehouse.database, read_only=True) as connection:
        assert connection.execute("SELECT value FROM fifth").fetchone() == (5,)


def test_the_spark_target_does_not_hold_the_warehouse_open(tmp_path):
    on = {"CX_DATA_DIR": str(tmp_path)}
    assert not WarehouseResource.of(Settings.from_env(on | {"CX_DBT_TARGET": "spark"})).steps_hold_open
    assert WarehouseResource.of(Settings.from_env(on | {"CX_DBT_TARGET": "duckdb"})).steps_hold_open
