"""Persona assets (group `ml`): every active customer's persona (`ml_personas`), what each persona is
(`ml_persona_profiles`), the kept centroids that make personas stable over refreshes (`ml_persona_model`), and
how personas changed since the previous refresh (`ml_persona_drift`, one block of rows per refresh).

The previous model and assignments are read from the warehouse before they are replaced. While the stored model
is younger than CX_MODEL_MAX_AGE_DAYS and fits today's features, a refresh only assigns customers to the nearest
stored persona (`ml/persona_rescoring.py`); otherwise it clusters again and keeps the personas (ids, names,
assignments by nearest centroid) unless the new clustering disagrees with them (`ml/personas.py`). Profiles and
drift are computed on every run; the metadata `scoring` says which way the personas were assigned. The demo truth
is never read here.
"""

import math
from dataclasses import replace
from datetime import date, datetime, timezone

import dagster as dg
import polars as pl

from cx_core.warehouse import Warehouse, drop_tables, read_frame, read_frames, replace_table, table_names
from dagster_project.defs.assets.dbt import warehouse_table_key
from dagster_project.defs.assets.ml_customers import markdown_table
from dagster_project.defs.metadata import frame_metadata, skipped
from dagster_project.defs.resources import PipelineSettings, WarehouseResource, holds_warehouse_open
from ml.persona_drift import persona_drift
from ml.persona_features import BehaviourHistory, behaviour_features
from ml.persona_profiles import persona_names, persona_profiles
from ml.persona_rescoring import assign_or_refit, stored_personas, stored_personas_frame
from ml.personas import Clustering, PersonaModel

BEHAVIOUR_QUERIES = {
    # Web page views counted per customer, day and channel in DuckDB, the other inbound touchpoints one by one, the
    # outbound ones (no feature reads them) left out: 2.0 of 9.3 million rows at 100k customers (issue 19).
    "touchpoints": """SELECT customer_key, min(occurred_at) AS occurred_at, channel, 'web_events' AS source, direction,
                             count(*) AS touchpoints
                      FROM fct_touchpoints WHERE customer_key IS NOT NULL AND source = 'web_events'
                      GROUP BY customer_key, occurred_at::date, channel, direction
                      UNION ALL
                      SELECT customer_key, occurred_at, channel, source, direction, 1 AS touchpoints
                      FROM fct_touchpoints
                      WHERE customer_key IS NOT NULL AND source IS DISTINCT FROM 'web_events' AND direction = 'inbound'""",
    "orders": """SELECT customer_key, ordered_at, order_type, value_eur, channel
                 FROM fct_orders WHERE customer_key IS NOT NULL""",
    "service_contacts": """SELECT customer_key, occurred_at, inbound_channel
                           FROM fct_service_contacts WHERE customer_key IS NOT NULL""",
    "surveys": """SELECT customer_key, responded_at, survey_type, score
                  FROM fct_survey_responses WHERE customer_key IS NOT NULL""",
    "marketing_contacts": """SELECT customer_key, sent_at, channel, opened, clicked
                             FROM fct_marketing_contacts WHERE customer_key IS NOT NULL""",
    # Read from staging, not dim_customers: dim_customers shows the personas, so it is built after them.
    # 'C-' || CRM id is the key rule of int_identity_components.
    "crm_profiles": """SELECT 'C-' || customer_id AS customer_key, coalesce(consent_email, false) AS consent_email,
                              coalesce(consent_phone, false) AS consent_phone,
                              coalesce(consent_push, false) AS consent_push,
                              loyalty_id IS NOT NULL AS has_loyalty_card
                       FROM stg_crm_customers__customers""",
}
MART_DEPS = [warehouse_table_key(table) for table in (
    "fct_touchpoints", "fct_orders", "fct_service_contacts", "fct_survey_responses", "fct_marketing_contacts",
    "stg_crm_customers__customers")]
# Read when their table exists: the previous refresh's personas, and the optional inputs of the profiles.
OPTIONAL_QUERIES = {
    "ml_persona_model": "SELECT * FROM ml_persona_model",
    "ml_personas": "SELECT customer_key, persona_id FROM ml_personas",
    "ml_persona_drift": "SELECT * FROM ml_persona_drift",
    "ml_customer_value": "SELECT customer_key, expected_value_eur AS expected_value_12m_eur FROM ml_customer_value",
    "ml_churn_scores": "SELECT customer_key, churn_probability FROM ml_churn_scores",
}
NPS_QUERY = """SELECT customer_key, score FROM fct_survey_responses
               WHERE customer_key IS NOT NULL AND survey_type = 'nps'"""
SEED = 0
MIN_CUSTOMERS = 20  # fewer customers with enough activity cannot show a stable structure
# The features are computed for groups of customers with about this many touchpoints together: a whole
# history in memory grew by ~2 GB per 100,000 customers (7.2 GB at 300,000; issue 19), too much at a million.
TOUCHPOINTS_PER_GROUP = 10_000_000


def load_behaviour(warehouse: Warehouse, group: int, groups: int) -> BehaviourHistory:
    """The history of the customers in `group` of `groups` (by a hash of the customer key). One group is the whole
    history, read without hashing the key of every row (11.8 million rows at 100k customers: 0.4-0.9 s, issue 19)."""
    if groups == 1:
        return BehaviourHistory(**read_frames(warehouse, BEHAVIOUR_QUERIES))
    in_group = f"hash(customer_key) % {groups} = {group}"
    return BehaviourHistory(**read_frames(warehouse, {
        name: f"SELECT * FROM ({query}) WHERE {in_group}" for name, query in BEHAVIOUR_QUERIES.items()}))


def grouped_behaviour_features(warehouse: Warehouse, as_of: date, groups: int) -> pl.DataFrame:
    """behaviour_features of every customer, computed group by group: the features are per customer, so the
    groups together give the rows of one computation over the whole history."""
    return pl.concat(
        [behaviour_features(load_behaviour(warehouse, group, groups), as_of) for group in range(groups)]
    ).sort("customer_key")


def customer_groups(warehouse: Warehouse) -> tuple[int, date | None]:
    """How many customer groups the features are computed in, and the latest touchpoint's day."""
    counted = read_frame(warehouse, """SELECT count(*) AS touchpoints, max(occurred_at) AS latest FROM fct_touchpoints
                                       WHERE customer_key IS NOT NULL""")
    latest = counted["latest"][0]
    return max(1, math.ceil(counted["touchpoints"][0] / TOUCHPOINTS_PER_GROUP)), latest and latest.date()


def optional_frames(warehouse: Warehouse) -> dict[str, pl.DataFrame]:
    """The earlier persona tables and the optional inputs of the profiles (OPTIONAL_QUERIES), by table, where the
    warehouse has the table."""
    tables = table_names(warehouse)
    return read_frames(warehouse, {table: query for table, query in OPTIONAL_QUERIES.items() if table in tables})


def named_model(clustering: Clustering, features: pl.DataFrame) -> tuple[PersonaModel, dict[str, str]]:
    """The clustering's model with a name for every persona (kept personas keep theirs), and the names by id."""
    centroids = clustering.model.centroids
    keep = {pid: name for pid, name in zip(centroids["persona_id"], centroids["persona_name"]) if name}
    names = persona_names(features.join(clustering.assignments, on="customer_key"), keep)
    named = centroids.with_columns(pl.col("persona_id").replace_strict(names).alias("persona_name"))
    return replace(clustering.model, centroids=named), names


@dg.multi_asset(
    specs=[
        dg.AssetSpec("ml_personas", group_name="ml", deps=MART_DEPS, kinds={"python", "duckdb"},
                     description="Persona of every customer with at least 3 inbound touchpoints, from behaviour "
                                 "across channels (KMeans, number of personas by bootstrap stability)."),
        dg.AssetSpec("ml_persona_profiles", group_name="ml", kinds={"python", "duckdb"},
                     deps=[*MART_DEPS, warehouse_table_key("ml_customer_value"), warehouse_table_key("ml_churn_scores")],
                     description="One row per persona: name and description generated from its distinguishing "
                                 "features, size, NPS, expected 12-month value, churn risk, preferred channels."),
        dg.AssetSpec("ml_persona_model", group_name="ml", deps=MART_DEPS, kinds={"python", "duckdb"},
                     description="Persona centroids kept between refreshes so persona ids and names persist."),
        dg.AssetSpec("ml_persona_drift", group_name="ml", deps=MART_DEPS, kinds={"python", "duckdb"},
                     description="Per refresh and persona: size and feature shifts, customers moving between "
                                 "personas, and whether the persona should be reviewed."),
    ],
    pool="duckdb",
)
@holds_warehouse_open
def ml_personas(context: dg.AssetExecutionContext, cx: PipelineSettings, warehouse: WarehouseResource):
    settings = cx.settings
    groups, latest_day = customer_groups(warehouse)
    as_of = date.fromisoformat(settings.as_of) if settings.as_of else latest_day
    optional = optional_frames(warehouse)
    stored = stored_personas(optional["ml_persona_model"]) if "ml_persona_model" in optional else None
    previous = stored and stored.model
    previous_assignments = optional.get("ml_personas")
    features = grouped_behaviour_features(warehouse, as_of, groups) if as_of else pl.DataFrame()
    if features.height < MIN_CUSTOMERS:
        reason = (f"only {features.height} customers with enough activity as of {as_of} "
                  f"(personas need {MIN_CUSTOMERS})")
        # the persona model stays: persona ids must persist over a refresh with too little data
        drop_tables(warehouse, ["ml_personas", "ml_persona_profiles", "ml_persona_drift"])
        context.log.warning(f"personas skipped: {reason}")
        for table in ("ml_personas", "ml_persona_profiles", "ml_persona_model", "ml_persona_drift"):
            yield dg.MaterializeResult(asset_key=table, metadata=skipped(reason))
        return
    run = assign_or_refit(features, stored, as_of, datetime.now(timezone.utc), settings.model_max_age_days, SEED)
    clustering = run.clustering
    model, names = named_model(clustering, features)
    assignments = clustering.assignments.with_columns(
        pl.col("persona_id").replace_strict(names).alias("persona_name"), pl.lit(as_of).alias("as_of_date")
    )
    nps_answers = read_frame(warehouse, NPS_QUERY)
    profiles = persona_profiles(
        features.join(clustering.assignments, on="customer_key"), names, nps_answers,
        optional.get("ml_customer_value"), optional.get("ml_churn_scores"),
    ).with_columns(pl.lit(as_of).alias("as_of_date"))
    drift = persona_drift(as_of, clustering.assignments, features, previous_assignments, previous)
    earlier = optional.get("ml_persona_drift")
    if earlier is not None:
        drift = pl.concat([earlier.filter(pl.col("as_of_date") != as_of), drift], how="diagonal_relaxed")
    replace_table(warehouse, "ml_personas", assignments)
    replace_table(warehouse, "ml_persona_profiles", profiles)
    model_frame = stored_personas_frame(model, run.info, as_of)
    replace_table(warehouse, "ml_persona_model", model_frame)
    replace_table(warehouse, "ml_persona_drift", drift)
    context.log.info(f"{len(names)} personas as of {as_of}, {run.scoring}")
    stability = "\n".join(f"| {k} | {score:.3f} |" for k, score in clustering.stability.items())
    yield dg.MaterializeResult(asset_key="ml_personas", metadata={
        **frame_metadata(assignments),
        "as_of": as_of.isoformat(),
        "customers": assignments.height,
        "customer_groups": groups,
        "personas": len(names),
        "previous_personas_kept": clustering.kept_previous,
        "scoring": run.scoring,
        "fitted_at": run.info.trained_at.isoformat(timespec="seconds"),
        # a rescore searches no k
        **({"stability_by_k": dg.MetadataValue.md(f"| k | bootstrap ARI |\n|---|---|\n{stability}")} if stability else {}),
    })
    yield dg.MaterializeResult(asset_key="ml_persona_profiles", metadata={
        **frame_metadata(profiles),
        "profiles": dg.MetadataValue.md(markdown_table(profiles.select(
            "persona_id", "persona_name", "customers", "nps", "expected_value_12m_eur_mean", "churn_probability_mean",
            "description"), digits=2)),
    })
    yield dg.MaterializeResult(asset_key="ml_persona_model", metadata=frame_metadata(model_frame))
    latest = drift.filter(pl.col("as_of_date") == as_of)
    yield dg.MaterializeResult(asset_key="ml_persona_drift", metadata={
        **frame_metadata(drift),
        "personas_to_review": int(latest["review"].sum()),
        "latest": dg.MetadataValue.md(markdown_table(latest)),
    })


ml_persona_assets = [ml_personas]
