"""Churn rescoring without retraining, on real materialisations of `ml_churn` over a tiny warehouse: the first run
trains and stores the model, the second rescores with it (same scores, the model file untouched), a model older
than CX_MODEL_MAX_AGE_DAYS or a new feature family retrains; the stored model holds no customer id. The next best
actions keep their organic purchase model the same way."""

import json
import os
from datetime import date, datetime, timedelta, timezone

import dagster as dg
import duckdb
import polars as pl
import pytest

from cx_core.warehouse import WarehouseFile, read_frame
from dagster_project.defs.assets.ml_customers import ORGANIC_MODEL
from ml.churn_rescoring import MODEL_NAME
from ml.model_store import ModelStore
from tests.helpers.settings_env import point_settings_at
from tests.test_ml_nba import write_tiny_warehouse

pytestmark = pytest.mark.slow  # materialises the churn asset four times (about a minute)

CUSTOMERS = 300
LONG_AGO = 1_000_000_000  # a file time in 2001: a rewrite of the file shows as a newer time


def materialise(with_actions: bool = False) -> dict[str, dict[str, object]]:
    """ml_churn (and ml_next_best_actions): the metadata of each asset."""
    from dagster_project.defs.assets.ml_customers import ml_churn, ml_next_best_actions
    from dagster_project.defs.resources import pipeline_resources

    result = dg.materialize([ml_churn, *([ml_next_best_actions] if with_actions else [])],
                            resources=pipeline_resources())
    assert result.success
    return {event.asset_key.to_user_string(): {name: value.value for name, value in event.materialization.metadata.items()}
            for event in result.get_asset_materialization_events()}


def materialise_churn() -> dict[str, object]:
    return materialise()["ml_churn_scores"]


def scores_and_card(warehouse) -> tuple[pl.DataFrame, pl.DataFrame]:
    file = WarehouseFile(warehouse)
    return (read_frame(file, "SELECT * FROM ml_churn_scores ORDER BY customer_key"),
            read_frame(file, "SELECT * FROM ml_churn_model_card"))


def add_surveys(warehouse) -> None:
    """NPS answers from early in the history: the surveys feature family becomes available."""
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("""
            CREATE TABLE fct_survey_responses AS
            SELECT 'C-' || lpad(i::VARCHAR, 4, '0') AS customer_key,
                   TIMESTAMP '2025-11-20 10:00:00' + to_days(i::INTEGER) AS responded_at,
                   'nps' AS survey_type, (i % 11)::INTEGER AS score
            FROM range(0, 300, 3) AS t(i)""")


def test_a_young_model_rescores_and_an_old_one_or_new_features_retrain(tmp_path, monkeypatch):
    warehouse = tmp_path / "warehouse.duckdb"
    write_tiny_warehouse(warehouse, customers=CUSTOMERS)
    settings = point_settings_at(monkeypatch, tmp_path, CX_WAREHOUSE=str(warehouse))
    store = ModelStore(settings.models_dir)
    today = datetime.now(timezone.utc).date().isoformat()

    first_run = materialise(with_actions=True)
    first = first_run["ml_churn_scores"]
    first_actions = read_frame(WarehouseFile(warehouse), "SELECT * FROM ml_next_best_actions ORDER BY customer_key")
    assert first["scoring"] == "retrained: no stored model"
    trained_scores, trained_card = scores_and_card(warehouse)
    stored = store.info(MODEL_NAME)
    assert stored.as_of == date.fromisoformat(first["as_of"]) and stored.parameters["feature_families"] == ["purchases"]
    assert stored.training_rows == first["evaluation_customers"] and "days_since_last_purchase" in stored.features

    # Erasure must find nothing in the model files: no customer id went into them.
    stored_bytes = store.model_path(MODEL_NAME).read_bytes() + store.info_path(MODEL_NAME).read_bytes()
    assert not [key for key in trained_scores["customer_key"] if key.encode() in stored_bytes]

    assert first_run["ml_next_best_actions"]["organic_model"] == "refitted: no stored model"

    for name in (MODEL_NAME, ORGANIC_MODEL):
        os.utime(store.model_path(name), (LONG_AGO, LONG_AGO))
    second_run = materialise(with_actions=True)
    second = second_run["ml_churn_scores"]
    assert second_run["ml_next_best_actions"]["organic_model"] == f"reused the BG/NBD model fitted on {today}"
    assert store.model_path(ORGANIC_MODEL).stat().st_mtime == LONG_AGO
    assert read_frame(WarehouseFile(warehouse), "SELECT * FROM ml_next_best_actions ORDER BY customer_key").equals(
        first_actions)
    assert second["scoring"] == f"rescored with the model trained on {today} (data as of {first['as_of']})"
    assert store.model_path(MODEL_NAME).stat().st_mtime == LONG_AGO  # not refitted, not rewritten
    rescored_scores, rescored_card = scores_and_card(warehouse)
    assert rescored_scores.equals(trained_scores)
    # The card repeats the training run's figures and says when the model was trained and that it was reused.
    card_rows = {(row["section"], row["metric"]): row for row in rescored_card.iter_rows(named=True)}
    assert round(card_rows[("quality", "roc_auc")]["value"], 4) == second["roc_auc"] == first["roc_auc"]
    assert card_rows[("setup", "trained_at")]["detail"].startswith(today)
    assert card_rows[("setup", "scoring")]["detail"] == second["scoring"]
    assert rescored_card.filter(pl.col("metric") != "scoring").equals(trained_card.filter(pl.col("metric") != "scoring"))

    description = json.loads(store.info_path(MODEL_NAME).read_text())
    eight_days_ago = datetime.now(timezone.utc) - timedelta(days=8)
    store.info_path(MODEL_NAME).write_text(json.dumps(description | {"trained_at": eight_days_ago.isoformat()}))
    third = materialise_churn()
    assert third["scoring"] == f"retrained: model older than 7 days (trained on {eight_days_ago.date().isoformat()})"
    assert store.model_path(MODEL_NAME).stat().st_mtime > LONG_AGO
    assert store.info(MODEL_NAME).trained_at > eight_days_ago

    add_surveys(warehouse)
    fourth = materialise_churn()
    assert fourth["scoring"] == ("retrained: changed since training: feature_families ['purchases'] -> "
                                 "['purchases', 'surveys']")
    assert store.info(MODEL_NAME).parameters["feature_families"] == ["purchases", "surveys"]
