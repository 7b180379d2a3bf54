"""Churn model and next-best-action policy on the demo warehouse, measured against the demo truth.

Reads the warehouse that `make run` built and `data/demo_truth/` (settings paths). Churn: the time-split
evaluation of the full model, of the same model on purchase history alone, of the BG/NBD expected-purchases
ranking on that same split, and of an oracle that knows the truth's hidden purchase rates and churn dates
(the ceiling of any model on this demo). Next best action: the policy's expected value priced with the true
response model (persona × action × channel), against the best single action for everyone and the oracle
that knows the true probabilities (ml/policy_eval.py defines both).
"""

import time
from datetime import date
from pathlib import Path

import polars as pl
from sklearn.metrics import roc_auc_score

from dagster_project.defs.assets.ml_customers import (
    CATALOGUE_SQL,
    demo_true_response_probabilities,
    demo_truth_customers,
    load_nba_inputs,
)
from cx_core.customer_history import load_history
from cx_core.settings import get_settings
from cx_core.warehouse import WarehouseFile, read_frame
from ml.churn import BacktestDates, Evaluation, bgnbd_roc_auc, evaluate_backtest, train_and_score
from ml.features import PURCHASES, last_event_date
from ml.next_best_action import ContactCap, NbaInputs, plan_next_best_actions
from ml.policy_eval import cap_breaks, consent_breaks, evaluate_policy

TARGET_ROC_AUC = 0.80
TARGET_VS_BEST_SINGLE_ACTION = 1.3
TARGET_VS_ORACLE = 0.85


def churn_oracle_figures(evaluation: Evaluation, truth_dir: Path, evaluation_as_of: date, horizon_days: int) -> dict[str, float]:
    """ROC AUC on the evaluation customers the truth knows (CRM ids), of the model and of an oracle that knows
    each person's hidden purchase rate and whether they have already churned: score 1 when churned by the
    evaluation date, else P(no purchase within the horizon) = exp(−rate × horizon / 365). No model that sees
    only the exports can beat the oracle, so its figure bounds what the target can ask of this demo."""
    persons = demo_truth_customers(truth_dir).select("customer_key", "churn_date", "purchase_rate_per_year")
    known = pl.DataFrame(
        {"customer_key": evaluation.customer_keys, "label": evaluation.labels, "model": evaluation.probabilities}
    ).join(persons, on="customer_key")
    alive = pl.col("churn_date").is_null() | (pl.col("churn_date") > evaluation_as_of)
    oracle = known.select(
        pl.when(alive).then((-pl.col("purchase_rate_per_year") * horizon_days / 365).exp()).otherwise(1.0)
    ).to_series()
    return {
        "churn_truth_known_customers": float(known.height),
        "churn_truth_known_roc_auc": float(roc_auc_score(known["label"], known["model"])),
        "churn_oracle_roc_auc": float(roc_auc_score(known["label"], oracle)),
    }


def churn_figures(history, as_of: date, horizon_days: int, truth_dir: Path) -> tuple[dict[str, float], pl.DataFrame]:
    started = time.perf_counter()
    result = train_and_score(history, as_of, horizon_days)
    seconds = time.perf_counter() - started
    dates = BacktestDates.before(as_of, horizon_days)
    purchases_only = evaluate_backtest(history.only_purchases(), dates, horizon_days, [PURCHASES])
    metrics = result.evaluation.metrics
    figures = {
        "churn_roc_auc": metrics["roc_auc"],
        "churn_pr_auc": metrics["pr_auc"],
        "churn_brier_score": metrics["brier_score"],
        "churn_lift_top_decile": metrics["lift_top_decile"],
        "churn_base_rate": metrics["base_rate"],
        "churn_evaluation_customers": metrics["evaluation_customers"],
        "churn_target_roc_auc": TARGET_ROC_AUC,
        "churn_purchases_only_roc_auc": purchases_only.metrics["roc_auc"],
        "churn_purchases_only_pr_auc": purchases_only.metrics["pr_auc"],
        "churn_bgnbd_roc_auc": bgnbd_roc_auc(history, dates, horizon_days, purchases_only),
        **churn_oracle_figures(result.evaluation, truth_dir, dates.evaluation_as_of, horizon_days),
        "churn_seconds": seconds,
        "churn_families": ", ".join(result.families),
    }
    return figures, result.scores


def nba_figures(inputs: NbaInputs, catalogue: pl.DataFrame, as_of: date, cap: ContactCap, truth_dir) -> dict[str, float]:
    started = time.perf_counter()
    plan = plan_next_best_actions(inputs, catalogue, as_of, cap)
    seconds = time.perf_counter() - started
    evaluation = evaluate_policy(plan, catalogue, demo_true_response_probabilities(truth_dir))
    actions = plan.recommendations
    return {
        f"nba_{name}": value for name, value in evaluation.items()
    } | {
        "nba_customers": actions.height,
        "nba_contacted": actions.filter(pl.col("action") != "no_action").height,
        "nba_consent_breaks": consent_breaks(actions, inputs.customers),
        "nba_cap_breaks": cap_breaks(actions, inputs.contacts, as_of, cap),
        "nba_target_vs_best_single_action": TARGET_VS_BEST_SINGLE_ACTION,
        "nba_target_vs_oracle": TARGET_VS_ORACLE,
        "nba_seconds": seconds,
    }


def run() -> dict[str, float]:
    settings = get_settings()
    if not (settings.warehouse_path.exists() and (settings.demo_truth_dir / "response_model.parquet").exists()):
        raise FileNotFoundError(
            f"needs a built warehouse ({settings.warehouse_path}) and the demo truth ({settings.demo_truth_dir}): "
            "run `make run` first"
        )
    warehouse = WarehouseFile(settings.warehouse_path)
    history = load_history(warehouse)
    as_of = date.fromisoformat(settings.as_of) if settings.as_of else last_event_date(history)
    figures, scores = churn_figures(history, as_of, settings.churn_horizon_days, settings.demo_truth_dir)
    # the policy of this run's churn scores, not of whatever table the warehouse holds
    inputs = load_nba_inputs(warehouse, churn_scores=scores)
    catalogue = read_frame(warehouse, CATALOGUE_SQL)
    cap = ContactCap.parse(settings.contact_cap)
    return figures | nba_figures(inputs, catalogue, as_of, cap, settings.demo_truth_dir)


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name:>40}: {value:.4f}" if isinstance(value, float) else f"{name:>40}: {value}")
