"""Personas: clusters of customers by behaviour (scikit-learn KMeans on scaled features), with the number of
personas chosen by bootstrap stability, names and descriptions in words from each cluster's distinguishing
features, and ids that persist over refreshes. Polars in, polars out; no Dagster.

Refresh rule: the previous refresh's centroids (`PersonaModel.centroids`, kept in the warehouse) are the
personas. While the stored model is young enough, a refresh only assigns customers to them (`assign`, see
`ml/persona_rescoring.py`). When a new clustering is fitted and it agrees with the previous personas (same number, and
assigning customers to the old centroids gives the same partition as the new clustering, ARI ≥
`SAME_STRUCTURE_ARI`), customers are simply assigned to the old centroids: ids, names and assignments stay put.
Otherwise the new clustering is adopted, and each new cluster takes the id and name of the old persona it
matches (Hungarian matching on centroid distance); clusters without a match get new ids. Either way every customer
is assigned by `assign`, to the nearest centroid in the scaling of the fit (what KMeans' labels are at convergence),
so scoring the same customers again with the stored model gives the same personas by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
# SciPy and scikit-learn: imported in the functions that use them, not here. The Dagster definitions import
# this module, and every `cx run` paid for the imports at start-up, before its first step (issue 19,
# tests/test_definitions_imports.py).
if TYPE_CHECKING:
    from sklearn.cluster import KMeans

# Feature -> how it enters the clustering: counts per year and money are log-scaled (a few heavy buyers
# would otherwise be clusters of their own); shares, flags and rates as they are. Missing rates (never
# e-mailed, never surveyed) take the population median, missing shares (never bought, never browsed) zero.
# The service channel shares are left out: most customers have no or one contact, so they are mostly noise
# to the distances (they still describe the personas, see persona_profiles).
LOG_FEATURES = ("purchases_per_year", "basket_mean_eur", "browse_days_per_year", "browse_days_per_purchase",
                "service_contacts_per_year")
SHARE_FEATURES = ("purchase_share_web", "purchase_share_app", "purchase_share_store", "return_rate",
                  "browse_share_app", "consent_email", "consent_phone", "consent_push", "has_loyalty_card")
RATE_FEATURES = ("email_open_rate", "email_click_rate", "nps_score_mean")
CLUSTER_FEATURES = (*LOG_FEATURES, *SHARE_FEATURES, *RATE_FEATURES)

# Fewer than three groups would not be personas; more than eight nobody can act on.
K_CANDIDATES = range(3, 9)
BOOTSTRAP_ROUNDS = 4
STABILITY_SAMPLE = 3000  # customers per bootstrap sample (enough for stable centroids, fast on 2 cores)
STABILITY_N_INIT = 2
STABILITY_TOLERANCE = 0.05
SAME_STRUCTURE_ARI = 0.8
N_INIT = 8


@dataclass(frozen=True)
class Scaler:
    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, matrix: np.ndarray) -> "Scaler":
        scale = matrix.std(axis=0)
        return cls(matrix.mean(axis=0), np.where(scale > 0, scale, 1.0))

    def __call__(self, matrix: np.ndarray) -> np.ndarray:
        return (matrix - self.mean) / self.scale


@dataclass(frozen=True)
class PersonaModel:
    """Centroids in the transformed (unscaled) feature space, one row per persona: persona_id, persona_name,
    then one column per `CLUSTER_FEATURES`; plus the fill values used for missing rates, and the scaling the
    customers were assigned in (None in a model stored before the scaling was kept)."""

    centroids: pl.DataFrame
    fill_values: dict[str, float]
    scaler: Scaler | None

    @property
    def matrix(self) -> np.ndarray:
        return self.centroids.select(CLUSTER_FEATURES).to_numpy()


def transformed(features: pl.DataFrame, fill_values: dict[str, float] | None = None) -> tuple[np.ndarray, dict[str, float]]:
    """The clustering matrix (rows in `features` order) and the medians that filled missing rates."""
    fill_values = fill_values or {c: float(features[c].median() if features[c].drop_nulls().len() else 0.0)
                                  for c in RATE_FEATURES}
    frame = features.select(
        *(pl.col(c).fill_null(0.0).log1p() for c in LOG_FEATURES),
        *(pl.col(c).fill_null(0.0).fill_nan(0.0) for c in SHARE_FEATURES),
        *(pl.col(c).fill_null(fill_values[c]).fill_nan(fill_values[c]) for c in RATE_FEATURES),
    )
    return frame.to_numpy().astype(float), fill_values


def kmeans(scaled: np.ndarray, k: int, seed: int) -> KMeans:
    from sklearn.cluster import KMeans
    return KMeans(n_clusters=k, n_init=N_INIT, random_state=seed).fit(scaled)


def stability_by_k(scaled: np.ndarray, seed: int) -> dict[int, float]:
    """Mean ARI, over bootstrap rounds, between the partitions of all customers by two clusterings fitted on
    two independent bootstrap samples: a k that reflects real structure gives the same partition every time."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score
    rng = np.random.default_rng(seed)
    size = min(STABILITY_SAMPLE, len(scaled))
    stability = {}
    for k in K_CANDIDATES:
        if k >= len(scaled):
            break
        scores = []
        for round_ in range(BOOTSTRAP_ROUNDS):
            first, second = (rng.choice(len(scaled), size, replace=True) for _ in range(2))
            labels = [
                KMeans(n_clusters=k, n_init=STABILITY_N_INIT, random_state=seed + round_).fit(scaled[sample]).predict(scaled)
                for sample in (first, second)
            ]
            scores.append(adjusted_rand_score(*labels))
        stability[k] = float(np.mean(scores))
    return stability


def choose_k(stability: dict[int, float]) -> int:
    """The largest k whose stability is within `STABILITY_TOLERANCE` of the most stable k: more detail as
    long as it costs little reliability."""
    best = max(stability.values())
    return max(k for k, score in stability.items() if score >= best - STABILITY_TOLERANCE)


def nearest(scaled: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    # one centroid at a time: all differences at once would take customers x personas x features floats (1 GB at
    # a million customers and eight personas), and every refresh assigns all customers
    distances = np.column_stack([((scaled - centroid) ** 2).sum(axis=1) for centroid in centroids])
    return distances.argmin(axis=1)


def match_clusters(old: np.ndarray, new: np.ndarray) -> dict[int, int]:
    """new cluster index -> old persona index, by the pairing with the smallest total centroid distance
    (Hungarian algorithm); with different counts, the surplus clusters stay unmatched."""
    from scipy.optimize import linear_sum_assignment
    cost = np.sqrt(((new[:, None, :] - old[None, :, :]) ** 2).sum(axis=2))
    rows, cols = linear_sum_assignment(cost)
    return dict(zip(rows.tolist(), cols.tolist()))


@dataclass(frozen=True)
class Clustering:
    assignments: pl.DataFrame  # customer_key, persona_id
    model: PersonaModel
    stability: dict[int, float]
    kept_previous: bool  # True when the previous personas were kept as they were


def next_persona_ids(existing: list[str], count: int) -> list[str]:
    numbers = [int(i.removeprefix("P")) for i in existing]
    start = max(numbers, default=0) + 1
    return [f"P{n:02d}" for n in range(start, start + count)]


def cluster_personas(features: pl.DataFrame, seed: int = 0, previous: PersonaModel | None = None) -> Clustering:
    """Assign every customer of `features` (from `behaviour_features`) to a persona; see the module doc."""
    from sklearn.metrics import adjusted_rand_score
    raw, fill_values = transformed(features, previous.fill_values if previous else None)
    scale = Scaler.fit(raw)
    scaled = scale(raw)
    stability = stability_by_k(scaled, seed)
    fresh = kmeans(scaled, choose_k(stability), seed)
    if previous is not None:
        old_centroids = scale(previous.matrix)
        kept = nearest(scaled, old_centroids)
        if len(old_centroids) == fresh.n_clusters and adjusted_rand_score(kept, fresh.labels_) >= SAME_STRUCTURE_ARI:
            model = PersonaModel(previous.centroids, previous.fill_values, scale)
            return Clustering(assign(features, model), model, stability, kept_previous=True)
    centroids = np.vstack([raw[fresh.labels_ == c].mean(axis=0) for c in range(fresh.n_clusters)])
    ids, names = _carried_ids(centroids, scale, previous)
    model = PersonaModel(
        pl.DataFrame({"persona_id": ids, "persona_name": names})
        .hstack(pl.DataFrame(centroids, schema=list(CLUSTER_FEATURES), orient="row")),
        fill_values, scale,
    )
    return Clustering(assign(features, model), model, stability, kept_previous=False)


def assign(features: pl.DataFrame, model: PersonaModel) -> pl.DataFrame:
    """customer_key, persona_id: every customer's nearest persona of `model`, in the model's scaling."""
    raw, _ = transformed(features, model.fill_values)
    nearest_persona = nearest(model.scaler(raw), model.scaler(model.matrix))
    return features.select("customer_key").with_columns(
        pl.Series("persona_id", model.centroids["persona_id"].to_numpy()[nearest_persona], dtype=pl.String))


def _carried_ids(centroids: np.ndarray, scale: Scaler, previous: PersonaModel | None) -> tuple[list[str], list[str | None]]:
    """Ids (and names) of the matched previous personas; new ids and no name yet for the rest."""
    ids: list[str | None] = [None] * len(centroids)
    names: list[str | None] = [None] * len(centroids)
    if previous is not None:
        for new, old in match_clusters(scale(previous.matrix), scale(centroids)).items():
            ids[new], names[new] = previous.centroids.row(old)[:2]
    taken = [i for i in ids if i] + (previous.centroids["persona_id"].to_list() if previous else [])
    fresh_ids = iter(next_persona_ids(taken, ids.count(None)))
    return [i or next(fresh_ids) for i in ids], names


def persona_model_frame(model: PersonaModel, as_of: date) -> pl.DataFrame:
    """The model as one table to keep in the warehouse: centroids plus the fill values and the scaling (one
    column each, the same on every row)."""
    return model.centroids.with_columns(
        pl.lit(as_of).alias("as_of_date"),
        *(pl.lit(value).alias(f"fill_{name}") for name, value in model.fill_values.items()),
        *(pl.lit(float(value)).alias(f"scale_mean_{name}") for name, value in zip(CLUSTER_FEATURES, model.scaler.mean)),
        *(pl.lit(float(value)).alias(f"scale_sd_{name}") for name, value in zip(CLUSTER_FEATURES, model.scaler.scale)),
    )


def persona_model_from_frame(frame: pl.DataFrame) -> PersonaModel:
    """The model `persona_model_frame` wrote (a table without the scale columns gives a model without scaling)."""
    mean, scale = (_per_feature(frame, f"scale_{part}_") for part in ("mean", "sd"))
    return PersonaModel(
        frame.select("persona_id", "persona_name", *CLUSTER_FEATURES),
        {name: float(frame[f"fill_{name}"][0]) for name in RATE_FEATURES},
        Scaler(mean, scale) if mean is not None and scale is not None else None,
    )


def _per_feature(frame: pl.DataFrame, prefix: str) -> np.ndarray | None:
    """The first row's `<prefix><feature>` values in `CLUSTER_FEATURES` order; None when a column is missing."""
    columns = [f"{prefix}{name}" for name in CLUSTER_FEATURES]
    return np.array(frame.select(columns).row(0), dtype=float) if set(columns) <= set(frame.columns) else None
