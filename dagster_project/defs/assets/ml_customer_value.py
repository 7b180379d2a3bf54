"""`ml_customer_value` (group `ml`): expected purchases and value per customer over the next 12 months with
intervals (BG/NBD × Gamma-Gamma, `ml/customer_value.py`), and its model card from a time split. The fitted
parameters and the validation are kept in CX_MODELS_DIR (`ml/customer_value_store.py`): while younger than
CX_MODEL_MAX_AGE_DAYS a run only scores; the metadata and the model card say which model scored and why."""

from datetime import date, datetime, timezone

import dagster as dg

from cx_core.warehouse import drop_tables, read_frame, replace_table
from dagster_project.defs.assets.dbt import warehouse_table_key
from dagster_project.defs.assets.ml_customers import markdown_table
from dagster_project.defs.metadata import frame_metadata, skipped
from dagster_project.defs.resources import PipelineSettings, WarehouseResource, holds_warehouse_open
from ml.customer_value_store import fit_or_rescore
from ml.model_store import ModelStore

ORDERS_SQL = """
    SELECT customer_key, ordered_at, order_type, value_eur
    FROM fct_orders WHERE customer_key IS NOT NULL
"""


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "ml_customer_value", group_name="ml", deps=[warehouse_table_key("fct_orders")], kinds={"python", "duckdb"},
            description="Per customer with a purchase: probability alive, expected purchases and value over the "
                        "next 12 months with 80 % intervals (BG/NBD × Gamma-Gamma).",
        ),
        dg.AssetSpec(
            "ml_customer_value_model_card", group_name="ml", deps=[warehouse_table_key("fct_orders")], kinds={"python", "duckdb"},
            description="Time-split validation of the value model: predicted against actual purchases and value "
                        "in a holdout, by decile of predicted value; fitted parameters.",
        ),
    ],
    pool="duckdb",
)
@holds_warehouse_open
def ml_customer_value(context: dg.AssetExecutionContext, cx: PipelineSettings, warehouse: WarehouseResource):
    settings = cx.settings
    orders = read_frame(warehouse, ORDERS_SQL)
    if orders.is_empty():
        reason = "no orders with a known customer: customer value needs an order history"
        drop_tables(warehouse, ["ml_customer_value", "ml_customer_value_model_card"])
        context.log.warning(f"customer value skipped: {reason}")
        yield dg.MaterializeResult(asset_key="ml_customer_value", metadata=skipped(reason))
        yield dg.MaterializeResult(asset_key="ml_customer_value_model_card", metadata=skipped(reason))
        return
    as_of = date.fromisoformat(settings.as_of) if settings.as_of else orders["ordered_at"].max().date()
    run = fit_or_rescore(ModelStore(settings.models_dir), orders, as_of, settings.model_max_age_days,
                         now=datetime.now(timezone.utc))
    values, validation = run.values, run.validation
    replace_table(warehouse, "ml_customer_value", values)
    card = run.model_card()
    replace_table(warehouse, "ml_customer_value_model_card", card)
    context.log.info(f"customer value as of {as_of} for {values.height} customers: {run.scoring}")
    metrics = {name: dg.MetadataValue.float(round(value, 4)) for name, value in validation.metrics.items()}
    scoring = {"scoring": run.scoring, "model_trained_at": run.trained_at.isoformat(timespec="seconds")}
    yield dg.MaterializeResult(asset_key="ml_customer_value", metadata={
        **frame_metadata(values), **scoring,
        "as_of": as_of.isoformat(),
        "expected_value_12m_eur_total": dg.MetadataValue.float(round(float(values["expected_value_eur"].sum()), 2)),
        "preview": dg.MetadataValue.md(markdown_table(values.sort("expected_value_eur", descending=True).head(10).select(
            "customer_key", "probability_alive", "expected_purchases", "expected_value_eur", "value_low_eur", "value_high_eur"
        ), digits=2)),
    })
    yield dg.MaterializeResult(asset_key="ml_customer_value_model_card", metadata={
        **frame_metadata(card), **metrics, **scoring, "holdout_days": validation.holdout_days,
        "deciles": dg.MetadataValue.md(markdown_table(validation.deciles, digits=2)),
    })
