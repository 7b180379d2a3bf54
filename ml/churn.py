"""Churn prediction by backtest: gradient boosting with calibrated probabilities blended with an RFM logistic
regression, quality figures, and the top three reasons per customer in words.

Boosted trees are flat beyond the range of their training data: on a one-cohort history every customer
whose recency exceeds what the training date saw gets the same probability, and isotonic calibration adds
plateaus of its own. The trees are therefore constrained to rise with recency and fall with frequency, and
their calibrated probability is averaged with that of a logistic regression on log recency, frequency,
monetary value and tenure, which keeps ranking customers by recency and frequency where the trees cannot.

With a horizon h and the scoring date S (the as-of date), the backtest uses two earlier dates whose horizons
are fully observed: the model is fitted as of S − 2h (labels from S − 2h to S − h) and evaluated as of S − h
(labels up to S); the quality figures come from that time-split evaluation. The model that scores the
customers as of S is then fitted the same way on the most recent fully observed date, S − h.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
from threadpoolctl import threadpool_limits

from ml import bgnbd
from ml.churn_reasons import REASON_COLUMNS, ReasonProfile
from ml.features import (
    CustomerHistory,
    available_families,
    build_features,
    cutoff,
    feature_columns,
    with_churn_labels,
)

# scikit-learn: imported in the functions that use it, not here. The Dagster definitions import this module, and
# every `cx run` paid for the import at start-up, before its first step (issue 19, tests/test_definitions_imports.py).
if TYPE_CHECKING:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import VotingClassifier
    from sklearn.pipeline import Pipeline

MODEL_DESCRIPTION = (
    "mean of a scikit-learn HistGradientBoostingClassifier (monotone in recency and frequency, isotonic "
    "calibration, 3-fold) and an RFM logistic regression"
)
# +1: churn can only rise with the feature, −1: only fall (the trees' constraints; other features are free).
MONOTONIC_FEATURES = {"days_since_last_purchase": 1, "purchases_count": -1, "purchases_last_90d": -1}
RFM_FEATURES = ("days_since_last_purchase", "purchases_count", "purchase_value_total_eur", "tenure_days")
RISK_BANDS = ((0.6, "high"), (0.3, "medium"), (0.0, "low"))
CALIBRATION_BINS = 10
# Scoring splits the customers over the cores only in chunks of at least this many: a thread costs more than it saves
# on fewer (probabilities_in_threads).
MIN_ROWS_PER_SCORING_THREAD = 20_000
# The model card: a long table; its status row says whether the model was trained or skipped (and why).
STATUS = "status"
MODEL_CARD_SCHEMA = {"section": pl.String, "metric": pl.String, "value": pl.Float64, "detail": pl.String}
SCORES_SCHEMA = {
    "customer_key": pl.String, "as_of_date": pl.Date, "churn_probability": pl.Float64, "risk_band": pl.String,
    **{column: pl.String for column in REASON_COLUMNS},
}
SKIPPED_QUALITY = ("roc_auc", "pr_auc", "brier_score", "lift_top_decile", "bgnbd_baseline_roc_auc")


@dataclass(frozen=True)
class BacktestDates:
    train_as_of: date
    evaluation_as_of: date
    score_as_of: date

    @classmethod
    def before(cls, score_as_of: date, horizon_days: int) -> "BacktestDates":
        horizon = timedelta(days=horizon_days)
        return cls(score_as_of - 2 * horizon, score_as_of - horizon, score_as_of)


@dataclass(frozen=True)
class Evaluation:
    """The time-split evaluation: labels and calibrated probabilities on the evaluation date's customers."""

    customer_keys: list[str]
    labels: np.ndarray
    probabilities: np.ndarray
    metrics: dict[str, float]
    calibration: pl.DataFrame
    importance: pl.DataFrame


@dataclass(frozen=True)
class ChurnModel:
    """A fitted churn model: all `score_churn` needs to score customers, on any date, in any process (it pickles,
    so it can be shipped to Spark executors or kept for rescoring without retraining)."""

    classifier: VotingClassifier
    columns: list[str]  # the feature columns it reads, in this order
    reasons: ReasonProfile

    def probabilities(self, features: pl.DataFrame) -> np.ndarray:
        return self.classifier.predict_proba(feature_matrix(features, self.columns))[:, 1]


@dataclass(frozen=True)
class ChurnResult:
    scores: pl.DataFrame
    evaluation: Evaluation
    families: list[str]
    dates: BacktestDates
    horizon_days: int
    baseline_roc_auc: float
    model: ChurnModel

    def model_card(self) -> pl.DataFrame:
        """A long table (section, metric, value, detail): status, quality, set-up, families, calibration,
        importance."""
        quality = self.evaluation.metrics | {"bgnbd_baseline_roc_auc": self.baseline_roc_auc}
        rows = [(STATUS, "trained", None, None)]
        rows += [("quality", name, value, None) for name, value in quality.items()]
        rows += setup_rows(self.dates.score_as_of, self.horizon_days)
        rows += [
            ("setup", "train_as_of", None, self.dates.train_as_of.isoformat()),
            ("setup", "evaluation_as_of", None, self.dates.evaluation_as_of.isoformat()),
            ("setup", "model", None, MODEL_DESCRIPTION),
            ("setup", "scored_customers", float(self.scores.height), None),
        ]
        rows += [("feature_family", family, 1.0, "used") for family in self.families]
        rows += [
            ("calibration", f"{row['predicted_from']:.2f}-{row['predicted_to']:.2f}", row["observed_rate"],
             f"predicted {row['predicted_mean']:.3f}, {row['customers']} customers")
            for row in self.evaluation.calibration.iter_rows(named=True)
        ]
        rows += [("feature_importance", row["feature"], row["importance"], None)
                 for row in self.evaluation.importance.iter_rows(named=True)]
        return model_card_frame(rows)


def model_card_frame(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=MODEL_CARD_SCHEMA, orient="row")


def setup_rows(score_as_of: date, horizon_days: int) -> list[tuple]:
    return [
        ("setup", "horizon_days", float(horizon_days), None),
        ("setup", "score_as_of", None, score_as_of.isoformat()),
    ]


def skipped_model_card(reason: str, as_of: date, horizon_days: int) -> pl.DataFrame:
    """The card of a churn run that could not train: status 'skipped' and every quality figure null (not
    measured), each with the reason."""
    rows = [(STATUS, "skipped", None, reason)]
    rows += [("quality", name, None, reason) for name in SKIPPED_QUALITY]
    return model_card_frame(rows + setup_rows(as_of, horizon_days))


def skipped_scores() -> pl.DataFrame:
    """The scores table of a skipped run: no rows, the columns and types of a trained one."""
    return pl.DataFrame(schema=SCORES_SCHEMA)


def boosted_model(columns: list[str], seed: int = 0) -> CalibratedClassifierCV:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import HistGradientBoostingClassifier

    booster = HistGradientBoostingClassifier(
        max_iter=300, learning_rate=0.05, max_leaf_nodes=15, min_samples_leaf=40, l2_regularization=1.0,
        early_stopping=True, validation_fraction=0.15, random_state=seed,
        monotonic_cst=[MONOTONIC_FEATURES.get(column, 0) for column in columns],
    )
    return CalibratedClassifierCV(booster, method="isotonic", cv=3)


def log_of_amount(values: np.ndarray) -> np.ndarray:
    """log(1 + x) of non-negative amounts (days, counts, money): long tails become linear in the logit."""
    return np.log1p(np.clip(values, 0.0, None))


def rfm_logistic_model(columns: list[str]) -> Pipeline:
    """Logistic regression on log recency, frequency, monetary value and tenure (those of `columns`)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    rfm = [columns.index(column) for column in RFM_FEATURES if column in columns]
    return make_pipeline(
        ColumnTransformer([("rfm", FunctionTransformer(log_of_amount), rfm)]),
        StandardScaler(),
        LogisticRegression(max_iter=1000),
    )


def new_model(columns: list[str], seed: int = 0) -> VotingClassifier:
    """The churn model for a feature matrix with `columns`: the mean of both models' probabilities."""
    from sklearn.ensemble import VotingClassifier

    return VotingClassifier(
        [("boosted", boosted_model(columns, seed)), ("rfm_logistic", rfm_logistic_model(columns))], voting="soft"
    )


def model_columns(labelled: pl.DataFrame) -> list[str]:
    """Feature columns that vary in the training frame (a constant or all-missing column carries nothing)."""
    return [
        c for c in feature_columns(labelled)
        if c != "churned" and labelled[c].drop_nulls().n_unique() > 1
    ]


def feature_matrix(frame: pl.DataFrame, columns: list[str]) -> np.ndarray:
    return frame.select(pl.col(columns).cast(pl.Float64)).to_numpy()


def lift_in_top_decile(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """Churn rate among the 10% highest scores divided by the overall churn rate."""
    top = np.argsort(-probabilities, kind="stable")[: max(1, len(labels) // 10)]
    return float(labels[top].mean() / labels.mean())


def quality_metrics(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    return {
        "roc_auc": float(roc_auc_score(labels, probabilities)),
        "pr_auc": float(average_precision_score(labels, probabilities)),
        "brier_score": float(brier_score_loss(labels, probabilities)),
        "lift_top_decile": lift_in_top_decile(labels, probabilities),
        "base_rate": float(labels.mean()),
        "evaluation_customers": float(len(labels)),
    }


def calibration_table(labels: np.ndarray, probabilities: np.ndarray, bins: int = CALIBRATION_BINS) -> pl.DataFrame:
    """Predicted against observed churn in equal-width probability bins (empty bins left out)."""
    frame = pl.DataFrame({"label": labels, "p": probabilities}).with_columns(
        (pl.col("p") * bins).floor().clip(0, bins - 1).cast(pl.Int32).alias("bin")
    )
    return (
        frame.group_by("bin")
        .agg(
            pl.col("p").mean().alias("predicted_mean"),
            pl.col("label").mean().alias("observed_rate"),
            pl.len().alias("customers"),
        )
        .sort("bin")
        .select(
            (pl.col("bin") / bins).alias("predicted_from"),
            ((pl.col("bin") + 1) / bins).alias("predicted_to"),
            "predicted_mean", "observed_rate", "customers",
        )
    )


def risk_band(probability: pl.Expr) -> pl.Expr:
    expression = pl.lit(RISK_BANDS[-1][1])
    for threshold, band in reversed(RISK_BANDS[:-1]):
        expression = pl.when(probability >= threshold).then(pl.lit(band)).otherwise(expression)
    return expression


def labelled_features(history: CustomerHistory, as_of: date, horizon_days: int, families: list[str]) -> pl.DataFrame:
    return with_churn_labels(build_features(history, as_of, families), history.orders, as_of, horizon_days)


class NotEnoughHistory(ValueError):
    """The data cannot support a backtest: too little history before the as-of date for the horizon."""


# Customers in the training frame must have bought for a while before the training date (two horizons before
# the as-of date), or there is nothing to learn recency and frequency from.
PURCHASE_DAYS_BEFORE_TRAINING = 30


def required_history_days(horizon_days: int) -> int:
    return 2 * horizon_days + PURCHASE_DAYS_BEFORE_TRAINING


def purchase_history_days(orders: pl.DataFrame, as_of: date) -> int:
    """Days from the first sale to the as-of date, both included (0 without any sale up to it)."""
    first = orders.filter((pl.col("order_type") == "sale") & (pl.col("ordered_at") < cutoff(as_of)))["ordered_at"].min()
    return (as_of - first.date()).days + 1 if first is not None else 0


def require_enough_history(orders: pl.DataFrame, as_of: date, horizon_days: int) -> None:
    needs, has = required_history_days(horizon_days), purchase_history_days(orders, as_of)
    if has < needs:
        raise NotEnoughHistory(
            f"not enough history for churn (needs {needs} days, has {has}): the backtest trains as of two horizons "
            f"of {horizon_days} days before the as-of date {as_of} on customers who bought in the "
            f"{PURCHASE_DAYS_BEFORE_TRAINING} days or more before that. Load more order history or set a shorter "
            "CX_CHURN_HORIZON_DAYS."
        )


def require_both_outcomes(labelled: pl.DataFrame, as_of: date, horizon_days: int) -> None:
    """A backtest date needs customers who bought before it, some churned and some not."""
    outcomes = set(labelled["churned"].unique().to_list()) if labelled.height else set()
    if outcomes != {0, 1}:
        raise NotEnoughHistory(
            f"the backtest as of {as_of} has {labelled.height} customers with outcomes {sorted(outcomes)}; churn "
            f"needs purchases from before {as_of} (two horizons of {horizon_days} days before the as-of date) "
            "and both outcomes. Use more history, an earlier CX_AS_OF or a shorter CX_CHURN_HORIZON_DAYS."
        )


def single_openmp_thread() -> threadpool_limits:
    """The boosters predict tree by tree; on customer-sized data, starting OpenMP threads for every tree costs
    more than it saves (several times slower on a busy two-core machine)."""
    return threadpool_limits(limits=1, user_api="openmp")


def fit_churn_model(labelled: pl.DataFrame, seed: int = 0) -> ChurnModel:
    """Fit on a labelled feature frame (`build_features` + `with_churn_labels`: one row per customer, the label
    `churned`); every feature column that varies in it is used."""
    columns = model_columns(labelled)
    with single_openmp_thread():
        classifier = new_model(columns, seed).fit(feature_matrix(labelled, columns), labelled["churned"].to_numpy())
    return ChurnModel(classifier, columns, ReasonProfile.learn(labelled))


def probabilities_on_one_thread(model: ChurnModel, features: pl.DataFrame) -> np.ndarray:
    with single_openmp_thread():  # the limit holds in the thread that sets it
        return model.probabilities(features)


def probabilities_in_threads(model: ChurnModel, features: pl.DataFrame) -> np.ndarray:
    """The model's probabilities, the rows split into one chunk per core, each scored by a thread of its own on
    one OpenMP thread. The boosters' trees release the GIL while they run, so the chunks run side by side, and
    unlike OpenMP's threads per tree they do not slow down next to other work (80,000 customers: 0.76 -> 0.40 s
    idle, 0.58 s beside a busy core; issue 19)."""
    chunks = max(1, min(os.cpu_count() or 1, features.height // MIN_ROWS_PER_SCORING_THREAD))
    if chunks == 1:
        return probabilities_on_one_thread(model, features)
    size = -(-features.height // chunks)
    with ThreadPoolExecutor(chunks) as pool:
        parts = pool.map(lambda offset: probabilities_on_one_thread(model, features.slice(offset, size)),
                         range(0, features.height, size))
        return np.concatenate(list(parts))


def score_churn(model: ChurnModel, features: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """SCORES_SCHEMA for every customer of a feature frame built as of `as_of` with the model's families:
    churn_probability, risk_band and the top three reasons in words. A customer's row depends on that
    customer's features only, so any split of the customers into batches scores the same."""
    if features.height:
        probabilities = probabilities_in_threads(model, features)
    else:  # scikit-learn refuses an empty matrix; an empty batch simply has no scores
        probabilities = np.empty(0)
    return (
        features.select("customer_key")
        .with_columns(pl.lit(as_of).alias("as_of_date"), pl.Series("churn_probability", probabilities, pl.Float64))
        .with_columns(risk_band(pl.col("churn_probability")).alias("risk_band"))
        .join(model.reasons.top_reasons(features), on="customer_key", how="left")
    )


def evaluate_backtest(
    history: CustomerHistory, dates: BacktestDates, horizon_days: int, families: list[str], seed: int = 0
) -> Evaluation:
    """Fit as of the training date, evaluate as of the evaluation date (its horizon is fully observed)."""
    train = labelled_features(history, dates.train_as_of, horizon_days, families)
    test = labelled_features(history, dates.evaluation_as_of, horizon_days, families)
    return evaluate_split(train, test, dates, horizon_days, seed)


def evaluate_split(
    train: pl.DataFrame, test: pl.DataFrame, dates: BacktestDates, horizon_days: int, seed: int = 0
) -> Evaluation:
    """Fit on the labelled features as of the training date, evaluate on those as of the evaluation date."""
    from sklearn.inspection import permutation_importance

    for frame, as_of in ((train, dates.train_as_of), (test, dates.evaluation_as_of)):
        require_both_outcomes(frame, as_of, horizon_days)
    model = fit_churn_model(train, seed)
    test_matrix, labels = feature_matrix(test, model.columns), test["churned"].to_numpy()
    with single_openmp_thread():
        probabilities = model.probabilities(test)
        importance = permutation_importance(
            model.classifier, test_matrix, labels, scoring="roc_auc", n_repeats=3, random_state=seed,
            max_samples=min(len(labels), 5000),
        )
    return Evaluation(
        customer_keys=test["customer_key"].to_list(),
        labels=labels,
        probabilities=probabilities,
        metrics=quality_metrics(labels, probabilities) | {"training_customers": float(train.height)},
        calibration=calibration_table(labels, probabilities),
        importance=pl.DataFrame({"feature": model.columns, "importance": importance.importances_mean}).sort(
            "importance", descending=True
        ),
    )


def bgnbd_roc_auc(history: CustomerHistory, dates: BacktestDates, horizon_days: int, evaluation: Evaluation) -> float:
    """ROC AUC of the BG/NBD expected-purchases ranking on the same customers and labels as `evaluation`
    (fitted on the purchase history up to the evaluation date, as a churn model would be)."""
    ranking = bgnbd.churn_ranking(history.orders, dates.evaluation_as_of, dates.evaluation_as_of, horizon_days)
    return ranking_roc_auc(ranking, evaluation)


def ranking_roc_auc(ranking: pl.DataFrame, evaluation: Evaluation) -> float:
    """ROC AUC of a BG/NBD ranking (customer_key, bgnbd_churn_score) on the evaluation's customers and labels."""
    from sklearn.metrics import roc_auc_score

    aligned = pl.DataFrame({"customer_key": evaluation.customer_keys, "label": evaluation.labels}).join(
        ranking, on="customer_key", how="left"
    )
    return float(roc_auc_score(aligned["label"].to_numpy(), aligned["bgnbd_churn_score"].to_numpy()))


@dataclass(frozen=True)
class Backtest:
    """What training reads, however it was computed (in one process or partitioned on Spark): the labelled
    features as of the training date and as of the evaluation date, and the BG/NBD summary (`bgnbd.rfm_summary`)
    as of the evaluation date, one row per customer each."""

    dates: BacktestDates
    horizon_days: int
    families: list[str]
    train: pl.DataFrame
    recent: pl.DataFrame
    recent_summary: pl.DataFrame

    def fit(self, seed: int = 0) -> "TrainedChurn":
        """The time-split evaluation and the BG/NBD baseline on it, then the model that scores as of the scoring
        date, fitted on the most recent fully observed date."""
        evaluation = evaluate_split(self.train, self.recent, self.dates, self.horizon_days, seed)
        ranking = bgnbd.ranking(bgnbd.fit(self.recent_summary), self.recent_summary, self.horizon_days)
        return TrainedChurn(self, fit_churn_model(self.recent, seed), evaluation, ranking_roc_auc(ranking, evaluation))


@dataclass(frozen=True)
class TrainedChurn:
    backtest: Backtest
    model: ChurnModel
    evaluation: Evaluation
    baseline_roc_auc: float

    def result(self, scores: pl.DataFrame) -> ChurnResult:
        return ChurnResult(
            scores=scores,
            evaluation=self.evaluation,
            families=self.backtest.families,
            dates=self.backtest.dates,
            horizon_days=self.backtest.horizon_days,
            baseline_roc_auc=self.baseline_roc_auc,
            model=self.model,
        )


def train_and_score(history: CustomerHistory, as_of: date, horizon_days: int = 90, seed: int = 0) -> ChurnResult:
    """Backtest, then score every customer with a purchase up to `as_of`: churn_probability, risk_band and
    the top three reasons (top_reason, second_reason, third_reason) in words. Raises NotEnoughHistory, with
    the reason in words, when the orders cannot support the backtest."""
    require_enough_history(history.orders, as_of, horizon_days)
    dates = BacktestDates.before(as_of, horizon_days)
    families = available_families(history, dates.train_as_of)
    backtest = Backtest(
        dates, horizon_days, families,
        train=labelled_features(history, dates.train_as_of, horizon_days, families),
        recent=labelled_features(history, dates.evaluation_as_of, horizon_days, families),
        recent_summary=bgnbd.rfm_summary(history.orders, dates.evaluation_as_of),
    )
    trained = backtest.fit(seed)
    return trained.result(score_churn(trained.model, build_features(history, as_of, families), as_of))
