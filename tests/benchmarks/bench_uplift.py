"""Campaign uplift measured on the demo's exports against the generator's true uplift: does the measured 95%
interval contain the truth? (Target: in at least 90% of the action × channel cells over 20 seeds.)

Each seed runs the real path: the demo generator (CUSTOMERS people, DAYS days; its triggered campaigns hold
out cx_demo.marketing.HOLDOUT_SHARE of the people per action by ml.holdout's hash and export them as control
rows), the real ingest, dbt up to fct_campaign_assignments, and ml_campaign_uplift's query and estimator
(Newcombe interval). The truth comes from the generator's campaign_responses: the true uplift of a cell is the
mean over its assignments of p_response × could_respond × (1 − converted_without_action), i.e. the chance the
action adds a purchase that would not have happened anyway. Held-out phone calls leave no record in a
dialler's export, so phone cells have no control group and are not measured.
"""

import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from cx_core.settings import get_settings
from cx_core.warehouse import WarehouseFile, read_frame
from cx_demo.marketing import CAMPAIGN_TYPE, HOLDOUT_SHARE, RESPONSE_WINDOW_DAYS
from dagster_project.defs.assets.ml_uplift import CAMPAIGN_OUTCOMES_SQL
from ml.holdout import uplift
from tests.helpers.demo_warehouse import build_demo_warehouse

SEEDS = range(20)
CUSTOMERS = 4_000
DAYS = 150
DBT_ARGS = ["build", "--select", "+fct_campaign_assignments", "--exclude-resource-type", "test", "unit_test"]


def true_uplift(truth_dir: Path, data_end: datetime) -> pl.DataFrame:
    """Per campaign_type × channel, over the assignments whose window ends by the last order (as measured)."""
    responses = pl.read_parquet(truth_dir / "campaign_responses.parquet")
    return (
        responses.filter(pl.col("sent_at") + pl.duration(days=RESPONSE_WINDOW_DAYS) <= data_end.replace(tzinfo=UTC))
        .group_by(action=pl.col("action").replace_strict(CAMPAIGN_TYPE), channel="channel")
        .agg(true_uplift=(pl.col("p_response") * pl.col("could_respond") * ~pl.col("converted_without_action")).mean(),
             true_held_out_share=pl.col("is_holdout").mean())
    )


def one_seed(seed: int, folder: Path) -> pl.DataFrame:
    with pytest.MonkeyPatch.context() as env:
        warehouse = WarehouseFile(build_demo_warehouse(folder, env, DBT_ARGS, customers=CUSTOMERS, days=DAYS, seed=seed))
        truth_dir = get_settings().demo_truth_dir
        outcomes = read_frame(warehouse, CAMPAIGN_OUTCOMES_SQL)
        data_end = read_frame(warehouse, "SELECT max(ordered_at) AS last_order FROM fct_orders")["last_order"][0]
    measured = uplift(outcomes, ["action", "channel"])
    return measured.join(true_uplift(truth_dir, data_end), on=["action", "channel"]).with_columns(pl.lit(seed).alias("seed"))


def main() -> None:
    started = time.perf_counter()
    cells = []
    for seed in SEEDS:
        with tempfile.TemporaryDirectory(prefix="cx-bench-uplift-") as tmp:
            cells.append(one_seed(seed, Path(tmp)))
    cells = pl.concat(cells).with_columns(
        ((pl.col("uplift_ci_low") <= pl.col("true_uplift")) & (pl.col("true_uplift") <= pl.col("uplift_ci_high")))
        .alias("covered"))
    per_cell = cells.group_by("action", "channel").agg(
        pl.len().alias("seeds"), pl.col("held_out").mean().round(1).alias("mean_held_out"),
        pl.col("true_uplift").mean().round(4), pl.col("uplift").mean().round(4).alias("mean_measured"),
        (pl.col("uplift_ci_high") - pl.col("uplift_ci_low")).mean().round(4).alias("mean_interval_width"),
        pl.col("covered").mean().round(3).alias("coverage"),
    ).sort("action", "channel")
    held_out_share = cells["held_out"].sum() / (cells["held_out"].sum() + cells["contacted"].sum())
    print(f"campaign uplift on generated exports: {len(SEEDS)} seeds × {CUSTOMERS:,} customers × {DAYS} days, "
          f"configured holdout share {HOLDOUT_SHARE:.0%}, measured {held_out_share:.1%}")
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=160):
        print(per_cell)
    print(f"true uplift inside the 95% interval in {cells['covered'].mean():.1%} of {cells.height} action × channel "
          f"cells (target ≥ 90%); {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
