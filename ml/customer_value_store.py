"""The customer value model kept between runs, so a daily refresh only scores (issue 19).

A run that fits keeps the fitted parameters (BG/NBD r, α, a, b; Gamma-Gamma p, q, γ) and its time-split validation
(metrics and decile means) in the model store (`ml.model_store`): aggregates only, no customer rows, so erasing a
person leaves nothing to remove here. Later runs score today's customers with the stored parameters while
`ml.model_store.retrain_reason` finds nothing against them (younger than CX_MODEL_MAX_AGE_DAYS, an as-of date not
before the model's, the same horizon, interval, simulations and library versions); their model card repeats the
training run's validation and says when the model was fitted, so it never claims a fresh validation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import polars as pl
import scipy

from ml.customer_value import (
    HORIZON_DAYS,
    INTERVAL,
    SIMULATIONS,
    ValueModel,
    ValueValidation,
    customer_value,
    fit_value_model,
    holdout_days,
    validate_time_split,
    value_summary,
)
from ml.model_store import ModelInfo, ModelStore, library_versions, rescored_with, retrain_reason

MODEL_NAME = "customer_value"
SUMMARY_FEATURES = ["x", "t_x", "T", "m_x"]


@dataclass(frozen=True)
class StoredValue:
    model: ValueModel  # fitted on the history up to the as-of date of its ModelInfo
    validation: ValueValidation  # the training run's time split: parameters, metrics, decile means


def parameters() -> dict[str, object]:
    """What decides the fit and the scoring besides the data: a change means the stored model no longer applies."""
    return {"horizon_days": HORIZON_DAYS, "interval": list(INTERVAL), "simulations": SIMULATIONS,
            "scipy": scipy.__version__}


@dataclass(frozen=True)
class ValueRun:
    values: pl.DataFrame
    validation: ValueValidation
    trained_at: datetime
    scoring: str  # in words: scored with which stored model, or retrained and why

    def model_card(self) -> pl.DataFrame:
        """The validation's card plus when the model scoring today was fitted and whether this run fitted it."""
        return pl.concat([self.validation.model_card(), pl.DataFrame(
            [("setup", "trained_at", None, self.trained_at.isoformat(timespec="seconds")),
             ("setup", "scoring", None, self.scoring)],
            schema={"section": pl.String, "metric": pl.String, "value": pl.Float64, "detail": pl.String}, orient="row",
        )])


def fit_or_rescore(store: ModelStore, orders: pl.DataFrame, as_of: date, max_age_days: int, now: datetime) -> ValueRun:
    """Score with the stored model when `retrain_reason` has nothing against it; otherwise fit, validate on a
    time split, score and store the new model."""
    stored_info = store.info(MODEL_NAME)
    reason = retrain_reason(stored_info, parameters(), as_of, now, max_age_days)
    if reason is None:
        stored: StoredValue = store.load(MODEL_NAME)
        return ValueRun(customer_value(orders, as_of, model=stored.model), stored.validation, stored_info.trained_at,
                        rescored_with(stored_info))
    summary = value_summary(orders, as_of)
    model = fit_value_model(summary)
    holdout = holdout_days(orders, as_of)
    validation = validate_time_split(orders, as_of - timedelta(days=holdout), holdout)
    store.save(StoredValue(model, validation), ModelInfo(
        name=MODEL_NAME, trained_at=now, as_of=as_of, features=SUMMARY_FEATURES, training_rows=summary.height,
        parameters=parameters(), library_versions=library_versions()))
    return ValueRun(customer_value(orders, as_of, model=model), validation, now, f"retrained: {reason}")
