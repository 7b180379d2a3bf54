"""The persona model kept between refreshes, so a daily refresh assigns customers without clustering again.

The model (centroids, fill values, scaling; `ml.personas.PersonaModel`) is kept in the warehouse table
`ml_persona_model` together with its `ml.model_store.ModelInfo` (column `model_info`, the same on every row): when
it was fitted, for which as-of date, on which features. A refresh assigns every customer to the nearest stored
persona in the stored scaling (`ml.personas.assign`: no search for k, no bootstrap, no KMeans) while `refit_reason`
finds nothing against the model; otherwise it clusters as `ml.personas.cluster_personas` does, starting from the
stored personas so ids and names persist. Only aggregates are kept (no customer rows): erasing a person leaves
nothing to remove here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import polars as pl

from ml.model_store import ModelInfo, library_versions, rescored_with, retrain_reason
from ml.personas import (
    CLUSTER_FEATURES,
    LOG_FEATURES,
    RATE_FEATURES,
    Clustering,
    PersonaModel,
    assign,
    cluster_personas,
    persona_model_frame,
    persona_model_from_frame,
)

MODEL_NAME = "personas"


def parameters() -> dict[str, object]:
    """How the features enter the distances (log-scaled, filled with the median, the rest as they are): a change
    means the stored centroids and scaling no longer apply."""
    return {"log_features": list(LOG_FEATURES), "rate_features": list(RATE_FEATURES)}


@dataclass(frozen=True)
class StoredPersonas:
    model: PersonaModel | None  # None when the table lacks a feature the clustering uses now
    info: ModelInfo | None  # None in a table written before the model's fitting record was kept


def stored_personas_frame(model: PersonaModel, info: ModelInfo, as_of: date) -> pl.DataFrame:
    """The table `ml_persona_model`: the model's centroids, fill values and scaling, and its fitting record."""
    return persona_model_frame(model, as_of).with_columns(pl.lit(info.to_json()).alias("model_info"))


def stored_personas(frame: pl.DataFrame) -> StoredPersonas:
    """The stored model as the table `ml_persona_model` holds it (also as written by earlier versions)."""
    return StoredPersonas(
        persona_model_from_frame(frame) if set(CLUSTER_FEATURES) <= set(frame.columns) else None,
        ModelInfo.from_json(frame["model_info"][0]) if "model_info" in frame.columns else None,
    )


def refit_reason(stored: StoredPersonas | None, as_of: date, now: datetime, max_age_days: int) -> str | None:
    """Why the stored personas must be fitted again before customers are assigned to them (None: assign)."""
    if stored is None:
        return "no stored model"
    if stored.info is not None and (changed := feature_change(stored.info.features)):
        return changed
    # (a model with today's features always has centroids for them)
    if stored.info is None or stored.model.scaler is None:
        return "the stored model keeps no scaling or fitting record (stored by an earlier version)"
    return retrain_reason(stored.info, parameters(), as_of, now, max_age_days)


def feature_change(fitted_on: list[str]) -> str | None:
    added = [name for name in CLUSTER_FEATURES if name not in fitted_on]
    removed = [name for name in fitted_on if name not in CLUSTER_FEATURES]
    if added or removed:
        return f"feature columns changed (added: {', '.join(added) or 'none'}; removed: {', '.join(removed) or 'none'})"
    return None


@dataclass(frozen=True)
class PersonaRun:
    clustering: Clustering
    info: ModelInfo  # of the model the customers were assigned with
    scoring: str  # in words: rescored with which stored model, or refitted and why


def assign_or_refit(features: pl.DataFrame, stored: StoredPersonas | None, as_of: date, now: datetime,
                    max_age_days: int, seed: int) -> PersonaRun:
    """Assign every customer to the stored personas when `refit_reason` has nothing against them; otherwise
    cluster again (keeping the stored personas' ids and names where they still fit)."""
    reason = refit_reason(stored, as_of, now, max_age_days)
    if reason is None:
        clustering = Clustering(assign(features, stored.model), stored.model, stability={}, kept_previous=True)
        return PersonaRun(clustering, stored.info, rescored_with(stored.info))
    clustering = cluster_personas(features, seed, stored.model if stored else None)
    info = ModelInfo(name=MODEL_NAME, trained_at=now, as_of=as_of, features=list(CLUSTER_FEATURES),
                     training_rows=features.height, parameters=parameters(), library_versions=library_versions())
    return PersonaRun(clustering, info, f"refitted: {reason}")
