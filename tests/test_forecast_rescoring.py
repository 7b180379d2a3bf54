"""The contact forecast reuses its model choices between runs, on real materialisations of `ml_contact_forecast` over
the hand-made workforce warehouse: the first run backtests every candidate and stores the choices, the next refits
only the chosen models (the same tables on the same data; on a new day the backtest keeps its as-of date), a choice
older than CX_MODEL_MAX_AGE_DAYS or another CX_FORECAST_HORIZON_DAYS backtests again."""

import json
import os
from datetime import datetime, timedelta, timezone

import dagster as dg
import duckdb
import polars as pl
import pytest

from ml.forecast_store import ADHERENCE_CHOICES
from ml.forecast_store import FORECAST_CHOICES as MODEL_NAME
from ml.model_store import ModelStore
from tests.helpers.settings_env import point_settings_at
from tests.test_workforce_assets import LAST_DAY, write_warehouse

pytestmark = pytest.mark.slow  # five forecast materialisations, two of them with a backtest (about a minute)

LONG_AGO = 1_000_000_000  # a file time in 2001: a rewrite of the file shows as a newer time


def materialise() -> str:
    """ml_contact_forecast; the model_choice metadata (the same on its three tables)."""
    from dagster_project.defs.assets.ml_workforce import ml_contact_forecast
    from dagster_project.defs.resources import pipeline_resources

    result = dg.materialize([ml_contact_forecast], resources=pipeline_resources())
    assert result.success
    words = {event.materialization.metadata["model_choice"].value for event in result.get_asset_materialization_events()}
    assert len(words) == 1
    return words.pop()


def tables(warehouse) -> dict[str, pl.DataFrame]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return {name: connection.sql(f"SELECT * FROM {name} ORDER BY ALL").pl()
                for name in ("ml_contact_forecast", "ml_forecast_backtest", "ml_forecast_cleaned_days")}


def test_a_young_model_choice_is_refitted_without_a_backtest_and_an_old_one_or_a_new_horizon_backtests(tmp_path, monkeypatch):
    warehouse = tmp_path / "warehouse.duckdb"
    write_warehouse(warehouse)
    settings = point_settings_at(monkeypatch, tmp_path / "data", CX_WAREHOUSE=str(warehouse), CX_TIMEZONE="UTC",
                                 CX_HOLIDAY_COUNTRY="AT", CX_FORECAST_HORIZON_DAYS="14")
    store = ModelStore(settings.models_dir)
    today = datetime.now(timezone.utc).date().isoformat()

    assert materialise() == "backtested: no stored model"
    backtested = tables(warehouse)
    assert store.info(MODEL_NAME).as_of == LAST_DAY
    assert set(store.load(MODEL_NAME)) == {("chat_agent", "all"), ("email", "all"), ("phone", "all"),
                                           ("phone", "de_orders"), ("phone", "en_general")}

    os.utime(store.model_path(MODEL_NAME), (LONG_AGO, LONG_AGO))
    reused = (f"reused the model choices of the backtest as of {LAST_DAY.isoformat()} (run on {today}); "
              "refitted the chosen models only")
    assert materialise() == reused
    assert store.model_path(MODEL_NAME).stat().st_mtime == LONG_AGO  # not backtested, not rewritten
    refitted = tables(warehouse)
    assert all(refitted[name].equals(backtested[name]) for name in backtested)  # the same data and choices

    with duckdb.connect(str(warehouse)) as connection:  # one more day: a call on the day after
        connection.execute("INSERT INTO fct_service_contacts SELECT * REPLACE (occurred_at + INTERVAL 1 DAY AS occurred_at) "
                           "FROM fct_service_contacts WHERE occurred_at = (SELECT max(occurred_at) FROM fct_service_contacts)")
    assert materialise() == reused
    new_day = tables(warehouse)
    assert new_day["ml_forecast_backtest"].equals(backtested["ml_forecast_backtest"])  # kept, with its as-of date
    assert new_day["ml_contact_forecast"]["as_of_date"].unique().to_list() == [LAST_DAY + timedelta(days=1)]
    assert new_day["ml_contact_forecast"]["day"].min() == LAST_DAY + timedelta(days=2)
    assert set(new_day["ml_contact_forecast"]["model"]) <= set(backtested["ml_forecast_backtest"].filter("chosen")["model"])

    description = json.loads(store.info_path(MODEL_NAME).read_text())
    eight_days_ago = datetime.now(timezone.utc) - timedelta(days=8)
    store.info_path(MODEL_NAME).write_text(json.dumps(description | {"trained_at": eight_days_ago.isoformat()}))
    assert materialise() == f"backtested: model older than 7 days (trained on {eight_days_ago.date().isoformat()})"
    assert tables(warehouse)["ml_forecast_backtest"]["as_of_date"].unique().to_list() == [LAST_DAY + timedelta(days=1)]

    monkeypatch.setenv("CX_FORECAST_HORIZON_DAYS", "21")
    assert materialise() == "backtested: changed since training: horizon_days 14 -> 21"


def test_the_adherence_plan_reuses_its_own_model_choices_made_before_its_four_weeks(tmp_path, monkeypatch):
    from dagster_project.defs.assets.ml_workforce import ADHERENCE_WEEKS, ml_staffing_adherence
    from dagster_project.defs.resources import pipeline_resources

    warehouse = tmp_path / "warehouse.duckdb"
    write_warehouse(warehouse)
    settings = point_settings_at(monkeypatch, tmp_path / "data", CX_WAREHOUSE=str(warehouse), CX_TIMEZONE="UTC",
                                 CX_HOLIDAY_COUNTRY="AT")
    store = ModelStore(settings.models_dir)

    def adherence() -> tuple[str, pl.DataFrame]:
        result = dg.materialize([ml_staffing_adherence], resources=pipeline_resources())
        assert result.success
        with duckdb.connect(str(warehouse), read_only=True) as connection:
            table = connection.sql("SELECT * FROM ml_staffing_adherence ORDER BY ALL").pl()
        return result.get_asset_materialization_events()[0].materialization.metadata["model_choice"].value, table

    words, planned = adherence()
    assert words == "backtested: no stored model"
    # the plan of the last four weeks may only know the days before them
    plan_as_of = LAST_DAY - timedelta(weeks=ADHERENCE_WEEKS)
    assert store.info(ADHERENCE_CHOICES).as_of == plan_as_of
    assert set(store.load(ADHERENCE_CHOICES)) == {("chat_agent", "all"), ("email", "all"), ("phone", "all")}
    words, replanned = adherence()
    assert words.startswith(f"reused the model choices of the backtest as of {plan_as_of.isoformat()}")
    assert replanned.equals(planned)
