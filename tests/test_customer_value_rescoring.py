"""Customer value scored without refitting, on real materialisations of `ml_customer_value` over a tiny warehouse:
the first run fits and stores the parameters, the next runs score with them (the same table on the same data; on a
new day exactly what `customer_value` gives with the stored parameters), a model older than CX_MODEL_MAX_AGE_DAYS
or an as-of date (CX_AS_OF) before the model's refits; the stored model holds no customer id."""

import json
import os
from datetime import date, datetime, timedelta, timezone

import dagster as dg
import duckdb
import polars as pl
import pytest

from cx_core.warehouse import WarehouseFile, read_frame
from ml.bgnbd import BgNbdParams
from ml.customer_value import GammaGammaParams, ValueModel, customer_value
from ml.customer_value_store import MODEL_NAME
from ml.model_store import ModelStore
from tests.helpers.settings_env import point_settings_at
from tests.test_ml_nba import write_tiny_warehouse

pytestmark = pytest.mark.slow  # materialises the value asset five times (about 20 s)

LONG_AGO = 1_000_000_000  # a file time in 2001: a rewrite of the file shows as a newer time


def materialise() -> dict[str, dict[str, object]]:
    from dagster_project.defs.assets.ml_customer_value import ml_customer_value
    from dagster_project.defs.resources import pipeline_resources

    result = dg.materialize([ml_customer_value], resources=pipeline_resources())
    assert result.success
    return {event.asset_key.to_user_string(): {name: value.value for name, value in event.materialization.metadata.items()}
            for event in result.get_asset_materialization_events()}


def tables(warehouse) -> tuple[pl.DataFrame, pl.DataFrame]:
    file = WarehouseFile(warehouse)
    return (read_frame(file, "SELECT * FROM ml_customer_value ORDER BY customer_key"),
            read_frame(file, "SELECT * FROM ml_customer_value_model_card"))


def add_a_day_of_orders(warehouse) -> None:
    """Three customers buy on the day after the last order: the data's as-of date moves by one day."""
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("""
            INSERT INTO fct_orders (customer_key, ordered_at, order_type, value_eur, channel)
            SELECT customer_key, (SELECT max(ordered_at)::DATE + 1 FROM fct_orders) + INTERVAL 10 HOUR, 'sale', 40.0, 'web'
            FROM (VALUES ('C-0001'), ('C-0002'), ('C-9999')) AS t(customer_key)""")


def test_a_young_value_model_only_scores_and_an_old_one_or_an_earlier_as_of_refits(tmp_path, monkeypatch):
    warehouse = tmp_path / "warehouse.duckdb"
    write_tiny_warehouse(warehouse, customers=300)
    settings = point_settings_at(monkeypatch, tmp_path, CX_WAREHOUSE=str(warehouse))
    store = ModelStore(settings.models_dir)
    today = datetime.now(timezone.utc).date().isoformat()

    first = materialise()
    assert first["ml_customer_value"]["scoring"] == first["ml_customer_value_model_card"]["scoring"] == \
        "retrained: no stored model"
    fitted_values, fitted_card = tables(warehouse)
    stored = store.info(MODEL_NAME)
    assert stored.as_of == date.fromisoformat(first["ml_customer_value"]["as_of"])
    assert stored.training_rows == fitted_values.height
    # Erasure must find nothing in the model files: no customer id went into them.
    stored_bytes = store.model_path(MODEL_NAME).read_bytes() + store.info_path(MODEL_NAME).read_bytes()
    assert not [key for key in fitted_values["customer_key"] if key.encode() in stored_bytes]

    os.utime(store.model_path(MODEL_NAME), (LONG_AGO, LONG_AGO))
    second = materialise()
    rescored = f"rescored with the model trained on {today} (data as of {stored.as_of.isoformat()})"
    assert second["ml_customer_value"]["scoring"] == rescored
    assert store.model_path(MODEL_NAME).stat().st_mtime == LONG_AGO  # not refitted, not rewritten
    values, card = tables(warehouse)
    assert values.equals(fitted_values)  # the same data scored with the same parameters
    # The card repeats the fitting run's validation and says which model scored.
    assert card.filter(pl.col("metric") != "scoring").equals(fitted_card.filter(pl.col("metric") != "scoring"))
    assert card.filter(pl.col("metric") == "scoring")["detail"].to_list() == [rescored]
    assert second["ml_customer_value_model_card"]["value_correlation"] == first["ml_customer_value_model_card"]["value_correlation"]

    add_a_day_of_orders(warehouse)
    third = materialise()["ml_customer_value"]
    assert third["scoring"] == rescored and third["as_of"] == (stored.as_of + timedelta(days=1)).isoformat()
    orders = read_frame(WarehouseFile(warehouse), "SELECT customer_key, ordered_at, order_type, value_eur FROM fct_orders")
    parameters = store.load(MODEL_NAME).model  # fitted on the whole history (the card lists the time split's fit)
    with_stored_parameters = customer_value(orders, stored.as_of + timedelta(days=1), model=ValueModel(
        BgNbdParams(parameters.purchases.r, parameters.purchases.alpha, parameters.purchases.a, parameters.purchases.b),
        GammaGammaParams(parameters.spend.p, parameters.spend.q, parameters.spend.gamma)))
    new_values, _ = tables(warehouse)
    assert new_values.equals(with_stored_parameters.sort("customer_key"))
    assert "C-9999" in new_values["customer_key"]

    description = json.loads(store.info_path(MODEL_NAME).read_text())
    eight_days_ago = datetime.now(timezone.utc) - timedelta(days=8)
    store.info_path(MODEL_NAME).write_text(json.dumps(description | {"trained_at": eight_days_ago.isoformat()}))
    fourth = materialise()["ml_customer_value"]
    assert fourth["scoring"] == f"retrained: model older than 7 days (trained on {eight_days_ago.date().isoformat()})"
    assert store.model_path(MODEL_NAME).stat().st_mtime > LONG_AGO
    refitted_on = store.info(MODEL_NAME).as_of

    monkeypatch.setenv("CX_AS_OF", (refitted_on - timedelta(days=30)).isoformat())
    fifth = materialise()["ml_customer_value"]
    assert fifth["scoring"].startswith(f"retrained: the as-of date {refitted_on - timedelta(days=30)} is before "
                                       f"the model's {refitted_on}")
