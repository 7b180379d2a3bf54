"""Checks and valuation of next-best-action recommendations.

The rule checks recount consent and recent contacts from the inputs, independently of the policy code, so a
bug in the policy cannot hide itself. The valuation prices a set of choices with a given (true) response
model, as the demo's ground truth provides: value = Σ p_true × value − cost over the contacted customers.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from ml.features import cutoff
from ml.next_best_action import (
    CHANNEL_CONSENT,
    NO_ACTION,
    ContactCap,
    NbaPlan,
    choose,
    with_expected_value,
)


def consent_breaks(actions: pl.DataFrame, customers: pl.DataFrame) -> int:
    """Contacted customers whose chosen channel lacks consent (null counts as no consent)."""
    contacted = actions.filter(pl.col("action") != NO_ACTION).join(
        customers.select("customer_key", *CHANNEL_CONSENT.values()), on="customer_key", how="left"
    )
    consent = pl.lit(False)
    for channel, column in CHANNEL_CONSENT.items():
        consent = pl.when(pl.col("channel") == channel).then(pl.col(column).fill_null(False)).otherwise(consent)
    return contacted.filter(~consent).height


def cap_breaks(actions: pl.DataFrame, contacts: pl.DataFrame, as_of: date, cap: ContactCap) -> int:
    """Contacted customers who already had the cap's number of contacts in any of its windows."""
    end = cutoff(as_of)
    over = [
        contacts.filter((pl.col("sent_at") < end) & (pl.col("sent_at") >= end - timedelta(days=days)))
        .group_by("customer_key").len().filter(pl.col("len") >= limit).select("customer_key")
        for days, limit in cap.limits.items()
    ]
    contacted = actions.filter(pl.col("action") != NO_ACTION)
    return contacted.join(pl.concat(over).unique(), on="customer_key", how="semi").height


def true_model_probabilities(personas: pl.DataFrame, response_model: pl.DataFrame) -> pl.DataFrame:
    """customer_key, action, channel, response_probability from the ground truth (persona × action × channel)."""
    return personas.join(response_model, on="persona").select(
        "customer_key", "action", "channel", pl.col("p_response").alias("response_probability")
    )


def value_of(choices: pl.DataFrame, true_probabilities: pl.DataFrame, catalogue: pl.DataFrame) -> float:
    """Σ true expected value of the contacted rows of `choices` (customer_key, action, channel)."""
    contacted = choices.filter(pl.col("action") != NO_ACTION).select("customer_key", "action", "channel")
    valued = with_expected_value(contacted, true_probabilities, catalogue)
    return float(valued["expected_value_eur"].sum())


def single_action_values(valued: pl.DataFrame, true_probabilities: pl.DataFrame, catalogue: pl.DataFrame) -> pl.DataFrame:
    """action, value: Σ true expected value when every customer the action applies to gets it, on the
    channel with the best expected value in `valued` (ties: preferred channel, then catalogue order)."""
    channels = valued.sort(
        ["customer_key", "action", "expected_value_eur", "is_preferred_channel", "channel_rank"],
        descending=[False, False, True, True, False],
    ).unique(["customer_key", "action"], keep="first")
    priced = with_expected_value(channels.select("customer_key", "action", "channel"), true_probabilities, catalogue)
    return priced.group_by("action").agg(pl.col("expected_value_eur").sum().alias("value")).sort(
        "value", "action", descending=[True, False]
    )


def evaluate_policy(plan: NbaPlan, catalogue: pl.DataFrame, true_probabilities: pl.DataFrame) -> dict[str, object]:
    """Value of the recommendations against references, all priced with the true probabilities:
    - best single action: one action for every customer it applies to (eligibility, consent and cap as in
      the policy; no triggers, nothing else), each on the channel the policy's own estimates prefer; the
      best such action. So the comparison measures what choosing the action per customer adds.
      `..._true_channel` is the same with the channel chosen by the true probabilities, for reference;
    - oracle: this policy's rules (eligibility, triggers first, consent, cap) with the true probabilities."""
    # Everything priced here is one of the plan's options: the truth's other rows (every customer × action ×
    # channel, 1.9 million at 100k customers) are left out once rather than hashed in every join (issue 19).
    true_probabilities = true_probabilities.join(plan.options, on=["customer_key", "action", "channel"], how="semi")
    truly_valued = with_expected_value(plan.options, true_probabilities, catalogue)
    policy = value_of(plan.recommendations, true_probabilities, catalogue)
    oracle = value_of(choose(truly_valued), true_probabilities, catalogue)
    best_action, best_single = single_action_values(plan.valued, true_probabilities, catalogue).row(0)
    true_channel_action, true_channel_single = single_action_values(truly_valued, true_probabilities, catalogue).row(0)
    return {
        "policy_value_eur": policy,
        "oracle_value_eur": oracle,
        "best_single_action": best_action,
        "best_single_action_value_eur": best_single,
        "best_single_action_true_channel": true_channel_action,
        "best_single_action_true_channel_value_eur": true_channel_single,
        "policy_vs_oracle": policy / oracle if oracle else float("nan"),
        "policy_vs_best_single_action": policy / best_single if best_single else float("nan"),
    }
