"""How personas change from one refresh to the next: size shifts, feature shifts, customers moving between
personas, and a flag when a persona should be reviewed (the trend says the description no longer fits).
Polars in, polars out.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from ml.personas import CLUSTER_FEATURES, PersonaModel, transformed

REVIEW_SIZE_CHANGE = 0.25  # relative change of a persona's size
REVIEW_FEATURE_SHIFT_SD = 0.5  # members' mean against the persona's centroid, in standard deviations
REVIEW_MOVER_SHARE = 0.10  # share of the previous members now in another persona


def _feature_shift(features: pl.DataFrame, assignments: pl.DataFrame, model: PersonaModel) -> pl.DataFrame:
    """persona_id, the feature whose members' mean moved furthest from the persona's stored centroid, and how
    far (in standard deviations of all customers, in the clustering's transformed feature space)."""
    matrix, _ = transformed(features, model.fill_values)
    spread = matrix.std(axis=0)
    spread = np.where(spread > 0, spread, 1.0)
    persona_of = features.select("customer_key").join(assignments, on="customer_key", how="left")["persona_id"]
    rows = []
    for persona_id, centroid in zip(model.centroids["persona_id"], model.matrix):
        members = (persona_of == persona_id).to_numpy()
        if not members.any():
            continue
        shift = (matrix[members].mean(axis=0) - centroid) / spread
        worst = int(np.abs(shift).argmax())
        rows.append((persona_id, CLUSTER_FEATURES[worst], float(shift[worst])))
    return pl.DataFrame(rows, schema=["persona_id", "most_shifted_feature", "feature_shift_sd"], orient="row")


def persona_drift(
    as_of: date,
    assignments: pl.DataFrame,
    features: pl.DataFrame,
    previous_assignments: pl.DataFrame | None,
    previous_model: PersonaModel | None,
) -> pl.DataFrame:
    """One row per persona now or before: sizes, movers in and out, new customers, the feature shift against
    the previous centroid, and `review` with its reasons. Without a previous refresh every persona is new."""
    now = assignments.group_by("persona_id").agg(pl.len().cast(pl.Int64).alias("customers"))
    if previous_assignments is None or previous_model is None:
        return now.with_columns(
            pl.lit(as_of).alias("as_of_date"), pl.lit(None, dtype=pl.Int64).alias("customers_previous"),
            pl.lit(True).alias("review"), pl.lit("new persona").alias("review_reason"),
        ).sort("persona_id")
    before = previous_assignments.group_by("persona_id").agg(pl.len().cast(pl.Int64).alias("customers_previous"))
    both = assignments.join(previous_assignments, on="customer_key", suffix="_previous")
    moved = both.filter(pl.col("persona_id") != pl.col("persona_id_previous"))
    movers_in = moved.group_by("persona_id").agg(pl.len().cast(pl.Int64).alias("movers_in"))
    movers_out = moved.group_by(pl.col("persona_id_previous").alias("persona_id")).agg(pl.len().cast(pl.Int64).alias("movers_out"))
    new = assignments.join(previous_assignments, on="customer_key", how="anti").group_by("persona_id").agg(
        pl.len().cast(pl.Int64).alias("new_customers")
    )
    drift = (
        now.join(before, on="persona_id", how="full", coalesce=True)
        .join(movers_in, on="persona_id", how="left")
        .join(movers_out, on="persona_id", how="left")
        .join(new, on="persona_id", how="left")
        .join(_feature_shift(features, assignments, previous_model), on="persona_id", how="left")
        .with_columns(pl.col("customers", "movers_in", "movers_out", "new_customers").fill_null(0))
        .with_columns(
            ((pl.col("customers") - pl.col("customers_previous")) / pl.col("customers_previous")).alias("size_change"),
            (pl.col("movers_out") / pl.col("customers_previous")).alias("mover_share"),
        )
    )
    reasons = pl.concat_str(
        pl.when(pl.col("customers_previous").is_null()).then(pl.lit("new persona")),
        pl.when(pl.col("customers") == 0).then(pl.lit("no customers left")),
        pl.when(pl.col("size_change").abs() > REVIEW_SIZE_CHANGE).then(pl.lit("size changed")),
        pl.when(pl.col("feature_shift_sd").abs() > REVIEW_FEATURE_SHIFT_SD)
        .then(pl.lit("habits shifted: ") + pl.col("most_shifted_feature")),
        pl.when(pl.col("mover_share") > REVIEW_MOVER_SHARE).then(pl.lit("many customers moved away")),
        separator="; ", ignore_nulls=True,
    )
    return drift.with_columns(pl.lit(as_of).alias("as_of_date"), reasons.alias("review_reason")).with_columns(
        (pl.col("review_reason") != "").alias("review"),
        pl.when(pl.col("review_reason") != "").then(pl.col("review_reason")).alias("review_reason"),
    ).sort("persona_id")
