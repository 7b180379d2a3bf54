"""Customer-level ML assets (group `ml`): churn scores with their model card, and the next best action.

Both read the marts with a short read-only connection, run the pure functions of `ml/`, and replace their
tables atomically. The as-of date is `CX_AS_OF` or, by default, the last event date in the data; the next
best actions use the churn scores' own as-of date, so both tables always describe the same day.
Optional inputs (web, e-mail, service, surveys, sentiment) are read only when their table exists.
When the orders cannot support the churn backtest (too short a history, no orders at all), churn is skipped,
not failed: empty scores and a model card whose status row holds the reason; the next best actions then run
without churn scores.
On the `spark` target churn reads the Parquet marts Spark wrote and builds features and scores partitioned on
Spark (`churn_path`, docs/SPARK.md); its scores become a view over Parquet, the model card a table as here.
Churn keeps its fitted model in CX_MODELS_DIR and rescores with it while it is younger than
CX_MODEL_MAX_AGE_DAYS (ml.churn_rescoring); the metadata and the model card say which model scored and why.
"""


from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
import polars as pl

from cx_core.customer_history import HISTORY_TABLES, load_history
from cx_core.settings import Settings
from cx_core.warehouse import Warehouse, read_frame, read_frames, replace_rows, replace_table, table_names
from dagster_project.defs.assets.dbt import warehouse_table_key
from dagster_project.defs.jobs import SKIP_DEMO_TRUTH_TAG
from dagster_project.defs.metadata import frame_metadata, skipped
from dagster_project.defs.resources import PipelineSettings, WarehouseResource, holds_warehouse_open
from ml.churn import (
    STATUS,
    ChurnModel,
    ChurnResult,
    NotEnoughHistory,
    score_churn,
    skipped_model_card,
    skipped_scores,
    train_and_score,
)
from ml.churn_rescoring import train_or_rescore
from ml.features import CustomerHistory, build_features, cutoff, last_event_date
from ml.holdout import holdout_flags
from ml.model_store import ModelInfo, ModelStore, library_versions, retrain_reason
from ml.next_best_action import CHANNEL_CONSENT, NO_ACTION, ContactCap, NbaInputs, plan_next_best_actions
from ml.policy_eval import evaluate_policy, true_model_probabilities

if TYPE_CHECKING:  # imported where the spark target needs it: it loads PySpark (see churn_path)
    from cx_core.spark_churn import SparkChurn

CUSTOMERS_SQL = f"""
    SELECT customer_key, segment, is_crm_contact, preferred_inbound_channel, {", ".join(CHANNEL_CONSENT.values())}
    FROM dim_customer_profiles
"""
# Every outbound marketing contact, on any channel, counts towards the cap and teaches the response rates.
CONTACTS_SQL = """
    SELECT customer_key, sent_at, channel, campaign_type
    FROM fct_marketing_contacts WHERE customer_key IS NOT NULL
"""
# The campaigns' control groups: their conversion is the organic baseline of the actions (ml.next_best_action).
HELD_OUT_SQL = """
    SELECT customer_key, sent_at, channel, campaign_type
    FROM fct_campaign_assignments WHERE is_holdout AND customer_key IS NOT NULL
"""
CHURN_SCORES_SQL = "SELECT customer_key, as_of_date, churn_probability, top_reason FROM ml_churn_scores"
CATALOGUE_SQL = "SELECT * FROM nba_actions"
CHURN_DEPS = [warehouse_table_key(table) for table in HISTORY_TABLES]
NBA_DEPS = [
    *(warehouse_table_key(table) for table in ("ml_churn_scores", "dim_customer_profiles", "fct_marketing_contacts",
                                               "fct_campaign_assignments", "nba_actions")),
    *CHURN_DEPS,
]
PREVIEW_ROWS = 10
# The next best actions' one fitted model, the BG/NBD organic purchase model (ml.next_best_action), kept like churn's.
ORGANIC_MODEL = "nba_organic_purchases"
ORGANIC_FEATURES = ("x", "t_x", "T")  # its summary per customer: repeat purchase days, recency and age in days


def markdown_table(frame: pl.DataFrame, digits: int = 3) -> str:
    rounded = frame.with_columns(pl.col(pl.Float64).round(digits))
    lines = ["| " + " | ".join(rounded.columns) + " |", "|" + "---|" * rounded.width]
    lines += ["| " + " | ".join("" if v is None else str(v).replace("|", "/") for v in row) + " |" for row in rounded.rows()]
    return "\n".join(lines)


def churn_metadata(result: ChurnResult) -> dict[str, object]:
    quality = result.evaluation.metrics
    bands = dict(result.scores.group_by("risk_band").len().iter_rows())
    return {
        "status": "trained",
        **{name: dg.MetadataValue.float(round(value, 4)) for name, value in quality.items()},
        "bgnbd_baseline_roc_auc": dg.MetadataValue.float(round(result.baseline_roc_auc, 4)),
        "as_of": result.dates.score_as_of.isoformat(),
        "train_as_of": result.dates.train_as_of.isoformat(),
        "evaluation_as_of": result.dates.evaluation_as_of.isoformat(),
        "horizon_days": result.horizon_days,
        "feature_families": ", ".join(result.families),
        "scored_customers": result.scores.height,
        **{f"risk_band_{band}": bands.get(band, 0) for band in ("high", "medium", "low")},
        "calibration": dg.MetadataValue.md(markdown_table(result.evaluation.calibration)),
        "feature_importance": dg.MetadataValue.md(markdown_table(result.evaluation.importance.head(15), digits=4)),
    }


class InProcessChurn:
    """Churn in this process on the marts of the DuckDB warehouse (`history`: all their rows)."""

    def __init__(self, warehouse: Warehouse):
        self.warehouse = warehouse
        self.history = load_history(warehouse)

    def train_and_score(self, as_of: date, horizon_days: int) -> ChurnResult:
        result = train_and_score(self.history, as_of, horizon_days)
        self.store_scores(result.scores)
        return result

    def score(self, model: ChurnModel, families: list[str], as_of: date) -> pl.DataFrame:
        """Every customer scored with a fitted model (a stored one: no training); stores the scores."""
        scores = score_churn(model, build_features(self.history, as_of, families), as_of)
        self.store_scores(scores)
        return scores

    def store_scores(self, scores: pl.DataFrame) -> None:
        replace_table(self.warehouse, "ml_churn_scores", scores)


def churn_path(settings: Settings, warehouse: Warehouse) -> "InProcessChurn | SparkChurn":
    """Where churn reads the marts and writes its scores: on the `spark` target partitioned on Spark from the
    Parquet marts (cx_core.spark_churn, scores published as a view), else in this process from DuckDB."""
    if settings.dbt_target != "spark":
        return InProcessChurn(warehouse)
    # Imported here, not at the top: it loads PySpark, which every `cx run` on DuckDB paid for at start-up (issue 19).
    from cx_core.spark_churn import SparkChurn

    return SparkChurn(settings)


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "ml_churn_scores", group_name="ml", deps=CHURN_DEPS, kinds={"python", "duckdb"},
            description="Churn probability (no purchase within the horizon), risk band and top three reasons "
                        "in words for every customer with a purchase before the as-of date.",
        ),
        dg.AssetSpec(
            "ml_churn_model_card", group_name="ml", deps=CHURN_DEPS, kinds={"python", "duckdb"},
            description="The churn model's time-split quality (ROC AUC, PR AUC, Brier, top-decile lift, BG/NBD "
                        "baseline), calibration table, feature importance and the feature families it used.",
        ),
    ],
    pool="duckdb",
)
@holds_warehouse_open
def ml_churn(context: dg.AssetExecutionContext, cx: PipelineSettings, warehouse: WarehouseResource):
    settings = cx.settings
    churn = churn_path(settings, warehouse)
    as_of = scoring_date(settings.as_of, churn.history)
    try:
        run = train_or_rescore(ModelStore(settings.models_dir), churn, as_of, settings.churn_horizon_days,
                               settings.model_max_age_days, now=datetime.now(timezone.utc))
    except NotEnoughHistory as error:
        yield from skip_churn(context, warehouse, churn, str(error), as_of, settings)
        return
    result = run.result
    context.log.info(f"churn as of {as_of}: {run.scoring}; ROC AUC {result.evaluation.metrics['roc_auc']:.3f}, "
                     f"families {result.families}")
    card = run.model_card()
    replace_table(warehouse, "ml_churn_model_card", card)
    metadata = churn_metadata(result) | {"scoring": run.scoring,
                                         "model_trained_at": run.trained_at.isoformat(timespec="seconds")}
    preview = result.scores.sort("churn_probability", descending=True).head(PREVIEW_ROWS).select(
        "customer_key", "churn_probability", "risk_band", "top_reason", "second_reason", "third_reason"
    )
    yield dg.MaterializeResult(
        asset_key="ml_churn_scores",
        metadata={**metadata, **frame_metadata(result.scores), "preview": dg.MetadataValue.md(markdown_table(preview))},
    )
    yield dg.MaterializeResult(asset_key="ml_churn_model_card", metadata={**metadata, **frame_metadata(card)})


def scoring_date(configured: str | None, history: CustomerHistory) -> date:
    """CX_AS_OF, else the day of the newest row in the history (today for a warehouse without any)."""
    if configured:
        return date.fromisoformat(configured)
    return last_event_date(history) or date.today()


def churn_skip_reason(warehouse: Warehouse) -> str | None:
    """Why the latest churn run did not train (from its model card), or None when it did."""
    if "ml_churn_model_card" not in table_names(warehouse):
        return None
    skipped = read_frame(
        warehouse, f"SELECT detail FROM ml_churn_model_card WHERE section = '{STATUS}' AND metric = 'skipped'"
    )
    return skipped["detail"][0] if skipped.height else None


def skip_churn(
    context: dg.AssetExecutionContext, warehouse: Warehouse, churn: "InProcessChurn | SparkChurn", reason: str,
    as_of: date, settings: Settings,
):
    """Churn cannot be trained on this data: empty scores and a card that says why, so the run goes on and the
    next best actions and the report show the reason instead of failing."""
    context.log.warning(f"churn skipped as of {as_of}: {reason}")
    scores, card = skipped_scores(), skipped_model_card(reason, as_of, settings.churn_horizon_days)
    churn.store_scores(scores)
    replace_table(warehouse, "ml_churn_model_card", card)
    metadata = {**skipped(reason), "as_of": as_of.isoformat(), "scored_customers": 0}
    yield dg.MaterializeResult(asset_key="ml_churn_scores", metadata={**metadata, **frame_metadata(scores)})
    yield dg.MaterializeResult(asset_key="ml_churn_model_card", metadata={**metadata, **frame_metadata(card)})


def load_nba_inputs(warehouse: Warehouse, churn_scores: pl.DataFrame | None = None) -> NbaInputs:
    """Customers, their history, every outbound contact, the campaigns' control groups (when the warehouse has
    them) and (unless given) the churn scores, from the warehouse."""
    queries = {"customers": CUSTOMERS_SQL, "contacts": CONTACTS_SQL}
    if churn_scores is None:
        queries["churn_scores"] = CHURN_SCORES_SQL
    if "fct_campaign_assignments" in table_names(warehouse):
        queries["held_out"] = HELD_OUT_SQL
    frames = read_frames(warehouse, queries)
    return NbaInputs(customers=frames["customers"], history=load_history(warehouse), contacts=frames["contacts"],
                     churn_scores=frames.get("churn_scores", churn_scores), held_out=frames.get("held_out"))


def demo_truth_customers(truth_dir: Path) -> pl.DataFrame:
    """The demo truth's persons with a CRM id, keyed by their customer_key ('C-' || CRM id, the key rule of
    int_identity_components)."""
    return pl.read_parquet(truth_dir / "persons.parquet").filter(pl.col("customer_id").is_not_null()).with_columns(
        ("C-" + pl.col("customer_id")).alias("customer_key")
    )


def demo_true_response_probabilities(truth_dir: Path) -> pl.DataFrame | None:
    """customer_key, action, channel, response_probability of the demo truth (each CRM customer's hidden
    persona × the true response model); None for real data, which has no truth."""
    model = truth_dir / "response_model.parquet"
    if not ((truth_dir / "persons.parquet").exists() and model.exists()):
        return None
    personas = demo_truth_customers(truth_dir).select("customer_key", "persona")
    return true_model_probabilities(personas, pl.read_parquet(model))


def record_assignments(warehouse: Warehouse, actions: pl.DataFrame, as_of: date) -> None:
    """Keep every run's recommendations with their holdout flag in `ml_nba_assignments` (a rerun for the same
    as-of date replaces that date's rows), so uplift can be measured when the outcomes arrive."""
    assignments = actions.filter(pl.col("action") != NO_ACTION).select(
        "as_of_date", "customer_key", "action", "channel", "is_holdout")
    replace_rows(warehouse, "ml_nba_assignments", assignments, "as_of_date", as_of)


@dg.asset(
    group_name="ml",
    pool="duckdb",
    deps=NBA_DEPS,
    kinds={"python", "duckdb"},
    description="Exactly one next best action per active customer: action, channel (with consent, under the "
                "contact cap), expected value and a reason in words; is_holdout marks the customers held out "
                "(CX_NBA_HOLDOUT_SHARE, stable per customer and action), recorded in ml_nba_assignments.",
)
@holds_warehouse_open
def ml_next_best_actions(
    context: dg.AssetExecutionContext, cx: PipelineSettings, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    settings = cx.settings
    inputs = load_nba_inputs(warehouse)
    # The churn scores' own date, so both tables describe the same day. Without scores (churn skipped) the plan
    # still runs: only the churn-based rules find nobody.
    scored_on = inputs.churn_scores["as_of_date"].max()
    as_of = scored_on if scored_on and not settings.as_of else scoring_date(settings.as_of, inputs.history)
    cap = ContactCap.parse(settings.contact_cap)
    catalogue = read_frame(warehouse, CATALOGUE_SQL)
    store, now = ModelStore(settings.models_dir), datetime.now(timezone.utc)
    refit = retrain_reason(store.info(ORGANIC_MODEL), {}, as_of, now, settings.model_max_age_days)
    plan = plan_next_best_actions(inputs, catalogue, as_of, cap, settings.currency,
                                  organic=None if refit else store.load(ORGANIC_MODEL))
    if refit:
        store.save(plan.organic_model, ModelInfo(
            name=ORGANIC_MODEL, trained_at=now, as_of=as_of, features=list(ORGANIC_FEATURES),
            training_rows=inputs.history.orders.filter(
                (pl.col("order_type") == "sale") & (pl.col("ordered_at") < cutoff(as_of)))["customer_key"].n_unique(),
            parameters={}, library_versions=library_versions()))
    actions = plan.recommendations.with_columns(pl.lit(as_of).alias("as_of_date"))
    actions = actions.with_columns(
        (holdout_flags(actions["customer_key"], actions["action"], settings.nba_holdout_share)
         & (pl.col("action") != NO_ACTION)).alias("is_holdout"))
    replace_table(warehouse, "ml_next_best_actions", actions)
    record_assignments(warehouse, actions, as_of)
    context.log.info(f"{actions.height} recommendations as of {as_of}")
    counts = actions.group_by("action").agg(
        pl.len().alias("customers"), pl.col("expected_value_eur").sum().round(2).alias("expected_value_eur")
    ).sort("customers", descending=True)
    contacted = actions.filter(pl.col("action") != NO_ACTION)
    measures_truth = context.run.tags.get(SKIP_DEMO_TRUTH_TAG) != "true"
    truth = demo_true_response_probabilities(settings.demo_truth_dir) if measures_truth else None
    evaluation = evaluate_policy(plan, catalogue, truth) if truth is not None else {}
    return dg.MaterializeResult(
        metadata={
            **frame_metadata(actions),
            "as_of": as_of.isoformat(),
            "churn_scores": f"not available: {skip_reason}" if (skip_reason := churn_skip_reason(warehouse)) else "used",
            "organic_model": f"refitted: {refit}" if refit else
                             f"reused the BG/NBD model fitted on {store.info(ORGANIC_MODEL).trained_at.date().isoformat()}",
            "customers": actions.height,
            "contacted": contacted.height,
            "held_out": int(actions["is_holdout"].sum()),
            "expected_value_eur_total": dg.MetadataValue.float(round(float(actions["expected_value_eur"].sum()), 2)),
            "currency": settings.currency,
            "contact_cap": cap.describe(),
            # Which organic baseline each action's response rates were learned against (holdout or bgnbd).
            "organic_baseline": dg.MetadataValue.md(markdown_table(plan.organic_baselines)),
            "actions": dg.MetadataValue.md(markdown_table(counts)),
            "channels": dg.MetadataValue.md(markdown_table(contacted.group_by("channel").len().sort("len", descending=True))),
            "preview": dg.MetadataValue.md(markdown_table(
                contacted.sort("expected_value_eur", descending=True).head(PREVIEW_ROWS)
                .select("customer_key", "action", "channel", "expected_value_eur", "reason")
            )),
            **{f"demo_truth_{name}": dg.MetadataValue.float(round(value, 4))
               for name, value in evaluation.items() if isinstance(value, float)},
        }
    )


ml_customer_assets = [ml_churn, ml_next_best_actions]
