"""Customer lifetime value: expected purchases and value over the next months, with intervals.

Purchases: BG/NBD (`ml/bgnbd.py`, Fader, Hardie & Lee 2005). Spend per purchase: the Gamma-Gamma model
(Fader, Hardie & Lee 2005, "RFM and CLV: using iso-value curves", appendix; Colombo & Jiang 1999): each
purchase of a customer is worth z ~ Gamma(p, ν), and ν ~ Gamma(q, γ) across customers, so a customer's
expected spend shrinks their own mean towards the population mean the more, the fewer purchases they made.
Fitted by maximum likelihood with scipy on customers with repeat purchases (their repeat purchases' values).

Intervals: posterior-predictive simulation (`INTERVAL` central range): alive with the BG/NBD probability; then
purchase rate λ ~ Gamma(r + x, α + T), drop-out probability p ~ Beta(a, b + x); purchases in the horizon =
min(Poisson(λ·h), Geometric(p)) (a customer drops out right after a purchase); value = sum of that many
purchases, Gamma(p·N, ν) with ν ~ Gamma(q + p·x, γ + x·m_x). The intervals carry the customer's own
uncertainty, not the uncertainty of the fitted parameters.
Simulated once per (x, T), not per customer (issue 19: 2,000 draws for each of 80,000 customers took 70 s):
given alive, purchases depend on x and T only (t_x enters through the probability alive), and value is
(γ + x·m_x) × Gamma(p·N, 1) / Gamma(q + p·x, 1), so value ÷ (γ + x·m_x) depends on x and N only. A customer's
quantile is then the quantile of their group's alive draws at the level left after the point mass of "not
alive" at zero, (level − (1 − P(alive))) ÷ P(alive), times their own γ + x·m_x. The 100k demo has 3,616 (x, T)
groups for 80,151 customers. The groups of one x share their draws (common random numbers; issue 19: drawing
every group afresh took 2.7 s of a refresh): the purchase rate is Gamma(r + x, 1) ÷ (α + T); the Poisson
purchases are the arrivals of a unit-rate Poisson process up to rate × horizon; the value of N purchases is
the sum of N Gamma(p, 1) spends ÷ the spend rate. Rate, drop-out, spend rate, arrivals and spends are drawn
once per x, so a group only counts arrivals and looks up cumulated spends; each group's draws still follow its
own distribution exactly. They come from generators seeded by (seed, x) and are extended in order as far as a
group needs, so an interval does not depend on which other customers are in the data.

Why our own code and not a library: see the README (Customer lifetime value).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl
# SciPy: imported in the functions that use it, not here. The Dagster definitions import this module, and
# every `cx run` paid for the import at start-up, before its first step (issue 19, tests/test_definitions_imports.py).

from ml.bgnbd import BgNbdParams, expected_purchases, fit
from ml.features import cutoff

HORIZON_DAYS = 365
# The holdout of the time split: the horizon itself when the history is long enough, else half the history.
MIN_HOLDOUT_DAYS = 28
INTERVAL = (0.1, 0.9)
SIMULATIONS = 2000  # draws per (x, T) group of customers, given alive


@dataclass(frozen=True)
class GammaGammaParams:
    p: float
    q: float
    gamma: float

    @property
    def population_mean_spend(self) -> float:
        return self.p * self.gamma / (self.q - 1.0) if self.q > 1.0 else float("inf")


def value_summary(orders: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """customer_key, x, t_x, T (days, as `bgnbd.rfm_summary`), and m_x: the mean value of the repeat purchase
    days (a day's sales summed; the first day is left out, as the Gamma-Gamma model is fitted on repeat
    purchases only), null without repeat purchases."""
    end = cutoff(as_of)
    days = (
        orders.filter(
            (pl.col("order_type") == "sale") & (pl.col("ordered_at") < end) & pl.col("customer_key").is_not_null()
        )
        .group_by("customer_key", pl.col("ordered_at").dt.date().alias("day"))
        .agg(pl.col("value_eur").sum().alias("value"))
        .sort("customer_key", "day")
    )
    return (
        days.group_by("customer_key", maintain_order=True)
        .agg(
            (pl.len() - 1).alias("x"),
            (pl.col("day").max() - pl.col("day").min()).dt.total_days().cast(pl.Float64).alias("t_x"),
            (pl.lit(end.date()) - pl.col("day").min()).dt.total_days().cast(pl.Float64).alias("T"),
            pl.col("value").slice(1).mean().alias("m_x"),
        )
    )


def gamma_gamma_log_likelihood(params: GammaGammaParams, x: np.ndarray, m_x: np.ndarray) -> np.ndarray:
    """Each customer's log-likelihood of their mean spend m_x over x purchases (x ≥ 1)."""
    from scipy.special import gammaln
    p, q, gamma = params.p, params.q, params.gamma
    return (
        gammaln(p * x + q) - gammaln(p * x) - gammaln(q) + q * np.log(gamma)
        + (p * x - 1) * np.log(m_x) + p * x * np.log(x) - (p * x + q) * np.log(gamma + m_x * x)
    )


def fit_gamma_gamma(x: np.ndarray, m_x: np.ndarray) -> GammaGammaParams:
    """Maximum likelihood on customers with x ≥ 1 and a positive mean spend; q is kept above 1 so that the
    population mean spend exists."""
    from scipy.optimize import minimize
    keep = (x >= 1) & (m_x > 0)
    x, m_x = x[keep].astype(float), m_x[keep].astype(float)

    def negative_log_likelihood(log_params: np.ndarray) -> float:
        p, q_minus_one, gamma = np.exp(log_params)
        return -float(gamma_gamma_log_likelihood(GammaGammaParams(p, 1.0 + q_minus_one, gamma), x, m_x).sum())

    start = np.log([1.0, 1.0, max(float(np.mean(m_x)), 1.0)])
    result = minimize(negative_log_likelihood, start, method="Nelder-Mead",
                      options={"maxiter": 4000, "xatol": 1e-7, "fatol": 1e-7})
    p, q_minus_one, gamma = np.exp(result.x)
    return GammaGammaParams(float(p), float(1.0 + q_minus_one), float(gamma))


def expected_spend(params: GammaGammaParams, x: np.ndarray, m_x: np.ndarray) -> np.ndarray:
    """E[spend per purchase | x, m_x]: the population mean for customers without repeat purchases."""
    p, q, gamma = params.p, params.q, params.gamma
    own = np.where(x > 0, np.nan_to_num(m_x), 0.0)
    return (gamma + own * x) * p / (p * x + q - 1.0)


def probability_alive(params: BgNbdParams, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """P(alive at T | x, t_x, T) (Fader, Hardie & Lee 2005, equation 11)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    with np.errstate(divide="ignore", invalid="ignore"):
        log_odds = np.log(a) - np.log(b + x - 1) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    return np.where(x > 0, 1.0 / (1.0 + np.exp(log_odds)), 1.0)


@dataclass(frozen=True)
class ValueModel:
    purchases: BgNbdParams
    spend: GammaGammaParams


def fit_value_model(summary: pl.DataFrame) -> ValueModel:
    return ValueModel(
        fit(summary),
        fit_gamma_gamma(summary["x"].to_numpy(), summary["m_x"].fill_null(0.0).to_numpy()),
    )


def simulate_intervals(model: ValueModel, summary: pl.DataFrame, horizon_days: float, seed: int,
                       draws: int = SIMULATIONS) -> dict[str, np.ndarray]:
    """Central `INTERVAL` of purchases and value in the horizon per customer, by simulation per (x, T) group
    (module doc), `draws` per group."""
    x, t_x, T = (summary[c].to_numpy().astype(float) for c in ("x", "t_x", "T"))
    spend_scale = model.spend.gamma + x * summary["m_x"].fill_null(0.0).to_numpy()
    dead_share = 1.0 - probability_alive(model.purchases, x, t_x, T)
    # The customers of each group as one list: iterating over group_by's frames gathers every group apart (0.8 s of
    # 2 s at 100k customers, issue 19). Sorted by x, so each x's shared draws are made once.
    groups = summary.select(pl.col("x").cast(pl.Int64), pl.col("T").cast(pl.Int64)).with_row_index("customer").group_by(
        "x", "T").agg("customer").sort("x", "T")
    intervals = {name: np.zeros(summary.height) for name in ("purchases_low", "purchases_high", "value_low", "value_high")}
    shared = None
    for group_x, group_T, members in groups.iter_rows():
        customers = np.array(members)
        if shared is None or shared.x != group_x:
            shared = _AliveWithX(model, group_x, seed, draws)
        purchases, value_per_scale = shared.simulate(group_T, horizon_days)
        for bound, level in zip(("low", "high"), INTERVAL):
            # the level within the alive draws; at or below zero the quantile is in the mass at zero
            with np.errstate(divide="ignore", invalid="ignore"):
                alive_level = (level - dead_share[customers]) / (1.0 - dead_share[customers])
            intervals[f"purchases_{bound}"][customers] = _sorted_quantile(purchases, alive_level)
            intervals[f"value_{bound}"][customers] = _sorted_quantile(value_per_scale, alive_level) * spend_scale[customers]
    return intervals


class _AliveWithX:
    """`draws` draws of a customer alive with x repeat purchases, for any T (module doc): purchase rate × (α + T),
    purchases until the drop-out, spend rate, and per draw the arrival times of a unit-rate Poisson process and
    the cumulated spends of successive purchases (row k: the k-th; row 0: zero), drawn further as groups need."""

    def __init__(self, model: ValueModel, x: int, seed: int, draws: int):
        bg, gg = model.purchases, model.spend
        self.x, self.model = x, model
        rng, self._arrival_rng, self._spend_rng = (
            np.random.default_rng(child) for child in np.random.SeedSequence([seed, x]).spawn(3))
        self.rate_times_age = rng.gamma(bg.r + x, 1.0, draws)
        # A history without visible drop-outs fits a tiny a: Beta draws then underflow to 0, which is "never drops".
        self.purchases_until_dropout = rng.geometric(np.clip(rng.beta(bg.a, bg.b + x, draws), 1e-12, 1.0))
        self.spend_rate = rng.gamma(gg.q + gg.p * x, 1.0, draws)
        self.arrivals = np.zeros((1, draws))
        self.cumulated_spend = np.zeros((1, draws))

    def simulate(self, T: int, horizon_days: float) -> tuple[np.ndarray, np.ndarray]:
        """Sorted draws of purchases and of value ÷ (γ + x·m_x) of a customer alive at T."""
        poisson_mean = self.rate_times_age * horizon_days / (self.model.purchases.alpha + T)
        # arrivals until each draw's last one lies beyond its mean, or its drop-out caps the count anyway
        while ((self.arrivals[-1] <= poisson_mean) & (len(self.arrivals) - 1 < self.purchases_until_dropout)).any():
            self.arrivals = _grown(self.arrivals, 2 * len(self.arrivals), self._arrival_rng.standard_exponential)
        purchases = np.minimum((self.arrivals[1:] <= poisson_mean).sum(axis=0), self.purchases_until_dropout)
        self.cumulated_spend = _grown(self.cumulated_spend, purchases.max() + 1,
                                      lambda shape: self._spend_rng.gamma(self.model.spend.p, 1.0, shape))
        value = self.cumulated_spend[purchases, np.arange(len(purchases))] / self.spend_rate
        return np.sort(purchases).astype(float), np.sort(value)


def _grown(cumulated: np.ndarray, rows: int, draw: Callable[[tuple[int, int]], np.ndarray]) -> np.ndarray:
    """Running totals (one row per step) with at least `rows` rows, the new steps' increments from `draw`; at
    least doubled, so growing step by step does not copy the rows again and again. A generator draws a block
    row by row and the totals run on from the last row in order, so row k is the same to the last bit however the
    rows were requested."""
    if rows <= len(cumulated):
        return cumulated
    increments = draw((max(rows, 2 * len(cumulated)) - len(cumulated), cumulated.shape[1]))
    return np.vstack([cumulated, np.cumsum(np.vstack([cumulated[-1:], increments]), axis=0)[1:]])


def _sorted_quantile(draws: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """np.quantile's linear interpolation of sorted `draws` at each level; 0 at levels of zero or below."""
    position = np.clip(levels, 0.0, 1.0) * (len(draws) - 1)
    below = np.floor(position).astype(int)
    above = np.minimum(below + 1, len(draws) - 1)
    quantile = draws[below] + (position - below) * (draws[above] - draws[below])
    return np.where(levels > 0, quantile, 0.0)


def customer_value(orders: pl.DataFrame, as_of: date, horizon_days: int = HORIZON_DAYS, seed: int = 0,
                   model: ValueModel | None = None) -> pl.DataFrame:
    """One row per customer with a sale up to `as_of`: probability alive, expected purchases and value in the
    next `horizon_days`, their intervals, and the expected spend per purchase. Fits the model on the same
    history unless one is given."""
    summary = value_summary(orders, as_of)
    model = model or fit_value_model(summary)
    x, t_x, T = (summary[c].to_numpy().astype(float) for c in ("x", "t_x", "T"))
    purchases = expected_purchases(model.purchases, float(horizon_days), x, t_x, T)
    spend = expected_spend(model.spend, x, summary["m_x"].fill_null(0.0).to_numpy())
    intervals = simulate_intervals(model, summary, float(horizon_days), seed)
    return summary.select("customer_key").with_columns(
        pl.lit(as_of).alias("as_of_date"),
        pl.lit(horizon_days).alias("horizon_days"),
        pl.Series("probability_alive", probability_alive(model.purchases, x, t_x, T)),
        pl.Series("expected_purchases", purchases),
        pl.Series("purchases_low", intervals["purchases_low"]),
        pl.Series("purchases_high", intervals["purchases_high"]),
        pl.Series("expected_spend_per_purchase_eur", spend),
        pl.Series("expected_value_eur", purchases * spend),
        pl.Series("value_low_eur", intervals["value_low"]),
        pl.Series("value_high_eur", intervals["value_high"]),
    )


@dataclass(frozen=True)
class ValueValidation:
    """Predicted against actual purchases and value in a holdout after a calibration cut-off."""

    calibration_as_of: date
    holdout_days: int
    model: ValueModel
    deciles: pl.DataFrame  # decile (1 = highest predicted value), customers, predicted/actual purchases and value
    metrics: dict[str, float]

    def model_card(self) -> pl.DataFrame:
        """A long table (section, metric, value, detail), like the churn model card."""
        bg, gg = self.model.purchases, self.model.spend
        rows = [("quality", name, value, None) for name, value in self.metrics.items()]
        rows += [
            ("setup", "calibration_as_of", None, self.calibration_as_of.isoformat()),
            ("setup", "holdout_days", float(self.holdout_days), None),
            ("setup", "model", None, "BG/NBD purchases × Gamma-Gamma spend, maximum likelihood (ml/customer_value.py)"),
            *(("parameter", f"bgnbd_{name}", float(getattr(bg, name)), None) for name in ("r", "alpha", "a", "b")),
            *(("parameter", f"gamma_gamma_{name}", float(getattr(gg, name)), None) for name in ("p", "q", "gamma")),
        ]
        for row in self.deciles.iter_rows(named=True):
            detail = f"{row['customers']} customers"
            rows.append(("decile_predicted_value_eur", str(row["decile"]), row["predicted_value_eur"], detail))
            rows.append(("decile_actual_value_eur", str(row["decile"]), row["actual_value_eur"], detail))
            rows.append(("decile_predicted_purchases", str(row["decile"]), row["predicted_purchases"], detail))
            rows.append(("decile_actual_purchases", str(row["decile"]), row["actual_purchases"], detail))
        return pl.DataFrame(
            rows, schema={"section": pl.String, "metric": pl.String, "value": pl.Float64, "detail": pl.String},
            orient="row",
        )


def holdout_days(orders: pl.DataFrame, as_of: date) -> int:
    """The holdout of the model card's time split as of `as_of`."""
    span = (as_of - orders["ordered_at"].min().date()).days
    return max(MIN_HOLDOUT_DAYS, min(HORIZON_DAYS, span // 2))


def holdout_actuals(orders: pl.DataFrame, start: date, days: int) -> pl.DataFrame:
    """customer_key, purchase days and value of sales in the `days` days after day `start`."""
    begin = cutoff(start)
    end = cutoff(start + timedelta(days=days))
    sales = orders.filter(
        (pl.col("order_type") == "sale") & (pl.col("ordered_at") >= begin) & (pl.col("ordered_at") < end)
    )
    return sales.group_by("customer_key").agg(
        pl.col("ordered_at").dt.date().n_unique().alias("actual_purchases"),
        pl.col("value_eur").sum().alias("actual_value_eur"),
    )


def validate_time_split(orders: pl.DataFrame, calibration_as_of: date, holdout_days: int, seed: int = 0) -> ValueValidation:
    """Fit on the sales up to `calibration_as_of`, predict the `holdout_days` after it for the customers
    known then, and compare with what they actually bought, overall and by decile of predicted value."""
    model = fit_value_model(value_summary(orders, calibration_as_of))
    predicted = customer_value(orders, calibration_as_of, holdout_days, seed, model)
    joined = predicted.join(holdout_actuals(orders, calibration_as_of, holdout_days), on="customer_key", how="left").with_columns(
        pl.col("actual_purchases", "actual_value_eur").fill_null(0)
    )
    deciles = (
        joined.with_columns(
            (pl.col("expected_value_eur").rank("ordinal", descending=True) * 10 / pl.len()).ceil().cast(pl.Int32).alias("decile")
        )
        .group_by("decile")
        .agg(
            pl.len().alias("customers"),
            pl.col("expected_purchases").mean().alias("predicted_purchases"),
            pl.col("actual_purchases").mean().alias("actual_purchases"),
            pl.col("expected_value_eur").mean().alias("predicted_value_eur"),
            pl.col("actual_value_eur").mean().alias("actual_value_eur"),
        )
        .sort("decile")
    )
    inside = (joined["actual_value_eur"] >= joined["value_low_eur"]) & (joined["actual_value_eur"] <= joined["value_high_eur"])
    metrics = {
        "customers": float(joined.height),
        "predicted_purchases_total": float(joined["expected_purchases"].sum()),
        "actual_purchases_total": float(joined["actual_purchases"].sum()),
        "predicted_value_total_eur": float(joined["expected_value_eur"].sum()),
        "actual_value_total_eur": float(joined["actual_value_eur"].sum()),
        "value_correlation": float(np.corrcoef(joined["expected_value_eur"], joined["actual_value_eur"])[0, 1]),
        "value_mae_eur": float((joined["expected_value_eur"] - joined["actual_value_eur"]).abs().mean()),
        "value_interval_coverage": float(inside.mean()),
        "decile_value_correlation": float(np.corrcoef(deciles["predicted_value_eur"], deciles["actual_value_eur"])[0, 1]),
    }
    return ValueValidation(calibration_as_of, holdout_days, model, deciles, metrics)
