"""Personas and customer value on the demo warehouse (and CDNOW), measured against the truth.

Personas: adjusted Rand index of `ml_personas` against the demo's hidden personas for customers with at least
3 touchpoints (target 0.6), next to a supervised ceiling: a classifier trained on the hidden personas with the
same features (4-fold cross-validated), which no clustering of these features can beat. Refresh stability: the
personas fitted a week before the as-of date, refreshed at the as-of date; the share of customers without any
new inbound touchpoint in that week who keep their persona (target 0.95).
Customer value: the time-split validation of the demo warehouse (calibration until half a year before the
as-of date) and of CDNOW (Fader & Hardie's 39-week calibration and holdout, and the 12-month horizon of the asset
after a half-year calibration; `ml/data/cdnow/CDNOW_sample.txt`, or the full CDNOW master file at CX_CDNOW_PATH).
"""

import os
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import adjusted_rand_score
from sklearn.model_selection import cross_val_predict

from cx_core.settings import REPO_ROOT, get_settings
from cx_core.warehouse import Warehouse, WarehouseFile, read_frame
from dagster_project.defs.assets.ml_customer_value import ORDERS_SQL
from dagster_project.defs.assets.ml_customers import demo_truth_customers
from dagster_project.defs.assets.ml_personas import SEED, load_behaviour
from ml.customer_value import (
    HORIZON_DAYS,
    SIMULATIONS,
    fit_value_model,
    holdout_days,
    simulate_intervals,
    validate_time_split,
    value_summary,
)
from ml.persona_features import behaviour_features, visible_before
from ml.personas import cluster_personas, transformed

TARGET_ARI = 0.6
TARGET_KEPT = 0.95
REFERENCE_DRAWS = 8000  # draws per (x, T) group that stand for the exact interval in the draws benchmark
REFRESH_DAYS = 7
CDNOW_PATH = Path(os.environ.get("CX_CDNOW_PATH", REPO_ROOT / "ml" / "data" / "cdnow" / "CDNOW_sample.txt"))
CDNOW_CALIBRATION_END = date(1997, 9, 30)
CDNOW_HOLDOUT_DAYS = 273  # 39 weeks, to 1998-06-30
# The value horizon of ml_customer_value (12 months) on the same history: half a year to calibrate, a year to check.
CDNOW_YEAR_CALIBRATION_END = date(1997, 6, 30)


def persona_figures(warehouse: Warehouse, truth_dir: Path) -> dict[str, float]:
    truth = demo_truth_customers(truth_dir).select("customer_key", "persona")
    assigned = read_frame(warehouse, "SELECT customer_key, persona_id FROM ml_personas").join(truth, on="customer_key")
    history = load_behaviour(warehouse, group=0, groups=1)  # the whole history: the refresh figures read it too
    as_of = history.touchpoints["occurred_at"].max().date()
    features = behaviour_features(history, as_of)
    labelled = features.join(truth, on="customer_key")
    matrix, _ = transformed(labelled)
    ceiling = cross_val_predict(HistGradientBoostingClassifier(max_iter=150, random_state=0), matrix,
                                labelled["persona"].to_numpy(), cv=4)
    return {
        "persona_customers_with_truth": float(assigned.height),
        "persona_ari": adjusted_rand_score(assigned["persona"], assigned["persona_id"]),
        "persona_supervised_ceiling_ari": adjusted_rand_score(labelled["persona"], ceiling),
        **refresh_figures(history, as_of),
    }


def refresh_figures(history, as_of: date) -> dict[str, float]:
    week_before = as_of - timedelta(days=REFRESH_DAYS)
    started = time.perf_counter()
    first = cluster_personas(behaviour_features(history, week_before), SEED)
    seconds = time.perf_counter() - started
    second = cluster_personas(behaviour_features(history, as_of), SEED, previous=first.model)
    active = visible_before(history, as_of).touchpoints.filter(
        (pl.col("direction") == "inbound") & (pl.col("occurred_at").dt.date() > week_before)
    ).select("customer_key").unique()
    unchanged = first.assignments.join(active, on="customer_key", how="anti").join(
        second.assignments, on="customer_key", suffix="_now"
    )
    return {
        "persona_refresh_previous_kept": float(second.kept_previous),
        "persona_unchanged_customers": float(unchanged.height),
        "persona_unchanged_kept_share": float((unchanged["persona_id"] == unchanged["persona_id_now"]).mean()),
        "persona_clustering_seconds": seconds,
        "persona_count": float(first.model.centroids.height),
    }


def cdnow_orders(path: Path) -> pl.DataFrame:
    """CDNOW transactions (customer id, id, yyyymmdd, CDs, dollars; blank-separated) as order rows."""
    fields = [line.split() for line in path.read_text().splitlines() if line.strip()]
    return pl.DataFrame({
        "customer_key": [row[0] for row in fields],
        "ordered_at": pl.Series([row[2] for row in fields]).str.strptime(pl.Datetime("us"), "%Y%m%d"),
        "order_type": ["sale"] * len(fields),
        "value_eur": [float(row[4]) for row in fields],
    })


def value_lines(name: str, validation) -> list[str]:
    metrics = validation.metrics
    lines = [f"{name}: {metrics['customers']:,.0f} customers, holdout {validation.holdout_days} days after "
             f"{validation.calibration_as_of}",
             f"  purchases predicted {metrics['predicted_purchases_total']:,.0f} vs actual {metrics['actual_purchases_total']:,.0f}; "
             f"value predicted {metrics['predicted_value_total_eur']:,.0f} vs actual {metrics['actual_value_total_eur']:,.0f}",
             f"  customer-level value correlation {metrics['value_correlation']:.3f}, MAE {metrics['value_mae_eur']:.1f}, "
             f"80 % interval coverage {metrics['value_interval_coverage']:.3f}, decile correlation "
             f"{metrics['decile_value_correlation']:.3f}",
             "  decile  customers  predicted value  actual value  predicted purchases  actual purchases"]
    lines += [f"  {r['decile']:>6}  {r['customers']:>9}  {r['predicted_value_eur']:>15.1f}  {r['actual_value_eur']:>12.1f}"
              f"  {r['predicted_purchases']:>19.2f}  {r['actual_purchases']:>16.2f}" for r in validation.deciles.iter_rows(named=True)]
    return lines


def interval_draws_lines(orders: pl.DataFrame, as_of: date) -> list[str]:
    """How far the value intervals with fewer draws per (x, T) group are from those with 8,000 draws (median
    relative difference over customers with a nonzero bound), and what each costs."""
    summary = value_summary(orders, as_of)
    model = fit_value_model(summary)
    reference = simulate_intervals(model, summary, float(HORIZON_DAYS), seed=1, draws=REFERENCE_DRAWS)
    lines = [f"value interval vs draws per (x, T) group ({summary.height:,} customers, "
             f"{summary.select(pl.struct('x', 'T').n_unique()).item():,} groups; against {REFERENCE_DRAWS:,} draws):"]
    for draws in (250, 500, 1000, SIMULATIONS, 4000):
        started = time.perf_counter()
        intervals = simulate_intervals(model, summary, float(HORIZON_DAYS), seed=0, draws=draws)
        seconds = time.perf_counter() - started
        errors = []
        for name in ("value_low", "value_high"):
            both = (intervals[name] + reference[name]) > 0
            errors.append(float(np.median(np.abs(intervals[name][both] - reference[name][both])
                                          / ((intervals[name][both] + reference[name][both]) / 2))))
        lines.append(f"  {draws:>5} draws{' (used)' if draws == SIMULATIONS else '       '}: low bound {errors[0]:.3f}, "
                     f"high bound {errors[1]:.3f} median relative difference, {seconds:.1f} s")
    return lines


def main() -> None:
    settings = get_settings()
    warehouse = WarehouseFile(settings.warehouse_path)
    figures = persona_figures(warehouse, settings.demo_truth_dir)
    print(f"persona ARI vs hidden personas (≥3 touchpoints, CRM customers): {figures['persona_ari']:.3f} "
          f"(target {TARGET_ARI}); supervised ceiling with the same features {figures['persona_supervised_ceiling_ari']:.3f}")
    print(f"refresh a week later: previous personas kept {bool(figures['persona_refresh_previous_kept'])}, "
          f"unchanged customers keeping their persona {figures['persona_unchanged_kept_share']:.3f} "
          f"of {figures['persona_unchanged_customers']:,.0f} (target {TARGET_KEPT})")
    print(f"clustering with k by bootstrap stability: {figures['persona_clustering_seconds']:.1f} s, "
          f"{figures['persona_count']:.0f} personas")
    orders = read_frame(warehouse, ORDERS_SQL)
    as_of = orders["ordered_at"].max().date()
    holdout = holdout_days(orders, as_of)
    print("\n".join(value_lines("demo customer value", validate_time_split(orders, as_of - timedelta(days=holdout), holdout))))
    print("\n".join(interval_draws_lines(orders, as_of)))
    cdnow = cdnow_orders(CDNOW_PATH)
    for calibration_end, holdout in ((CDNOW_CALIBRATION_END, CDNOW_HOLDOUT_DAYS), (CDNOW_YEAR_CALIBRATION_END, HORIZON_DAYS)):
        started = time.perf_counter()
        validation = validate_time_split(cdnow, calibration_end, holdout)
        print("\n".join(value_lines(f"CDNOW ({CDNOW_PATH.name})", validation)) + f"\n  {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
