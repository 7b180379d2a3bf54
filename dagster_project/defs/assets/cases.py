"""The closed-loop cases' operational export (group `cases`): after dbt has built fct_cx_cases, the open cases
go to `<CX_EXPORTS_DIR>/cases_<date>.csv` with the customer's CRM id, for the CRM or help desk that works them;
their updates come back through `data/landing/case_updates/`. The file holds personal data (the CRM id) and is
never part of a report."""

import dagster as dg
import polars as pl

from cx_core.cases import OPEN_CASES_SQL, export_day, write_case_export
from cx_core.warehouse import read_frame
from dagster_project.defs.assets.dbt import warehouse_table_key
from dagster_project.defs.metadata import frame_metadata
from dagster_project.defs.resources import PipelineSettings, WarehouseResource, holds_warehouse_open

UNKNOWN_UPDATES_SQL = "SELECT case_id, status, updated_at FROM fct_cx_case_updates WHERE NOT is_known_case ORDER BY case_id"


def count_table(frame: pl.DataFrame, column: str) -> str:
    counts = frame.group_by(column).len().sort(["len", column], descending=[True, False])
    return "\n".join([f"| {column} | open cases |", "|---|---|",
                      *(f"| {value} | {count} |" for value, count in counts.rows())])


@dg.asset(
    group_name="cases",
    pool="duckdb",
    deps=[warehouse_table_key("fct_cx_cases"), warehouse_table_key("fct_cx_case_updates")],
    kinds={"python", "csv"},
    description="The open closed-loop cases as <CX_EXPORTS_DIR>/cases_<date>.csv for the CRM: case id, the "
                "customer's CRM id (personal data), type, reason, owner team, due time, overdue flag, recommended "
                "action and channel. Its metadata also names case updates whose case id is unknown.",
)
@holds_warehouse_open
def cases_export(context: dg.AssetExecutionContext, cx: PipelineSettings,
                 warehouse: WarehouseResource) -> dg.MaterializeResult:
    settings = cx.settings
    open_cases = read_frame(warehouse, OPEN_CASES_SQL)
    unknown_updates = read_frame(warehouse, UNKNOWN_UPDATES_SQL)
    path = write_case_export(open_cases, settings.exports_dir, export_day(settings.as_of, settings.timezone))
    if not unknown_updates.is_empty():
        context.log.warning(f"{unknown_updates.height} case update(s) name no known case: "
                            f"{', '.join(unknown_updates['case_id'].unique().sort().to_list())}")
    return dg.MaterializeResult(metadata={
        **frame_metadata(open_cases),
        "path": dg.MetadataValue.path(str(path)),
        "open_cases": open_cases.height,
        "overdue_cases": int(open_cases["is_overdue"].sum()),
        "by_owner_team": dg.MetadataValue.md(count_table(open_cases, "owner_team")),
        "unknown_case_updates": unknown_updates.height,
        "unknown_case_ids": dg.MetadataValue.json(unknown_updates["case_id"].unique().sort().to_list()),
    })


case_assets = [cases_export]
