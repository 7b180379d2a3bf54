"""The BG/NBD model (Fader, Hardie & Lee 2005, "Counting your customers the easy way"): the classic
purchase-history baseline for non-contractual churn. Fitted by maximum likelihood with numpy/scipy.

Each customer buys at a Poisson rate λ ~ Gamma(r, α) while alive and drops out after any purchase with
probability p ~ Beta(a, b). A customer's history is summarised by x (repeat purchases: purchase days after
the first), t_x (days from the first to the last purchase) and T (days from the first purchase to the cut-off).
The ranking the baseline gives is the expected number of purchases in the next `horizon` days: fewer means
more likely to churn.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl
# SciPy: imported in the functions that use it, not here. The Dagster definitions import this module, and
# every `cx run` paid for the import at start-up, before its first step (issue 19, tests/test_definitions_imports.py).

from ml.features import cutoff


LOG_PARAM_BOUNDS = (-9.0, 9.0)  # every parameter between about 0.0001 and 8000


@dataclass(frozen=True)
class BgNbdParams:
    r: float
    alpha: float
    a: float
    b: float


def rfm_summary(orders: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """customer_key, x, t_x, T (days) from the sales before the cut-off; one purchase per calendar day."""
    end = cutoff(as_of)
    days = (
        orders.filter(
            (pl.col("order_type") == "sale") & (pl.col("ordered_at") < end) & pl.col("customer_key").is_not_null()
        )
        .select("customer_key", pl.col("ordered_at").dt.date().alias("day"))
        .unique()
    )
    return (
        days.group_by("customer_key")
        .agg(
            (pl.len() - 1).alias("x"),
            (pl.col("day").max() - pl.col("day").min()).dt.total_days().cast(pl.Float64).alias("t_x"),
            (pl.lit(end.date()) - pl.col("day").min()).dt.total_days().cast(pl.Float64).alias("T"),
        )
        .sort("customer_key")
    )


def log_likelihood(params: BgNbdParams, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Each customer's log-likelihood (equation 6 of the paper, in logs for stability)."""
    from scipy.special import betaln, gammaln
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    alive_through_T = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + T)
    # Only customers with repeat purchases can have dropped out right after their last one (at t_x).
    with np.errstate(divide="ignore", invalid="ignore"):
        dropped_after_t_x = np.where(
            x > 0,
            betaln(a + 1, b + x - 1) - betaln(a, b) - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
    return common + np.logaddexp(alive_through_T, dropped_after_t_x)


def fit(summary: pl.DataFrame) -> BgNbdParams:
    """Maximum-likelihood parameters for an `rfm_summary` frame (optimised on log-parameters)."""
    from scipy.optimize import minimize
    x, t_x, T = (summary[c].to_numpy().astype(float) for c in ("x", "t_x", "T"))

    def negative_log_likelihood(log_params: np.ndarray) -> float:
        return -float(log_likelihood(BgNbdParams(*np.exp(log_params)), x, t_x, T).sum())

    start = np.log([1.0, max(float(T.mean()), 1.0), 1.0, 1.0])
    # Bounded: on a history without visible drop-outs the likelihood keeps rising as p -> 0 (b -> infinity).
    result = minimize(
        negative_log_likelihood, start, method="Nelder-Mead", bounds=[LOG_PARAM_BOUNDS] * 4,
        options={"maxiter": 4000, "xatol": 1e-6, "fatol": 1e-6},
    )
    return BgNbdParams(*(float(value) for value in np.exp(result.x)))


def expected_purchases(params: BgNbdParams, horizon: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """E[purchases in (T, T + horizon] | x, t_x, T] (equation 10 of the paper)."""
    from scipy.special import hyp2f1
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    z = horizon / (alpha + T + horizon)
    growth = 1.0 - ((alpha + T) / (alpha + T + horizon)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z)
    numerator = (a + b + x - 1) / (a - 1) * growth
    alive_odds = np.where(x > 0, a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x), 0.0)
    return numerator / (1.0 + alive_odds)


def churn_ranking(orders: pl.DataFrame, fit_as_of: date, score_as_of: date, horizon_days: int) -> pl.DataFrame:
    """Fit on the history up to `fit_as_of`, then give every customer with a purchase up to `score_as_of`
    its expected purchases in the next `horizon_days` (`bgnbd_expected_purchases`) and a churn score
    (`bgnbd_churn_score` = −expected purchases: higher means more likely to churn)."""
    return ranking(fit(rfm_summary(orders, fit_as_of)), rfm_summary(orders, score_as_of), horizon_days)


def ranking(params: BgNbdParams, summary: pl.DataFrame, horizon_days: int) -> pl.DataFrame:
    """`churn_ranking` of the customers of an `rfm_summary` frame, with fitted parameters."""
    expected = expected_purchases(
        params, float(horizon_days), *(summary[c].to_numpy().astype(float) for c in ("x", "t_x", "T"))
    )
    return summary.select("customer_key").with_columns(
        pl.Series("bgnbd_expected_purchases", expected), pl.Series("bgnbd_churn_score", -expected)
    )


def purchase_probability_after(orders: pl.DataFrame, moments: pl.DataFrame, params: BgNbdParams, days: float) -> pl.Series:
    """For each row of `moments` (customer_key, at): the probability, by the BG/NBD model, that the customer
    buys at least once in the `days` after `at`, given their purchases before it (0 without any)."""
    # Each sale day carries its customer's first sale day and the number of sale days before it (x), so a moment's
    # summary is that of its customer's last sale day before the moment's day: one as-of join, not each moment
    # joined with all its customer's sales (1.75 M contacts at 100k customers: 1.1 -> 0.6 s; issue 19).
    sale_days = (
        orders.filter((pl.col("order_type") == "sale") & pl.col("customer_key").is_not_null())
        .select("customer_key", pl.col("ordered_at").dt.date().alias("day"))
        .unique()
        .sort("customer_key", "day")
        .with_columns(pl.col("day").first().over("customer_key").alias("first_day"),
                      pl.int_range(pl.len()).over("customer_key").cast(pl.Float64).alias("x"))
        .sort("day")
    )
    latest_sale = (
        moments.select("customer_key", pl.col("at").dt.date().alias("at_day")).with_row_index("moment")
        .sort("at_day")
        # both sides are sorted by day overall, hence within every customer too
        .join_asof(sale_days, left_on="at_day", right_on="day", by="customer_key", strategy="backward",
                   allow_exact_matches=False, check_sortedness=False)
        .sort("moment")
    )
    bought = latest_sale["day"].is_not_null().to_numpy()
    summary = latest_sale.filter(bought).select(
        "x",
        (pl.col("day") - pl.col("first_day")).dt.total_days().cast(pl.Float64).alias("t_x"),
        (pl.col("at_day") - pl.col("first_day")).dt.total_days().cast(pl.Float64).alias("T"),
    )
    expected = expected_purchases(params, days, *(summary[c].to_numpy() for c in ("x", "t_x", "T")))
    probability = np.zeros(latest_sale.height)
    # purchases as a Poisson count: at least one with probability 1 − e^(−expected)
    probability[bought] = 1.0 - np.exp(-expected)
    return pl.Series("p", probability)
