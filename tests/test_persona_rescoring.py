"""Personas rescored with the stored model: hand-made customers go to the nearest stored persona in the stored
scaling; an old model, other feature columns or a table written by an earlier version refit and say why; a fit
followed by a rescore of the same customers gives the fit's assignments."""

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import numpy as np
import polars as pl

from ml.model_store import ModelInfo, library_versions
from ml.persona_rescoring import (
    MODEL_NAME,
    assign_or_refit,
    parameters,
    refit_reason,
    stored_personas,
    stored_personas_frame,
)
from ml.personas import CLUSTER_FEATURES, PersonaModel, Scaler, persona_model_frame
from tests.test_ml_personas import planted

AS_OF = date(2026, 3, 1)
NOW = datetime(2026, 3, 2, 6, 0, tzinfo=timezone.utc)
MAX_AGE_DAYS = 7
OPEN_RATE = CLUSTER_FEATURES.index("email_open_rate")


def customer(key: str, **values: float | None) -> dict:
    """A behaviour-feature row: every clustering feature 0 (log1p(0) = 0 too) unless given."""
    return {"customer_key": key, **dict.fromkeys(CLUSTER_FEATURES, 0.0), **values}


def store_and_newsletter_model() -> PersonaModel:
    """Two personas differing in two features: store buyers (store share 1, open rate 0) and newsletter readers
    (store share 0, open rate 1). Open rates spread little (sd 0.1), so they weigh ten times a store share."""
    centroids = pl.DataFrame([
        customer("ignored", purchase_share_store=1.0, email_open_rate=0.0),
        customer("ignored", purchase_share_store=0.0, email_open_rate=1.0),
    ]).drop("customer_key")
    scale = np.ones(len(CLUSTER_FEATURES))
    scale[OPEN_RATE] = 0.1
    return PersonaModel(
        pl.DataFrame({"persona_id": ["P01", "P02"], "persona_name": ["Store buyers", "Newsletter readers"]}).hstack(centroids),
        {"email_open_rate": 0.95, "email_click_rate": 0.0, "nps_score_mean": 0.0},
        Scaler(np.zeros(len(CLUSTER_FEATURES)), scale),
    )


def info(trained_at: datetime, features: list[str] = list(CLUSTER_FEATURES)) -> ModelInfo:
    return ModelInfo(name=MODEL_NAME, trained_at=trained_at, as_of=AS_OF, features=features, training_rows=2,
                     parameters=parameters(), library_versions=library_versions())


def test_customers_go_to_the_nearest_stored_persona_in_the_stored_scaling():
    table = stored_personas_frame(store_and_newsletter_model(), info(NOW - timedelta(days=1)), AS_OF)
    features = pl.DataFrame([
        customer("store", purchase_share_store=0.9, email_open_rate=0.1),  # (0.1² + 1²) vs (0.9² + 9²): P01
        # unscaled nearer the store buyers (0.3² + 0.6² = 0.45 vs 0.7² + 0.4² = 0.65); in the stored scaling the
        # open rate counts ten times: 0.3² + 6² = 36.09 vs 0.7² + 4² = 16.49, so a newsletter reader
        customer("both", purchase_share_store=0.7, email_open_rate=0.6),
        # no e-mails: the stored fill value 0.95 stands in for the open rate, so a newsletter reader too
        customer("never_emailed", purchase_share_store=0.5, email_open_rate=None),
    ])

    run = assign_or_refit(features, stored_personas(table), AS_OF, NOW, MAX_AGE_DAYS, seed=0)

    assert dict(run.clustering.assignments.iter_rows()) == {"store": "P01", "both": "P02", "never_emailed": "P02"}
    assert run.scoring == "rescored with the model trained on 2026-03-01 (data as of 2026-03-01)"
    assert run.clustering.stability == {}  # no search for k
    assert run.clustering.model.centroids.equals(store_and_newsletter_model().centroids)
    assert run.info.trained_at == NOW - timedelta(days=1)  # the stored model keeps its age


def fitted_table(features: pl.DataFrame) -> pl.DataFrame:
    first = assign_or_refit(features, None, AS_OF, NOW, MAX_AGE_DAYS, seed=0)
    assert first.scoring == "refitted: no stored model"
    return stored_personas_frame(first.clustering.model, first.info, AS_OF)


def test_a_model_older_than_the_setting_refits_and_keeps_the_ids():
    features, _ = planted()
    table = fitted_table(features)

    week_later = assign_or_refit(features, stored_personas(table), AS_OF, NOW + timedelta(days=7), MAX_AGE_DAYS, seed=0)
    later = assign_or_refit(features, stored_personas(table), AS_OF, NOW + timedelta(days=7, hours=1), MAX_AGE_DAYS, seed=0)

    assert week_later.scoring.startswith("rescored")
    assert later.scoring == "refitted: model older than 7 days (trained on 2026-03-02)"
    assert later.clustering.stability  # k searched again
    assert later.info.trained_at == NOW + timedelta(days=7, hours=1)
    assert sorted(later.clustering.model.centroids["persona_id"]) == ["P01", "P02", "P03"]


def test_other_feature_columns_refit_and_say_which():
    features, _ = planted()
    table = fitted_table(features)
    # Stored by a version that clustered on the phone service share instead of the NPS.
    older_features = [*(name for name in CLUSTER_FEATURES if name != "nps_score_mean"), "service_share_phone"]
    other = table.drop("nps_score_mean").with_columns(service_share_phone=pl.lit(0.5),
                                                      model_info=pl.lit(info(NOW, older_features).to_json()))
    stored = stored_personas(other)

    run = assign_or_refit(features, stored, AS_OF, NOW, MAX_AGE_DAYS, seed=0)

    assert stored.model is None  # its centroids lack a feature of today's clustering
    assert run.scoring == "refitted: feature columns changed (added: nps_score_mean; removed: service_share_phone)"
    assert run.clustering.model.centroids.height == 3


def test_a_changed_scaling_rule_refits():
    stored = stored_personas(stored_personas_frame(store_and_newsletter_model(), replace(
        info(NOW), parameters={**parameters(), "log_features": ["purchases_per_year"]}), AS_OF))

    reason = refit_reason(stored, AS_OF, NOW, MAX_AGE_DAYS)

    assert reason.startswith("changed since training: log_features ['purchases_per_year'] -> ['purchases_per_year', ")


def test_a_model_stored_by_an_earlier_version_refits_and_keeps_the_ids():
    features, _ = planted()
    first = fitted_table(features)
    # the table as versions before rescoring wrote it: centroids and fill values, no scaling, no fitting record
    earlier = first.select(pl.exclude("model_info", "^scale_.*$"))
    stored = stored_personas(earlier)

    run = assign_or_refit(features, stored, AS_OF, NOW, MAX_AGE_DAYS, seed=0)

    assert stored.model.scaler is None and stored.info is None
    assert run.scoring == "refitted: the stored model keeps no scaling or fitting record (stored by an earlier version)"
    assert run.clustering.kept_previous
    assert run.clustering.model.centroids.equals(first.select("persona_id", "persona_name", *CLUSTER_FEATURES))


def test_a_rescore_of_the_fitted_customers_gives_the_fits_assignments():
    # No planted structure: many customers lie near a border between clusters, where a scaling or fill value
    # lost on the way through the table would move them.
    rng = np.random.default_rng(4)
    features = pl.DataFrame([customer(f"c{i:03d}", **dict(zip(CLUSTER_FEATURES, rng.uniform(0, 1, len(CLUSTER_FEATURES)))))
                             for i in range(80)])
    fit = assign_or_refit(features, None, AS_OF, NOW, MAX_AGE_DAYS, seed=0)
    table = persona_model_frame(fit.clustering.model, AS_OF).with_columns(model_info=pl.lit(fit.info.to_json()))

    rescore = assign_or_refit(features, stored_personas(table), AS_OF, NOW + timedelta(days=1), MAX_AGE_DAYS, seed=0)

    assert rescore.scoring.startswith("rescored")
    assert rescore.clustering.assignments.equals(fit.clustering.assignments)
