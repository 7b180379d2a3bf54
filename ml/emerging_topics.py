"""Emerging themes: what customers write about in the latest period that is new or growing significantly.

Method:
1. The distinct texts of the latest period (the `period_days` days up to and including `as_of`) and of the
   `BASELINE_PERIODS` periods before it are embedded and clustered by meaning: average-linkage agglomerative
   clustering on cosine distance (scikit-learn), merged while the texts of a cluster are on average at least
   `CLUSTER_SIMILARITY` similar. No number of clusters has to be guessed and no random start matters. The
   earlier periods are clustered too so that a theme is not cut to the latest period's wording (which would
   favour the latest period in the test); above `MAX_CLUSTERED_TEXTS` distinct texts every latest one and a
   seeded sample of the earlier ones are clustered (pairwise distances grow with the square of the count).
2. Every text of the latest period and of the `BASELINE_PERIODS` periods before it counts for the cluster whose
   centroid it is most similar to, if at least `MEMBER_SIMILARITY`: one rule for every period, so counts compare.
   A cluster with at least `MIN_THEME_TEXTS` texts in the latest period is a theme of the latest period.
3. Test: if nothing changed, a theme's texts fall into the latest period in proportion to that period's share of
   all texts (so a busier week raises every theme alike and flags none). One-sided exact binomial test per theme,
   Benjamini-Hochberg over the themes at false discovery rate `fdr`.
4. Status: `new` when significant and the earlier periods together held fewer of its texts than
   `NEW_EARLIER_SHARE` of what the latest period holds per period; `growing` when significant otherwise; else
   `steady`. Growth is the latest period's share of all texts over the earlier periods' share.
5. Top words per language: class-based TF-IDF (c-TF-IDF: a word's frequency in the theme, weighted by how rare
   it is across all themes and the background of unclustered texts) from scikit-learn's CountVectorizer.
6. Verbatims: the distinct texts of the latest period closest to the centroid. Verbatims and top words come from
   texts masked with `ml.redaction` (placeholders such as [NAME] are no words), so no personal data gets out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date, timedelta

import numpy as np
import polars as pl
# SciPy and scikit-learn: imported in the functions that use them, not here. The Dagster definitions import
# this module, and every `cx run` paid for the imports at start-up, before its first step (issue 19,
# tests/test_definitions_imports.py).

from ml.emerging_topics_rules import BASELINE_PERIODS, FDR, MIN_THEME_TEXTS
from ml.language import ENGLISH, GERMAN
from ml.redaction import redact
from ml.topics import unit_rows

# Texts of one theme written differently (or in the other language) are on average 0.35-0.5 similar with the
# multilingual encoder, texts of different themes mostly below 0.3 (hand-written themes in tests/).
CLUSTER_SIMILARITY = 0.35
MEMBER_SIMILARITY = 0.5
MIN_PERIOD_TEXTS = 30  # fewer texts in the latest period give no theme a chance to be significant
MAX_CLUSTERED_TEXTS = 3_000
NEW_EARLIER_SHARE = 0.1
TOP_WORDS = 6
VERBATIMS = 3
# German function words and greetings: scikit-learn ships an English list only.
GERMAN_STOP_WORDS = frozenset(
    """
    aber alle allem allen aller alles als also am an auch auf aus bei beim bin bis bist da damit dann das dass
    dem den denn der des dich die dir doch dort du durch ein eine einem einen einer eines er es etwas euch
    für gegen habe haben hat hatte hier hin ich ihm ihn ihr ihre im in ist ja jetzt kann kein keine mal man
    mehr mein meine mich mir mit muss nach nicht noch nun nur ob oder ohne schon sehr sein seit sich sie sind
    so soll über um und uns unser unter vom von vor war waren was weil wenn wer wie wir wird wo wurde zu zum
    zur wieder bitte danke hallo gruß grüße viele liebe
    """.split()
)
GREETINGS_EN = frozenset("hello hi dear please thanks thank regards cheers".split())
PLACEHOLDER = re.compile(r"\[[A-Z_]+\]")  # what ml.redaction puts in place of personal data
STATUS_ORDER = {"new": 0, "growing": 1, "steady": 2}
THEME_SCHEMA = {
    "theme": pl.Int64, "status": pl.Utf8, "texts_latest": pl.Int64, "texts_earlier": pl.Int64,
    "expected_latest": pl.Float64, "growth": pl.Float64, "p_value": pl.Float64, "p_adjusted": pl.Float64,
    "significant": pl.Boolean, "top_words_en": pl.Utf8, "top_words_de": pl.Utf8, "verbatims": pl.List(pl.Utf8),
    "period_start": pl.Date, "period_end": pl.Date,
}


def period_of(days: pl.Expr, as_of: date, period_days: int) -> pl.Expr:
    """0 for the latest period (the `period_days` days up to and including `as_of`), 1 for the one before, ..."""
    return ((pl.lit(as_of) - days).dt.total_days() // period_days).cast(pl.Int64)


def with_periods(texts: pl.DataFrame, as_of: date, period_days: int) -> pl.DataFrame:
    """`texts` (occurred_at, text, language) of the latest and the `BASELINE_PERIODS` earlier periods, with `period`."""
    return (
        texts.with_columns(period=period_of(pl.col("occurred_at").dt.date(), as_of, period_days))
        .filter(pl.col("period").is_between(0, BASELINE_PERIODS), pl.col("text").str.strip_chars() != "")
    )


def too_little_text(texts: pl.DataFrame, as_of: date, period_days: int) -> str | None:
    """Why `texts` cannot show an emerging theme, or None when they can."""
    periods = with_periods(texts, as_of, period_days)["period"]
    latest, earlier = int((periods == 0).sum()), int((periods > 0).sum())
    if latest < MIN_PERIOD_TEXTS:
        return f"{latest} texts in the {period_days} days to {as_of}: at least {MIN_PERIOD_TEXTS} are needed"
    if earlier == 0:
        return f"no texts in the {BASELINE_PERIODS} periods before the latest one to compare with"
    return None


def clustered_rows(latest: np.ndarray, earlier: np.ndarray, seed: int) -> np.ndarray:
    """Row numbers to cluster: every latest-period text and a seeded sample of the earlier ones, together at most
    `MAX_CLUSTERED_TEXTS` (if the latest period alone has more, a sample of it)."""
    rng = np.random.default_rng(seed)
    if len(latest) >= MAX_CLUSTERED_TEXTS:
        return np.sort(rng.choice(latest, MAX_CLUSTERED_TEXTS, replace=False))
    room = MAX_CLUSTERED_TEXTS - len(latest)
    sampled = earlier if len(earlier) <= room else rng.choice(earlier, room, replace=False)
    return np.sort(np.concatenate([latest, sampled]).astype(int))


def cluster_centroids(embeddings: np.ndarray) -> np.ndarray:
    """Unit centroids of the clusters of `embeddings` (unit rows, one per distinct text)."""
    from sklearn.cluster import AgglomerativeClustering
    if len(embeddings) < 2:
        return embeddings
    # Unit rows: their cosine distances are one matrix product. scikit-learn's metric="cosine" went through SciPy's
    # pairwise loop, twice as slow (3,000 texts: 0.64 -> 0.31 s, the same clusters; issue 19).
    distances = np.clip(1.0 - embeddings @ embeddings.T, 0.0, None)
    np.fill_diagonal(distances, 0.0)
    labels = AgglomerativeClustering(
        n_clusters=None, metric="precomputed", linkage="average", distance_threshold=1 - CLUSTER_SIMILARITY
    ).fit_predict(distances)
    return unit_rows(np.array([embeddings[labels == label].mean(axis=0) for label in range(labels.max() + 1)]))


def top_words(documents: Sequence[str], language: str) -> list[str]:
    """c-TF-IDF: per document (one per theme, the last one the background), its `TOP_WORDS` most typical words
    that occur at least twice in it, comma-separated."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

    stop_words = {ENGLISH: ENGLISH_STOP_WORDS | GREETINGS_EN, GERMAN: GERMAN_STOP_WORDS}[language]
    if not any(documents[:-1]):
        return [""] * (len(documents) - 1)
    documents = [PLACEHOLDER.sub(" ", document) for document in documents]
    vectorizer = CountVectorizer(stop_words=list(stop_words), token_pattern=r"(?u)\b[^\W\d_]{3,}\b")
    try:
        counts = vectorizer.fit_transform(documents).toarray().astype(float)
    except ValueError:  # only stop words
        return [""] * (len(documents) - 1)
    words = vectorizer.get_feature_names_out()
    frequency = counts.sum(axis=1, keepdims=True)
    weights = counts / np.maximum(frequency, 1) * np.log(1 + frequency.mean() / np.maximum(counts.sum(axis=0), 1))
    return [
        ", ".join(words[i] for i in np.argsort(-row, kind="stable")[:TOP_WORDS] if counts[theme, i] >= 2)
        for theme, row in enumerate(weights[:-1])
    ]


def theme_documents(assigned: pl.DataFrame, themes: list[int], language: str, masked: dict[str, str]) -> list[str]:
    """For c-TF-IDF: per theme its latest-period texts in `language`, masked, then the background (every text
    of the language in no theme, any period)."""
    in_language = assigned.filter(pl.col("language") == language)
    return [
        " ".join(masked[text] for text in in_language.filter(pl.col("theme") == theme, pl.col("period") == 0)["text"])
        for theme in themes
    ] + [" ".join(in_language.filter(~pl.col("theme").is_in(themes))["text"])]


def significance(latest: np.ndarray, earlier: np.ndarray, latest_share: float) -> tuple[np.ndarray, np.ndarray]:
    """(p-values, BH-adjusted p-values) of the one-sided binomial test that each theme's texts fall into the
    latest period more often than its share `latest_share` of all texts."""
    from scipy.stats import binomtest, false_discovery_control
    p_values = np.array([binomtest(int(k), int(k + m), latest_share, alternative="greater").pvalue
                         for k, m in zip(latest, earlier)])
    return p_values, false_discovery_control(p_values, method="bh") if len(p_values) else p_values


def emerging_topics(
    texts: pl.DataFrame,
    embed: Callable[[list[str]], np.ndarray],
    as_of: date,
    period_days: int = 7,
    fdr: float = FDR,
    seed: int = 0,
) -> pl.DataFrame:
    """One row per theme of the latest period (schema `THEME_SCHEMA`), new and growing themes first.

    `texts` has `occurred_at` (datetime), `text` and `language` (`de`, `en` or other); `embed` turns texts into
    one vector each (rows in input order)."""
    periods = with_periods(texts, as_of, period_days)
    distinct = periods["text"].unique(maintain_order=True).to_list()
    vectors = unit_rows(np.asarray(embed(distinct), dtype=np.float64))
    index = {text: i for i, text in enumerate(distinct)}
    latest_ids = np.array(sorted({index[t] for t in periods.filter(pl.col("period") == 0)["text"]}), dtype=int)
    earlier_ids = np.setdiff1d(np.arange(len(distinct)), latest_ids)
    centroids = cluster_centroids(vectors[clustered_rows(latest_ids, earlier_ids, seed)])
    similarity = vectors @ centroids.T if len(centroids) else np.zeros((len(distinct), 0))
    nearest = similarity.argmax(axis=1) if len(centroids) else np.full(len(distinct), -1)
    member = np.where(similarity.max(axis=1, initial=-1) >= MEMBER_SIMILARITY, nearest, -1)
    assigned = periods.with_columns(
        theme=pl.Series([int(member[index[t]]) for t in periods["text"]], dtype=pl.Int64)
    )
    counts = (
        assigned.filter(pl.col("theme") >= 0)
        .group_by("theme")
        .agg(texts_latest=(pl.col("period") == 0).sum().cast(pl.Int64),
             texts_earlier=(pl.col("period") > 0).sum().cast(pl.Int64))
        .filter(pl.col("texts_latest") >= MIN_THEME_TEXTS)
        .sort("theme")
    )
    if counts.is_empty():
        return pl.DataFrame(schema=THEME_SCHEMA)
    total_latest = int((periods["period"] == 0).sum())
    total_earlier = periods.height - total_latest
    latest_share = total_latest / periods.height
    latest, earlier = counts["texts_latest"].to_numpy(), counts["texts_earlier"].to_numpy()
    p_values, adjusted = significance(latest, earlier, latest_share)
    significant = adjusted <= fdr
    earlier_periods = periods.filter(pl.col("period") > 0)["period"].n_unique()
    new = significant & (earlier < NEW_EARLIER_SHARE * latest * earlier_periods)
    themes = counts["theme"].to_list()
    masked = {distinct[i]: redact(distinct[i]) for i in latest_ids}
    words = {language: top_words(theme_documents(assigned, themes, language, masked), language)
             for language in (ENGLISH, GERMAN)}
    verbatims = [
        # the theme's own texts of the latest period, nearest to its centre first
        [masked[distinct[i]] for i in members[np.argsort(-similarity[members, theme], kind="stable")][:VERBATIMS]]
        for theme in themes
        for members in [latest_ids[member[latest_ids] == theme]]
    ]
    earlier_rate = pl.col("texts_earlier") / total_earlier
    return (
        pl.DataFrame(
            {
                "theme": themes,
                "status": np.where(new, "new", np.where(significant, "growing", "steady")).tolist(),
                "texts_latest": latest,
                "texts_earlier": earlier,
                "expected_latest": np.round((latest + earlier) * latest_share, 2),
                "p_value": p_values,
                "p_adjusted": adjusted,
                "significant": significant,
                "top_words_en": words[ENGLISH],
                "top_words_de": words[GERMAN],
                "verbatims": verbatims,
            }
        )
        .with_columns(
            # no growth factor from nothing: a theme without earlier texts is new, its growth unknown
            growth=pl.when(pl.col("texts_earlier") > 0)
            .then((pl.col("texts_latest") / total_latest / earlier_rate).round(2)),
            period_start=pl.lit(as_of - timedelta(days=period_days - 1)),
            period_end=pl.lit(as_of),
        )
        .sort(pl.col("status").replace_strict(STATUS_ORDER), "p_value", "theme")
        # themes numbered in reading order
        .with_columns(theme=pl.int_range(1, pl.len() + 1, dtype=pl.Int64))
        .select(pl.col(name).cast(dtype) for name, dtype in THEME_SCHEMA.items())
    )
