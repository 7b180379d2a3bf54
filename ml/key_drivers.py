"""Key drivers of NPS and CSAT (polars in, polars out): which experiences move the score, by how much, and how
much of the overall score they cost, with significance and intervals.

Each answer becomes its contribution to the KPI (NPS: +100 promoter, −100 detractor, 0 passive, so the mean is
the NPS; CSAT: 100 when satisfied, so the mean is the CSAT share in %). One linear model of that value on all
experience flags at once gives each experience's effect adjusted for the others (a repeat contact is not
blamed for the unresolved issue behind it), with heteroskedasticity-robust (HC1) standard errors. Impact =
effect × prevalence: the points of the overall KPI the experience costs (or earns) today, which separates
"strong but rare" from "weak but common". These are associations in observational data, not proof of cause.
"""

from __future__ import annotations

import numpy as np
import polars as pl
# Student's t from scipy.special, the functions scipy.stats.t calls: the same numbers without importing
# scipy.stats (0.7 s of the voice-of-customer report's kernel, issue 19).
# SciPy: imported in the functions that use it, not here. The Dagster definitions import this module, and
# every `cx run` paid for the import at start-up, before its first step (issue 19, tests/test_definitions_imports.py).

ANSWER_VALUE = {
    "nps": (pl.when(pl.col("score") >= 9).then(100.0).when(pl.col("score") <= 6).then(-100.0).otherwise(0.0)),
    "csat": pl.when(pl.col("score") >= 4).then(100.0).otherwise(0.0),
}
DRIVER_SCHEMA = {
    "experience": pl.String, "answers_with": pl.Int64, "prevalence": pl.Float64, "kpi_with": pl.Float64,
    "kpi_without": pl.Float64, "effect": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64,
    "p_value": pl.Float64, "impact": pl.Float64, "impact_ci_low": pl.Float64, "impact_ci_high": pl.Float64,
    "importance": pl.Float64,
}


def robust_ols(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients and HC1 standard errors of y on x (x includes the intercept column)."""
    n, k = x.shape
    xtx_inv = np.linalg.pinv(x.T @ x)
    beta = xtx_inv @ x.T @ y
    residuals = y - x @ beta
    meat = (x * residuals[:, None] ** 2).T @ x
    covariance = xtx_inv @ meat @ xtx_inv * n / max(n - k, 1)
    return beta, np.sqrt(np.diag(covariance))


def key_drivers(answers: pl.DataFrame, survey_type: str, experiences: list[str], min_answers: int = 30) -> pl.DataFrame:
    """One row per experience with at least `min_answers` answers on each side, largest |impact| first.

    answers: `score` and one boolean column per experience (true = the customer had it before answering)."""
    from scipy.special import stdtr, stdtrit
    usable = [e for e in experiences if min(answers[e].sum(), answers.height - answers[e].sum()) >= min_answers]
    if not usable:
        return pl.DataFrame(schema=DRIVER_SCHEMA)
    values = answers.select(ANSWER_VALUE[survey_type].alias("value"), *[pl.col(e).cast(pl.Float64) for e in usable])
    y = values["value"].to_numpy()
    x = np.column_stack([np.ones(len(y)), values.select(usable).to_numpy()])
    beta, se = robust_ols(x, y)
    t_crit = stdtrit(len(y) - x.shape[1], 0.975)
    rows = []
    for index, experience in enumerate(usable, start=1):
        flag = values[experience].to_numpy() == 1
        prevalence = float(flag.mean())
        effect, half = float(beta[index]), float(t_crit * se[index])
        rows.append({
            "experience": experience, "answers_with": int(flag.sum()), "prevalence": prevalence,
            "kpi_with": float(y[flag].mean()), "kpi_without": float(y[~flag].mean()),
            "effect": effect, "ci_low": effect - half, "ci_high": effect + half,
            "p_value": float(2 * stdtr(len(y) - x.shape[1], -abs(effect) / se[index])) if se[index] > 0 else 0.0,
            "impact": effect * prevalence,
            "impact_ci_low": (effect - half) * prevalence, "impact_ci_high": (effect + half) * prevalence,
        })
    drivers = pl.DataFrame(rows, schema={k: v for k, v in DRIVER_SCHEMA.items() if k != "importance"})
    return drivers.with_columns(
        (pl.col("impact").abs() / pl.col("impact").abs().sum()).alias("importance"),
    ).sort(pl.col("impact").abs(), descending=True)
