"""Survey answers that follow experience: after purchases, store visits and service contacts (CSAT, CES) and
a relationship NPS. A badly handled issue gives detractors, low CSAT and high effort; comments match the score."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from cx_demo.channels import text_languages
from cx_demo.frames import frame, strings
from cx_demo.texts import TextComposer
from cx_demo.timing import DAY, HOUR

COMMENT_SHARE = 0.45
RELATIONSHIP_NPS_PER_YEAR = 0.25
PERSONA_NPS_BASE = {"loyal_omnichannel": 9.0, "digital_native": 7.5, "store_regular": 8.2, "bargain_hunter": 6.8, "new_one_off": 7.2}


ANY_TRIGGER = "any"


@dataclass(frozen=True)
class PlantedChange:
    """A change with a known cause, for testing root-cause analysis: from `from_day` (0 = the first day of the
    demo) the surveys of `trigger_type` (purchase, store_visit, support_ticket, call, chat, relationship, or 'any')
    answer with the latent experience quality `quality` (0 worst .. 1 best; a good purchase is 0.85, good service
    0.75, a badly handled issue 0.1). With `topic` only the surveys about that topic (seed text_topics: delivery
    for online purchases, store_experience for store visits, the issue's topic for service surveys) are hit.
    The surveys of that group comment on their topic in every period (never as mere praise), so the group can be
    told apart by its texts before and after the change."""

    trigger_type: str
    from_day: int
    quality: float
    topic: str | None = None

    @classmethod
    def parse(cls, text: str) -> "PlantedChange":
        """'store_visit:60:0.1' → store visits from day 60 on rated with quality 0.1; 'any@delivery:60:0.1' →
        every survey about delivery."""
        trigger, from_day, quality = text.split(":")
        trigger_type, _, topic = trigger.partition("@")
        return cls(trigger_type, int(from_day), float(quality), topic or None)

    def group(self) -> pl.Expr:
        """The survey rows (columns trigger_type, topic) the change is about, in every period."""
        group = pl.lit(True) if self.trigger_type == ANY_TRIGGER else pl.col("trigger_type") == self.trigger_type
        return group if self.topic is None else group & (pl.col("topic") == self.topic)

    def hits(self) -> pl.Expr:
        """The survey rows (columns trigger_type, topic, t) whose quality the change overrides."""
        return self.group() & (pl.col("t") >= self.from_day * DAY)


def score_sentiment(survey_type: np.ndarray, score: np.ndarray) -> np.ndarray:
    negative = np.where(survey_type == "nps", score <= 6, np.where(survey_type == "csat", score <= 2, score >= 5))
    positive = np.where(survey_type == "nps", score >= 9, np.where(survey_type == "csat", score >= 4, score <= 2))
    return np.where(negative, "negative", np.where(positive, "positive", "neutral"))


def _scores(rng: np.random.Generator, survey_type: np.ndarray, quality: np.ndarray) -> np.ndarray:
    """Scores from a latent experience quality in [0, 1] plus noise, on each survey's scale (CES: low is good)."""
    q = np.clip(quality + rng.normal(0, 0.15, len(quality)), 0, 1)
    return np.select(
        [survey_type == "nps", survey_type == "csat"],
        [np.rint(q * 10), np.rint(1 + q * 4)],
        default=np.rint(7 - q * 6),
    ).astype(np.int64)


def surveys(rng: np.random.Generator, composer: TextComposer, people: pl.DataFrame, orders: pl.DataFrame, issues: pl.DataFrame,
            last_contacts: pl.DataFrame, end_seconds: int, planted: PlantedChange | None = None) -> tuple[pl.DataFrame, list[tuple]]:
    """Survey rows (person, t, survey_type, score, comment, trigger_type, trigger_id) and their text truth.

    `orders` carries `order_id`; `last_contacts` holds each issue's final contact (issue, person, t,
    trigger_type, trigger_id) as written in its own export. `planted` overrides the quality of some surveys
    (see PlantedChange).
    """
    sales = orders.filter(pl.col("order_type") == "sale")
    had_issue = np.isin(sales["key"].to_numpy(), issues["order_key"].drop_nulls().to_numpy())
    is_store = sales["channel"].to_numpy() == "store"
    asked = rng.random(sales.height) < np.where(is_store, 0.05, 0.09)
    purchase = frame({
        "person": sales["person"].to_numpy(), "t": sales["t"].to_numpy() + rng.integers(2 * HOUR, 5 * DAY, sales.height),
        "survey_type": "csat", "quality": np.where(had_issue, 0.3, 0.85), "trigger_type": np.where(is_store, "store_visit", "purchase"),
        "trigger_id": sales["order_id"].to_numpy(), "topic": np.where(is_store, "store_experience", "delivery"),
    }).filter(pl.Series(asked))
    bad = issues["bad"].to_numpy()[last_contacts["issue"].to_numpy()]
    asked = rng.random(last_contacts.height) < 0.3
    service = frame({
        "person": last_contacts["person"].to_numpy(), "t": last_contacts["t"].to_numpy() + rng.integers(HOUR, 2 * DAY, last_contacts.height),
        "survey_type": np.where(rng.random(last_contacts.height) < 0.5, "ces", "csat"), "quality": np.where(bad, 0.1, 0.75),
        "trigger_type": last_contacts["trigger_type"].to_numpy(), "trigger_id": last_contacts["trigger_id"].to_numpy(), "topic": issues["topic"].to_numpy()[last_contacts["issue"].to_numpy()],
    }).filter(pl.Series(asked))
    relationship = _relationship_nps(rng, people, issues, end_seconds)
    rows = pl.concat([purchase, service, relationship], how="vertical_relaxed").filter(pl.col("t") < end_seconds).sort("t", "person", maintain_order=True)
    in_planted_group = np.zeros(rows.height, dtype=bool)
    if planted is not None:
        in_planted_group = rows.with_columns(planted.group().alias("in_group"))["in_group"].to_numpy()
        rows = rows.with_columns(pl.when(planted.hits()).then(planted.quality).otherwise(pl.col("quality")).alias("quality"))
    survey_type = rows["survey_type"].to_numpy()
    score = _scores(rng, survey_type, rows["quality"].to_numpy())
    sentiment = score_sentiment(survey_type, score)
    language = text_languages(rng, people, rows["person"].to_numpy())
    praise = (sentiment == "positive") & (rng.random(rows.height) < 0.6) & ~in_planted_group
    topic = np.where(praise, "praise", rows["topic"].to_numpy())
    has_comment = (rng.random(rows.height) < COMMENT_SHARE) | in_planted_group
    comment, meta = np.full(rows.height, None, dtype=object), []
    for i in np.flatnonzero(has_comment):
        comment[i] = composer.comment(topic[i], sentiment[i], language[i])
        meta.append((int(i), "comment", language[i], sentiment[i], topic[i]))
    return rows.with_columns(score=pl.Series(score), comment=strings(comment)), meta


def _relationship_nps(rng: np.random.Generator, people: pl.DataFrame, issues: pl.DataFrame, end_seconds: int) -> pl.DataFrame:
    """A quarter of CRM contacts a year answer a relationship NPS; bad service and churn pull the score down."""
    share = RELATIONSHIP_NPS_PER_YEAR * min(1.0, end_seconds / DAY / 365)
    asked = np.flatnonzero(people["is_crm"].to_numpy() & (rng.random(people.height) < share))
    created = np.maximum(people["created_day"].to_numpy()[asked], 0) * DAY
    t = created + (rng.random(len(asked)) * (end_seconds - created)).astype(np.int64)
    bad_people = issues.filter("bad")["person"].to_numpy()
    base = np.array([PERSONA_NPS_BASE[p] for p in people["persona"].to_numpy()[asked]]) / 10
    quality = base - 0.5 * np.isin(asked, bad_people) - 0.2 * (t // DAY >= people["churn_day"].to_numpy()[asked] - 30)
    return frame({"person": asked, "t": t, "survey_type": "nps", "quality": quality, "trigger_type": "relationship",
                         "trigger_id": np.full(len(asked), None, dtype=object), "topic": "other"},
                        types={"trigger_id": pl.String})
