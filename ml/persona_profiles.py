"""What each persona is, in words and numbers: a name and a description generated from the features that
set it apart, its size, value, NPS, churn risk and preferred channels. Polars in, polars out.

A feature "sets a persona apart" by how far the persona's mean lies from the mean of all customers, in
standard deviations of all customers (the z-score). Names combine the dominant purchase channel with the
most distinctive habit ("Frequent store shoppers"); descriptions say the habits in plain numbers.
"""

from __future__ import annotations

import polars as pl

from ml.persona_features import PURCHASE_CHANNELS, SERVICE_CHANNELS

# feature -> (word when above average, word when below); None: not used for names.
NAME_WORDS = {
    "purchases_per_year": ("frequent", "occasional"),
    "basket_mean_eur": ("big-basket", "small-basket"),
    "return_rate": ("returning", None),
    "browse_days_per_purchase": ("browsing", "decisive"),
    "service_contacts_per_year": ("service-seeking", None),
    "email_open_rate": ("newsletter-reading", "newsletter-ignoring"),
    "nps_score_mean": ("enthusiastic", "critical"),
}
DISTINCT_Z = 0.3  # a habit at least this many standard deviations from the average counts as distinctive
DOMINANT_SHARE = 0.5  # a channel with at least this share of purchases names the persona
CHANNEL_NOUNS = {"web": "web shoppers", "app": "app shoppers", "store": "store shoppers"}
CHANNEL_PLACES = {"web": "on the web", "app": "in the app", "store": "in the store"}
MIXED_NOUN = "omnichannel shoppers"
NON_BUYER_NOUN = "prospects"  # most members have not bought yet
WEEKS_PER_YEAR = 52.18


def distinction(features: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """persona_id, feature, persona mean, z-score of that mean against all customers."""
    overall = {c: (features[c].fill_nan(None).mean(), features[c].fill_nan(None).std()) for c in columns}
    means = features.group_by("persona_id").agg(pl.col(columns).fill_nan(None).mean())
    return means.unpivot(index="persona_id", variable_name="feature", value_name="mean").with_columns(
        pl.struct("feature", "mean").map_elements(
            lambda row: _z(row["mean"], *overall[row["feature"]]), return_dtype=pl.Float64
        ).alias("z")
    )


def _z(value: float | None, mean: float | None, std: float | None) -> float:
    if value is None or mean is None or not std:
        return 0.0
    return (value - mean) / std


def sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:]


def habit_words(z_by_feature: dict[str, float]) -> list[str]:
    """The persona's distinctive habits as adjectives, most distinctive first."""
    words = []
    for feature, z in sorted(z_by_feature.items(), key=lambda item: -abs(item[1])):
        if feature in NAME_WORDS and abs(z) >= DISTINCT_Z:
            word = NAME_WORDS[feature][0 if z > 0 else 1]
            if word:
                words.append(word)
    return words


def channel_noun(shares: dict[str, float]) -> str:
    channel, share = max(shares.items(), key=lambda item: item[1] or 0.0)
    return CHANNEL_NOUNS[channel] if (share or 0.0) >= DOMINANT_SHARE else MIXED_NOUN


def persona_names(features: pl.DataFrame, keep: dict[str, str] | None = None) -> dict[str, str]:
    """persona_id -> name; personas in `keep` keep the name they have. A name already taken gets the next
    habit word ("Frequent big-basket store shoppers"), so names are unique."""
    keep = dict(keep or {})
    table = distinction(features, list(NAME_WORDS) + [f"purchase_share_{c}" for c in PURCHASE_CHANNELS])
    names = dict(keep)
    for persona_id in sorted(table["persona_id"].unique()):
        if persona_id in keep:
            continue
        rows = table.filter(pl.col("persona_id") == persona_id)
        z = dict(zip(rows["feature"], rows["z"]))
        means = dict(zip(rows["feature"], rows["mean"]))
        buyers = features.filter((pl.col("persona_id") == persona_id) & (pl.col("purchases_per_year") > 0)).height
        members = features.filter(pl.col("persona_id") == persona_id).height
        noun = (channel_noun({c: means[f"purchase_share_{c}"] for c in PURCHASE_CHANNELS}) if 2 * buyers > members
                else NON_BUYER_NOUN)
        words = habit_words(z)
        candidates = [" ".join([*words[:n], noun]) for n in range(1, len(words) + 1)] or [noun]
        name = next((c for c in candidates if sentence_case(c) not in names.values()), f"{candidates[-1]} ({persona_id})")
        names[persona_id] = sentence_case(name)
    return names


def _rhythm(purchases_per_year: float | None) -> str:
    if not purchases_per_year:
        return "has not bought yet"
    weeks = WEEKS_PER_YEAR / purchases_per_year
    if weeks > WEEKS_PER_YEAR:
        return "buys less than once a year"
    return f"buys every {weeks:.0f} weeks" if weeks >= 1.5 else "buys every week"


def _top_channel(shares: dict[str, float | None]) -> tuple[str, float]:
    channel, share = max(shares.items(), key=lambda item: item[1] or 0.0)
    return channel, share or 0.0


def describe(medians: dict[str, float | None]) -> str:
    """A description in words from a persona's typical (median) customer."""
    parts = [_rhythm(medians["purchases_per_year"])]
    if medians["purchases_per_year"]:
        channel, share = _top_channel({c: medians[f"purchase_share_{c}"] for c in PURCHASE_CHANNELS})
        where = f"mostly {CHANNEL_PLACES[channel]}" if share >= DOMINANT_SHARE else "across web, app and store"
        parts.append(f"{where}, baskets around {medians['basket_mean_eur']:.0f} EUR")
    contacts = medians["service_contacts_per_year"] or 0.0
    if contacts < 0.5:
        parts.append("rarely contacts service")
    else:
        channel, _ = _top_channel({c: medians[f"service_share_{c}"] for c in SERVICE_CHANNELS})
        parts.append(f"contacts service {contacts:.1f} times a year, mostly by {channel}")
    if medians["email_open_rate"] is not None:
        parts.append(f"opens {100 * medians['email_open_rate']:.0f} % of e-mails")
    return ", ".join(parts)


def nps(scores: pl.Series) -> float | None:
    """% promoters (9-10) − % detractors (0-6); None without answers."""
    if scores.len() == 0:
        return None
    return float(100.0 * ((scores >= 9).mean() - (scores <= 6).mean()))


def persona_profiles(
    features: pl.DataFrame,
    names: dict[str, str],
    nps_answers: pl.DataFrame,
    customer_value: pl.DataFrame | None = None,
    churn_scores: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One row per persona: name, description, customers and share, NPS (from `nps_answers`: customer_key,
    score), mean expected 12-month value and churn probability (when given), preferred purchase and service
    channels, and the three most distinctive features with their z-scores.
    `features` is `behaviour_features` with a `persona_id` column."""
    medians = features.group_by("persona_id").agg(pl.all().exclude("customer_key", "persona_id").median())
    table = distinction(features, [c for c in features.columns if c not in ("customer_key", "persona_id", "touchpoints")])
    rows = []
    for persona in medians.sort("persona_id").iter_rows(named=True):
        persona_id = persona["persona_id"]
        members = features.filter(pl.col("persona_id") == persona_id)
        member_keys = members.select("customer_key")
        z = table.filter(pl.col("persona_id") == persona_id).sort(pl.col("z").abs(), descending=True).head(3)
        means = members.select(pl.col([f"purchase_share_{c}" for c in PURCHASE_CHANNELS]
                                      + [f"service_share_{c}" for c in SERVICE_CHANNELS]).mean()).row(0, named=True)
        rows.append({
            "persona_id": persona_id,
            "persona_name": names[persona_id],
            "description": sentence_case(describe(persona)) + ".",
            "customers": members.height,
            "customer_share": members.height / features.height,
            "nps": nps(nps_answers.join(member_keys, on="customer_key")["score"]),
            "expected_value_12m_eur_mean": _mean_of(customer_value, member_keys, "expected_value_12m_eur"),
            "churn_probability_mean": _mean_of(churn_scores, member_keys, "churn_probability"),
            "preferred_purchase_channel": _top_channel({c: means[f"purchase_share_{c}"] for c in PURCHASE_CHANNELS})[0],
            "preferred_service_channel": _top_channel({c: means[f"service_share_{c}"] for c in SERVICE_CHANNELS})[0],
            "distinguishing_features": "; ".join(f"{f} {'+' if v > 0 else ''}{v:.1f} sd" for f, v in zip(z["feature"], z["z"])),
        })
    return pl.DataFrame(rows, schema_overrides={"nps": pl.Float64, "expected_value_12m_eur_mean": pl.Float64,
                                                 "churn_probability_mean": pl.Float64})


def _mean_of(frame: pl.DataFrame | None, keys: pl.DataFrame, column: str) -> float | None:
    if frame is None:
        return None
    return keys.join(frame, on="customer_key")[column].mean()
