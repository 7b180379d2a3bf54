"""The churn model kept between runs, so a daily refresh rescores the customers without retraining.

A trained run (`ml.churn.train_and_score`) is kept as a `StoredChurn`: the fitted model and what its model card
says about it (backtest dates, quality, calibration, importance), nothing per customer. A later run scores
today's features with it (`ml.churn.score_churn`, in one process or partitioned on Spark: the `ChurnPath`) while
`ml.model_store.retrain_reason` finds no reason to retrain; its card then repeats the training run's figures and
names the day the model was trained, so it never claims a fresh backtest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

import numpy as np
import polars as pl

from ml.churn import (
    BacktestDates,
    ChurnModel,
    ChurnResult,
    Evaluation,
    model_card_frame,
)
from ml.features import CustomerHistory, available_families
from ml.model_store import ModelInfo, ModelStore, library_versions, rescored_with, retrain_reason

MODEL_NAME = "churn"


@dataclass(frozen=True)
class StoredChurn:
    model: ChurnModel
    families: list[str]
    dates: BacktestDates  # of the training run
    horizon_days: int
    metrics: dict[str, float]
    calibration: pl.DataFrame
    importance: pl.DataFrame
    baseline_roc_auc: float

    @classmethod
    def of(cls, result: ChurnResult) -> "StoredChurn":
        """What a trained run keeps: its evaluation's figures, not its customers, labels or probabilities."""
        evaluation = result.evaluation
        return cls(result.model, result.families, result.dates, result.horizon_days, evaluation.metrics,
                   evaluation.calibration, evaluation.importance, result.baseline_roc_auc)

    def info(self, trained_at: datetime) -> ModelInfo:
        return ModelInfo(
            name=MODEL_NAME, trained_at=trained_at, as_of=self.dates.score_as_of, features=self.model.columns,
            # the scoring model is fitted on the customers of the evaluation date (see ml.churn)
            training_rows=int(self.metrics["evaluation_customers"]),
            parameters=parameters(self.horizon_days, self.families), library_versions=library_versions(),
        )

    def rescored(self, scores: pl.DataFrame, as_of: date) -> ChurnResult:
        """Today's scores (from this model) with the training run's figures for the model card."""
        evaluation = Evaluation([], np.empty(0), np.empty(0), self.metrics, self.calibration, self.importance)
        dates = BacktestDates(self.dates.train_as_of, self.dates.evaluation_as_of, as_of)
        return ChurnResult(scores, evaluation, self.families, dates, self.horizon_days, self.baseline_roc_auc,
                           self.model)


def parameters(horizon_days: int, families: list[str]) -> dict[str, object]:
    """What decides a churn fit besides the data: a change means the stored model no longer applies."""
    return {"horizon_days": horizon_days, "feature_families": families}


@dataclass(frozen=True)
class ChurnRun:
    result: ChurnResult
    trained_at: datetime
    scoring: str  # in words: rescored with which model, or retrained and why

    def model_card(self) -> pl.DataFrame:
        """The result's card plus when the model scoring today was trained and whether this run trained it."""
        return pl.concat([self.result.model_card(), model_card_frame([
            ("setup", "trained_at", None, self.trained_at.isoformat(timespec="seconds")),
            ("setup", "scoring", None, self.scoring),
        ])])


class ChurnPath(Protocol):
    """Where churn reads the history and writes its scores (in one process, or partitioned on Spark)."""

    history: CustomerHistory  # what the feature families are judged on

    def train_and_score(self, as_of: date, horizon_days: int) -> ChurnResult: ...

    def score(self, model: ChurnModel, families: list[str], as_of: date) -> pl.DataFrame: ...


def train_or_rescore(store: ModelStore, path: ChurnPath, as_of: date, horizon_days: int, max_age_days: int,
                     now: datetime) -> ChurnRun:
    """Rescore with the stored model when `retrain_reason` has nothing against it; otherwise train (raises
    NotEnoughHistory when the data cannot support a backtest) and store the new model."""
    families = available_families(path.history, BacktestDates.before(as_of, horizon_days).train_as_of)
    stored_info = store.info(MODEL_NAME)
    reason = retrain_reason(stored_info, parameters(horizon_days, families), as_of, now, max_age_days)
    if reason is None:
        stored: StoredChurn = store.load(MODEL_NAME)
        return ChurnRun(stored.rescored(path.score(stored.model, stored.families, as_of), as_of),
                        stored_info.trained_at, rescored_with(stored_info))
    result = path.train_and_score(as_of, horizon_days)
    kept = StoredChurn.of(result)
    store.save(kept, kept.info(now))
    return ChurnRun(result, now, f"retrained: {reason}")
