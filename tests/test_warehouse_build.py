"""A dbt build's own file (cx_core/warehouse_build.py): the build reads the warehouse through proxy views or is a
copy of its file without the relations dbt rebuilds, the warehouse stays byte for byte as it was while the build
runs, and publishing moves the rebuilt relations in along either way: the few rebuilt ones copied into the
warehouse, or the build with the kept ones renamed over it.
Plain DuckDB stands in for dbt here; tests/test_killed_run.py and the dbt tests run the real thing."""

import duckdb
import pytest

from cx_core.warehouse_build import LIVE_ALIAS, Relation, build_path, copies_the_file, publish_build, start_build


RELATION_KINDS = [("marts", "BASE TABLE"), ("marts_count", "VIEW"), ("seeds", "BASE TABLE"), ("seeds_times_ten", "VIEW")]


@pytest.fixture
def warehouse(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE marts AS SELECT range AS id FROM range(1000)")
        con.execute("CREATE TABLE seeds AS SELECT 1 AS x")
        con.execute("CREATE VIEW marts_count AS SELECT count(*) AS n FROM main.marts")
    return path


def rebuild(build, warehouse, *statements):
    """What dbt does: attach the warehouse as `live` (its on-run-start hook), then replace relations."""
    with duckdb.connect(str(build)) as con:
        con.execute(f"ATTACH '{warehouse}' AS {LIVE_ALIAS} (READ_ONLY)")
        for statement in statements:
            con.execute(statement)


def build_and_publish(warehouse, rebuilt, *statements):
    """(seeds.x, marts_count.n, seeds_times_ten.y) after a build that ran `statements` and was published."""
    build = start_build(warehouse, rebuilt=frozenset(rebuilt))
    rebuild(build, warehouse, *statements)
    publish_build(build, warehouse)
    assert not build.parent.exists()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        kinds = con.sql("SELECT table_name, table_type FROM information_schema.tables ORDER BY 1").fetchall()
        assert kinds == RELATION_KINDS
        return tuple(con.sql(f"SELECT * FROM {name}").fetchall()[0][0] for name in ("seeds", "marts_count", "seeds_times_ten"))


def test_the_build_reads_the_warehouse_through_proxies_and_leaves_it_untouched(warehouse):
    before = warehouse.read_bytes()
    build = start_build(warehouse, rebuilt=frozenset({"seeds"}))
    with duckdb.connect(str(build)) as con:
        con.execute(f"ATTACH '{warehouse}' AS {LIVE_ALIAS} (READ_ONLY)")
        # dbt names relations with the catalog, which is the warehouse's: the build file has its file name
        assert con.sql("SELECT n FROM warehouse.main.marts_count").fetchall() == [(1000,)]
        # no proxy where dbt rebuilds: it will not seed over a view
        assert con.sql("SELECT count(*) FROM information_schema.tables WHERE table_catalog = 'warehouse' "
                       "AND table_name = 'seeds'").fetchall() == [(0,)]
        con.execute("CREATE TABLE seeds AS SELECT 2 AS x")
    assert build == build_path(warehouse) and build.name == warehouse.name
    assert warehouse.read_bytes() == before


def test_a_small_rebuild_is_copied_into_the_warehouse(warehouse):
    assert build_and_publish(warehouse, {"seeds", "seeds_times_ten"}, "CREATE TABLE seeds AS SELECT 2 AS x",
                             "CREATE VIEW seeds_times_ten AS SELECT x * 10 AS y FROM warehouse.main.seeds") == (2, 1000, 20)


def test_a_large_rebuild_takes_the_kept_relations_and_replaces_the_warehouse(warehouse):
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE VIEW seeds_times_ten AS SELECT x * 10 AS y FROM main.seeds")
    # dbt was to rebuild the view seeds_times_ten too, but failed: the warehouse's version stays
    assert build_and_publish(warehouse, {"marts", "seeds_times_ten"},
                             "CREATE TABLE marts AS SELECT range AS id FROM range(2000)") == (1, 2000, 10)


@pytest.mark.parametrize("rebuilt, statements", [
    # many rows rebuilt: the kept seed is copied from the warehouse into the build, which replaces the warehouse
    ({"marts"}, ["CREATE TABLE marts AS SELECT range AS id FROM range(2000)"]),
    # few: the seed dbt loaded again (its post-hook writes the comment) is copied into the warehouse
    ({"seeds"}, ["CREATE TABLE seeds AS SELECT 1 AS x", "COMMENT ON TABLE seeds IS 'cx seed fingerprint'"]),
])
def test_a_tables_comment_survives_publishing_either_way(warehouse, rebuilt, statements):
    """A seed's fingerprint is its table's comment (cx_core/seed_fingerprints.py): lost on the way, the next daily
    refresh would load the seed again."""
    with duckdb.connect(str(warehouse)) as con:
        con.execute("COMMENT ON TABLE seeds IS 'cx seed fingerprint'")
    build = start_build(warehouse, rebuilt=frozenset(rebuilt))
    rebuild(build, warehouse, *statements)
    publish_build(build, warehouse)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.sql("SELECT comment FROM duckdb_tables() WHERE table_name = 'seeds'").fetchall() == \
            [("cx seed fingerprint",)]


def test_the_first_build_becomes_the_warehouse(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    build = start_build(warehouse)
    with duckdb.connect(str(build)) as con:
        con.execute("CREATE TABLE seeds AS SELECT 1 AS x")
    publish_build(build, warehouse)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.sql("SELECT x FROM seeds").fetchall() == [(1,)]


def test_a_build_left_by_a_killed_run_is_discarded(warehouse):
    leftover = build_path(warehouse)
    leftover.parent.mkdir()
    leftover.write_bytes(b"half written")
    build = start_build(warehouse)
    with duckdb.connect(str(build)) as con:
        assert con.sql("SELECT comment FROM duckdb_views() WHERE view_name = 'seeds'").fetchall() == [("cx build proxy",)]


def relation_kinds(build, *names):
    with duckdb.connect(str(build), read_only=True) as con:
        return [con.execute("SELECT table_type FROM information_schema.tables WHERE table_name = ?", [name]).fetchall()
                for name in names]


@pytest.mark.parametrize("kept_rows, way", [(0, "file copy"), (100_000, "proxies")])
def test_an_incremental_model_gets_a_copy_of_its_table_to_add_to(warehouse, kept_rows, way):
    """marts is incremental: with nothing else in the warehouse the proxy way would copy it in and out again, so
    the build copies the file; beside a large table dbt keeps, it copies marts alone into a build of proxies."""
    with duckdb.connect(str(warehouse)) as con:
        con.execute(f"CREATE TABLE kept AS SELECT range AS id FROM range({kept_rows})")
    build = start_build(warehouse, rebuilt=frozenset({"marts"}), incremental=frozenset({"marts"}))
    seeds_kind = [("BASE TABLE",)] if way == "file copy" else [("VIEW",)]
    assert relation_kinds(build, "marts", "seeds") == [[("BASE TABLE",)], seeds_kind]
    rebuild(build, warehouse, "INSERT INTO marts SELECT range FROM range(1000, 1500)")
    publish_build(build, warehouse)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.sql("SELECT n FROM marts_count").fetchall() == [(1500,)]
        assert con.sql("SELECT count(*) FROM kept").fetchall() == [(kept_rows,)]


def test_a_file_copy_leaves_out_what_dbt_rebuilds_and_keeps_what_it_failed_to_build(warehouse):
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE VIEW seeds_times_ten AS SELECT x * 10 AS y FROM main.seeds")
    before = warehouse.read_bytes()
    build = start_build(warehouse, rebuilt=frozenset({"marts", "seeds", "seeds_times_ten"}),
                        incremental=frozenset({"marts"}))
    # the copy holds what dbt keeps (marts_count, itself, not a proxy) and adds to (marts), not what it rebuilds
    assert relation_kinds(build, "marts", "marts_count", "seeds", "seeds_times_ten") == [
        [("BASE TABLE",)], [("VIEW",)], [], []]
    with duckdb.connect(str(build), read_only=True) as con:
        assert con.sql("SELECT comment FROM duckdb_views() WHERE view_name = 'marts_count'").fetchall() == [(None,)]
    # dbt adds to marts and rebuilds seeds, but fails on seeds_times_ten: the warehouse's version stays
    rebuild(build, warehouse, "INSERT INTO marts SELECT range FROM range(1000, 1200)", "CREATE TABLE seeds AS SELECT 3 AS x")
    assert warehouse.read_bytes() == before
    publish_build(build, warehouse)
    assert not build.parent.exists()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.sql("SELECT (SELECT n FROM marts_count), (SELECT y FROM seeds_times_ten)").fetchall() == [(1200, 30)]


def table(name, rows):
    return Relation("main", name, is_view=False, rows=rows, view_sql=None)


@pytest.mark.parametrize("file_bytes, copies", [(2_000, True), (2_001, False)])
def test_the_file_is_copied_when_the_proxies_would_copy_a_tenth_of_its_bytes(file_bytes, copies):
    """1,000 used bytes over 100 rows: the proxies would copy incremental (5 rows) in, then the smaller of the
    rebuilt (5 + 10 rows) and the kept (85 rows) out: 20 rows = 200 bytes, which a file copy beats ten times over
    up to 2,000 bytes of file."""
    live = [table("incremental", 5), table("rebuilt", 10), table("kept", 85),
            Relation("main", "view", is_view=True, rows=0, view_sql="SELECT 1")]
    assert copies_the_file(file_bytes, 1_000, live, frozenset({"incremental", "rebuilt", "view"}),
                           frozenset({"incremental"})) is copies
