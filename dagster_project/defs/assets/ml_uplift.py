"""Did the actions work? Conversion of contacted vs held-out customers (group `ml`).

`ml_nba_uplift`: the next best actions' own holdout groups (ml_nba_assignments). An assignment is measured
once its response window (RESPONSE_DAYS after the as-of date) lies inside the data: converted = a sale within
the window. `ml_campaign_uplift`: the marketing tools' campaigns with a control group in their exports
(fct_campaign_assignments), measured the same way once 14 days after the (planned) send lie inside the data.
Uplift per action × channel and per action, with Newcombe intervals; the held-out conversion is the organic
baseline of each action.
"""

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from cx_core.warehouse import read_frame, replace_table
from dagster_project.defs.assets.dbt import warehouse_table_key
from dagster_project.defs.assets.ml_customers import markdown_table, ml_next_best_actions
from dagster_project.defs.metadata import frame_metadata
from dagster_project.defs.resources import WarehouseResource, holds_warehouse_open
from ml.holdout import uplift
from ml.next_best_action import RESPONSE_DAYS

OUTCOMES_SQL = f"""
    WITH data_end AS (SELECT max(ordered_at) AS last_order FROM fct_orders),
    measurable AS (
        SELECT a.* FROM ml_nba_assignments AS a, data_end
        WHERE a.as_of_date + INTERVAL {RESPONSE_DAYS + 1} DAY <= data_end.last_order
    )
    SELECT m.action, m.channel, m.is_holdout,
           EXISTS (SELECT 1 FROM fct_orders AS o
                   WHERE o.customer_key = m.customer_key AND o.order_type = 'sale'
                     AND o.ordered_at >= m.as_of_date + INTERVAL 1 DAY
                     AND o.ordered_at < m.as_of_date + INTERVAL {RESPONSE_DAYS + 1} DAY) AS converted
    FROM measurable AS m
"""


# Only campaigns that keep a control group can be measured (bulk newsletters and promotions have none).
CAMPAIGN_OUTCOMES_SQL = f"""
    WITH data_end AS (SELECT max(ordered_at) AS last_order FROM fct_orders),
    with_control AS (SELECT DISTINCT campaign_type FROM fct_campaign_assignments WHERE is_holdout)
    SELECT a.campaign_type AS action, a.channel, a.is_holdout, a.converted_within_14d AS converted
    FROM fct_campaign_assignments AS a, data_end
    WHERE a.campaign_type IN (SELECT campaign_type FROM with_control)
      AND a.customer_key IS NOT NULL
      AND a.sent_at + INTERVAL {RESPONSE_DAYS} DAY <= data_end.last_order
"""


def uplift_by_action_and_channel(outcomes: pl.DataFrame) -> pl.DataFrame:
    """Uplift per action × channel and per action over every channel (channel 'all')."""
    return pl.concat([
        uplift(outcomes, ["action", "channel"]),
        uplift(outcomes, ["action"]).with_columns(pl.lit("all").alias("channel")),
    ], how="diagonal_relaxed")


def _uplift_metadata(table: pl.DataFrame, measured: int) -> dict:
    return {
        **frame_metadata(table),
        "measured_assignments": measured,
        "uplift": dg.MetadataValue.md(markdown_table(table.filter(pl.col("channel") == "all").select(
            "action", "contacted", "held_out", "uplift", "uplift_ci_low", "uplift_ci_high"))),
    }


@dg.asset(
    group_name="ml",
    pool="duckdb",
    deps=[ml_next_best_actions, warehouse_table_key("fct_orders")],
    kinds={"python", "duckdb"},
    description=f"Uplift of each next best action (and per channel): conversion within {RESPONSE_DAYS} days of "
                "the contacted minus the held-out customers, with a 95% interval, once the window has passed.",
)
@holds_warehouse_open
def ml_nba_uplift(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    return _measure_uplift(context, warehouse, OUTCOMES_SQL, "ml_nba_uplift")


@dg.asset(
    group_name="ml",
    pool="duckdb",
    deps=[warehouse_table_key("fct_campaign_assignments"), warehouse_table_key("fct_orders")],
    kinds={"python", "duckdb"},
    description=f"Uplift of each campaign with a control group in the marketing exports (action = its "
                f"campaign_type), per channel and overall: conversion within {RESPONSE_DAYS} days of the "
                "contacted minus the held-out customers, with a 95% interval, once the window has passed.",
)
@holds_warehouse_open
def ml_campaign_uplift(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    return _measure_uplift(context, warehouse, CAMPAIGN_OUTCOMES_SQL, "ml_campaign_uplift")


def _measure_uplift(context: dg.AssetExecutionContext, warehouse: DuckDBResource, outcomes_sql: str,
                    table_name: str) -> dg.MaterializeResult:
    """Uplift per action × channel of the measurable assignments that `outcomes_sql` returns, into `table_name`."""
    outcomes = read_frame(warehouse, outcomes_sql)
    table = uplift_by_action_and_channel(outcomes)
    replace_table(warehouse, table_name, table)
    context.log.info(f"{outcomes.height} measurable assignments for {table_name}")
    return dg.MaterializeResult(metadata=_uplift_metadata(table, outcomes.height))
