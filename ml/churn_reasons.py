"""Churn reasons in words, ranked by how much each warning sign raised churn in the past.

Each reason watches one feature. From a labelled feature frame, `ReasonProfile.learn` cuts that feature into
quantile bins and stores the (smoothed) churn rate of each bin. A customer's reason strength is the churn
rate of the bin they fall in minus the overall rate, so a reason only counts where customers like this one
really churned more often; its words are shown only when the value is a warning sign in itself (for example
an NPS of 6 or lower). The three strongest become top_reason, second_reason and third_reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

QUANTILES = (0.2, 0.4, 0.6, 0.8)
SMOOTHING_CUSTOMERS = 20.0
REASON_COLUMNS = ("top_reason", "second_reason", "third_reason")
NUMBER_WORDS = dict(enumerate(
    ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve")
))


def _whole(column: str) -> pl.Expr:
    return pl.col(column).round(0).cast(pl.Int64)


def counted(column: str, singular: str, plural: str) -> pl.Expr:
    """'one unresolved complaint', 'two unresolved complaints', '14 unresolved complaints'."""
    number = _whole(column)
    words = number.replace_strict(NUMBER_WORDS, default=number.cast(pl.String), return_dtype=pl.String)
    return pl.format("{} {}", words, pl.when(number == 1).then(pl.lit(singular)).otherwise(pl.lit(plural)))


@dataclass(frozen=True)
class Reason:
    feature: str
    applies: Callable[[], pl.Expr]
    words: Callable[[], pl.Expr]


REASONS = (
    Reason(
        "days_since_last_purchase",
        lambda: pl.lit(True),
        lambda: pl.when(pl.col("purchase_gap_mean_days").is_null())
        .then(pl.format("only one purchase, {} days ago", _whole("days_since_last_purchase")))
        .otherwise(pl.format(
            "no purchase for {} days, usually every {} days",
            _whole("days_since_last_purchase"), _whole("purchase_gap_mean_days"),
        )),
    ),
    Reason(
        "purchases_last_90d",
        lambda: pl.col("purchases_last_90d") < pl.col("purchases_previous_90d"),
        lambda: pl.format(
            "{} in the last 90 days, {} in the 90 days before",
            counted("purchases_last_90d", "purchase", "purchases"), _whole("purchases_previous_90d"),
        ),
    ),
    Reason(
        "return_rate",
        lambda: pl.col("returns_count") > 0,
        lambda: pl.format(
            "returned {} of {}", _whole("returns_count"), counted("purchases_count", "order", "orders")
        ),
    ),
    Reason(
        "web_trend",
        lambda: pl.col("web_trend") < 0,
        lambda: pl.format(
            "fewer web and app visits: {} events in the last 30 days, {} a month before",
            _whole("web_events_last_30d"), _whole("web_events_previous_30d_avg"),
        ),
    ),
    Reason(
        "email_open_rate_90d",
        lambda: (pl.col("email_sends_90d") > 0) & (pl.col("email_open_rate_90d") < 0.2),
        lambda: pl.format(
            "opened {} of {} e-mails in the last 90 days", _whole("email_opens_90d"), _whole("email_sends_90d")
        ),
    ),
    Reason("email_unsubscribed", lambda: pl.col("email_unsubscribed") == 1, lambda: pl.lit("unsubscribed from e-mails")),
    Reason(
        "service_unresolved_issues",
        lambda: pl.col("service_unresolved_issues") > 0,
        lambda: counted("service_unresolved_issues", "unresolved complaint", "unresolved complaints"),
    ),
    Reason(
        "service_repeat_contacts_90d",
        lambda: pl.col("service_repeat_contacts_90d") > 0,
        lambda: pl.format(
            "{} in the last 90 days",
            counted("service_repeat_contacts_90d", "repeat service contact", "repeat service contacts"),
        ),
    ),
    Reason(
        "service_wait_mean_seconds_90d",
        lambda: pl.col("service_wait_mean_seconds_90d") >= 120,
        lambda: pl.format(
            "waited {} minutes on average for service",
            (pl.col("service_wait_mean_seconds_90d") / 60).round(0).cast(pl.Int64),
        ),
    ),
    Reason(
        "survey_last_nps",
        lambda: pl.col("survey_last_nps") <= 6,
        lambda: pl.format("gave an NPS of {} (detractor)", _whole("survey_last_nps")),
    ),
    Reason(
        "survey_min_csat_180d",
        lambda: pl.col("survey_min_csat_180d") <= 2,
        lambda: pl.format("rated satisfaction {} of 5", _whole("survey_min_csat_180d")),
    ),
    Reason(
        "sentiment_negative_90d",
        lambda: pl.col("sentiment_negative_90d") > 0,
        lambda: pl.format(
            "{} in the last 90 days", counted("sentiment_negative_90d", "negative message", "negative messages")
        ),
    ),
)


def _bin(feature: str, edges: list[float]) -> pl.Expr:
    """Bin number of a feature value (null values get bin −1)."""
    value = pl.col(feature).cast(pl.Float64)
    number = pl.lit(0, dtype=pl.Int32)
    for edge in edges:
        number = number + (value > edge).cast(pl.Int32)
    return pl.when(value.is_null()).then(pl.lit(-1, dtype=pl.Int32)).otherwise(number)


@dataclass(frozen=True)
class ReasonProfile:
    base_rate: float
    edges: dict[str, list[float]]
    bin_rates: dict[str, pl.DataFrame]  # per feature: bin, churn_rate

    @classmethod
    def learn(cls, labelled: pl.DataFrame) -> "ReasonProfile":
        """Bins and churn rates per bin from a frame with feature columns and the label `churned`."""
        base_rate = float(labelled["churned"].mean())
        edges, rates = {}, {}
        for reason in REASONS:
            if reason.feature not in labelled.columns:
                continue
            values = labelled[reason.feature].cast(pl.Float64).drop_nulls()
            edges[reason.feature] = sorted({float(values.quantile(q)) for q in QUANTILES}) if len(values) else []
            rates[reason.feature] = (
                labelled.group_by(_bin(reason.feature, edges[reason.feature]).alias("bin"))
                .agg(pl.col("churned").sum().alias("churned"), pl.len().alias("customers"))
                .select(
                    "bin",
                    ((pl.col("churned") + SMOOTHING_CUSTOMERS * base_rate) / (pl.col("customers") + SMOOTHING_CUSTOMERS))
                    .alias("churn_rate"),
                )
            )
        return cls(base_rate, edges, rates)

    def candidates(self, features: pl.DataFrame) -> pl.DataFrame:
        """customer_key, reason, strength: every reason that applies and points to more churn than average."""
        frames = []
        for reason in REASONS:
            if reason.feature not in self.edges:
                continue
            frames.append(
                features.with_columns(_bin(reason.feature, self.edges[reason.feature]).alias("bin"))
                .join(self.bin_rates[reason.feature], on="bin", how="left")
                .filter(reason.applies().fill_null(False) & (pl.col("churn_rate") > self.base_rate))
                .select(
                    "customer_key",
                    reason.words().alias("reason"),
                    (pl.col("churn_rate") - self.base_rate).alias("strength"),
                )
            )
        schema = {"customer_key": pl.String, "reason": pl.String, "strength": pl.Float64}
        return pl.concat(frames) if frames else pl.DataFrame(schema=schema)

    def top_reasons(self, features: pl.DataFrame, count: int = len(REASON_COLUMNS)) -> pl.DataFrame:
        """customer_key and REASON_COLUMNS (null where fewer reasons apply), strongest first."""
        ranked = (
            self.candidates(features)
            .sort(["customer_key", "strength", "reason"], descending=[False, True, False])
            .group_by("customer_key", maintain_order=True)
            .agg(pl.col("reason").head(count))
        )
        return features.select("customer_key").join(ranked, on="customer_key", how="left").select(
            "customer_key", *(pl.col("reason").list.get(i, null_on_oob=True).alias(REASON_COLUMNS[i]) for i in range(count))
        )
