"""Value at risk: what each customer's churn could cost, from the churn scores and the customer value estimates;
polars in, polars out. Apart from `ml.customer_value`, whose models need SciPy, so that the churn report computes
it without importing them."""

from __future__ import annotations

import polars as pl


def value_at_risk(churn_scores: pl.DataFrame, values: pl.DataFrame) -> pl.DataFrame:
    """customer_key, churn_probability, expected_value_eur and value_at_risk_eur = churn probability ×
    expected value (null when the customer has no value estimate), highest value at risk first."""
    return (
        churn_scores.select("customer_key", "churn_probability")
        .join(values.select("customer_key", "expected_value_eur"), on="customer_key", how="left")
        .with_columns((pl.col("churn_probability") * pl.col("expected_value_eur")).alias("value_at_risk_eur"))
        .sort("value_at_risk_eur", descending=True, nulls_last=True)
    )
