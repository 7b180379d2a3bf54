"""The table metadata of warehouse relations (dagster_project/defs/metadata.py): a table's columns and rows, a
view's columns only, since counting a view runs its whole query."""

import duckdb

from dagster_project.defs.metadata import warehouse_tables_metadata


def test_a_table_reports_its_rows_and_a_view_only_its_columns_all_in_one_pass():
    with duckdb.connect() as con:
        con.execute("CREATE TABLE orders AS SELECT range AS order_id, 'web' AS channel FROM range(3)")
        con.execute("CREATE VIEW web_orders AS SELECT order_id FROM orders WHERE channel = 'web'")
        con.execute("CREATE TABLE returns AS SELECT range AS order_id FROM range(5)")
        described = warehouse_tables_metadata(con, ["orders", "web_orders", "returns", "missing"])
    table, view = described["orders"], described["web_orders"]
    assert set(described) == {"orders", "web_orders", "returns"} and described["returns"]["dagster/row_count"] == 5
    assert table["dagster/row_count"] == 3
    assert [column.name for column in table["dagster/column_schema"].columns] == ["order_id", "channel"]
    assert "dagster/row_count" not in view
    assert [(column.name, column.type) for column in view["dagster/column_schema"].columns] == [("order_id", "BIGINT")]
