"""Holdout uplift against the demo's true response model: does the measured uplift's 95% interval contain the
true uplift? (Target: in at least 90% of the action cells over 20 seeds.)

Each seed: 30,000 customers with the demo's persona mix get one action on one channel; CX_NBA_HOLDOUT_SHARE's
default 10% are held out by ml.holdout's hash of customer and action. Everyone buys organically with their
persona's chance; a contacted customer also responds with the true p_response of persona × action × channel
(cx_demo.marketing.response_model, the probability the demo generator uses). True uplift of a cell = mean of
p_response × (1 − organic) over its contacted customers. Measured = ml.holdout.uplift (Newcombe interval).
This checks the assignment and the estimator on the generator's truth; it does not run the generator's exports.
"""

import time

import numpy as np
import polars as pl

from cx_demo.marketing import ACTION_CHANNELS, ACTIONS, response_model
from cx_demo.people import PERSONA_NAMES
from ml.holdout import holdout_flags, uplift

SEEDS = range(20)
CUSTOMERS = 30_000
HOLDOUT_SHARE = 0.10
# 14-day organic purchase chance per persona (the order of magnitude of the demo's purchase rates)
ORGANIC = dict(zip(PERSONA_NAMES, (0.12, 0.08, 0.10, 0.06, 0.03)))


def one_seed(seed: int, truth: pl.DataFrame) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    customers = pl.DataFrame({
        "customer_key": [f"S{seed}-C{i}" for i in range(CUSTOMERS)],
        "persona": rng.choice(PERSONA_NAMES, CUSTOMERS),
        "action": rng.choice(ACTIONS, CUSTOMERS),
        "channel": rng.choice(ACTION_CHANNELS, CUSTOMERS),
    }).join(truth, on=["persona", "action", "channel"]).with_columns(
        pl.col("persona").replace_strict(ORGANIC).alias("organic"))
    customers = customers.with_columns(holdout_flags(customers["customer_key"], customers["action"], HOLDOUT_SHARE))
    organic = rng.random(customers.height) < customers["organic"].to_numpy()
    responded = rng.random(customers.height) < customers["p_response"].to_numpy()
    converted = organic | (responded & ~customers["is_holdout"].to_numpy())
    customers = customers.with_columns(pl.Series("converted", converted),
                                       (pl.col("p_response") * (1 - pl.col("organic"))).alias("true_uplift"))
    true = customers.filter(~pl.col("is_holdout")).group_by("action").agg(pl.col("true_uplift").mean())
    return uplift(customers, ["action"]).join(true, on="action").with_columns(pl.lit(seed).alias("seed"))


def main() -> None:
    started = time.perf_counter()
    truth = response_model()
    cells = pl.concat([one_seed(seed, truth) for seed in SEEDS]).with_columns(
        ((pl.col("uplift_ci_low") <= pl.col("true_uplift")) & (pl.col("true_uplift") <= pl.col("uplift_ci_high")))
        .alias("covered"))
    per_action = cells.group_by("action").agg(
        pl.col("true_uplift").mean().round(4), pl.col("uplift").mean().round(4).alias("mean_measured"),
        (pl.col("uplift_ci_high") - pl.col("uplift_ci_low")).mean().round(4).alias("mean_interval_width"),
        pl.col("covered").mean().round(3).alias("coverage"),
    ).sort("action")
    print(f"holdout uplift: {len(SEEDS)} seeds × {CUSTOMERS:,} customers, holdout share {HOLDOUT_SHARE:.0%}")
    print(per_action)
    coverage = cells["covered"].mean()
    print(f"true uplift inside the 95% interval in {coverage:.1%} of {cells.height} action cells (target ≥ 90%); "
          f"{time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
