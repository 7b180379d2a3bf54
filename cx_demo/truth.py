"""Ground truth for tests and benchmarks, written apart from the exports (the pipeline computes nothing from it;
assets only measure their quality against it when it exists).

Tables grow chunk by chunk through one Parquet writer each, so memory stays bounded for any population:
identities, persons, texts, campaign_responses, response_model and bad_rows (see docs in generate.py).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from cx_demo.frames import strings
from cx_demo.marketing import RESPONSE_WINDOW_DAYS
from cx_demo.simulate import World
from cx_demo.timing import DAY
from cx_demo.writers import utc_instants

IDENTIFIER_COLUMNS = {
    "crm_customers": {"customer_id": "customer_id", "email": "email", "phone": "phone", "loyalty_id": "loyalty_id", "social_handle": "social_handle"},
    "web_events": {"anonymous_id": "anonymous_id", "user_id": "customer_id"},
    "orders": {"customer_id": "customer_id", "email": "email", "loyalty_id": "loyalty_id"},
    "email_events": {"email": "email"},
    "mobile_messages": {"customer_id": "customer_id", "phone": "phone"},
    "support_tickets": {"email": "email", "social_handle": "social_handle"},
    "chat_conversations": {"user_id": "customer_id", "email": "email", "anonymous_id": "anonymous_id"},
    "calls": {"phone": "phone"},
    "social_mentions": {"author_handle": "social_handle"},
    "surveys": {"customer_id": "customer_id", "email": "email"},
    "case_updates": {},  # a case id names no person
}
SCHEMAS = {
    "identities": {"source": pl.String, "identifier_type": pl.String, "identifier_value": pl.String, "person_id": pl.String},
    "persons": {"person_id": pl.String, "persona": pl.String, "customer_id": pl.String, "country": pl.String, "language": pl.String,
                "churned": pl.Boolean, "churn_date": pl.Date, "purchase_rate_per_year": pl.Float64},
    "texts": {"source": pl.String, "record_id": pl.String, "field": pl.String, "language": pl.String, "intended_sentiment": pl.String, "topic": pl.String},
    "campaign_responses": {"person_id": pl.String, "customer_id": pl.String, "persona": pl.String, "action": pl.String, "channel": pl.String,
                           "p_response": pl.Float64, "sent_at": pl.Datetime("us", "UTC"), "is_holdout": pl.Boolean,
                           "could_respond": pl.Boolean, "converted_without_action": pl.Boolean, "responded": pl.Boolean,
                           "responded_at": pl.Datetime("us", "UTC"), "value_eur": pl.Float64},
    "response_model": {"persona": pl.String, "action": pl.String, "channel": pl.String, "p_response": pl.Float64},
    "bad_rows": {"source": pl.String, "file": pl.String, "line": pl.Int64, "kind": pl.String, "expected_reason": pl.String},
}


def identities(exports: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Every identifier value exactly as written, with the person(s) it belongs to."""
    parts = [
        frame.select(source=pl.lit(source), identifier_type=pl.lit(kind), identifier_value=pl.col(column), person_id="_person_id")
        for source, frame in exports.items()
        for column, kind in IDENTIFIER_COLUMNS[source].items()
    ]
    return pl.concat(parts).drop_nulls("identifier_value").unique(maintain_order=True)


def persons(world: World, start: date, days: int) -> pl.DataFrame:
    people = world.people
    churned = people["churn_day"] < days
    return people.select(
        "person_id", "persona", "customer_id", "country", "language", churned=churned,
        churn_date=pl.when(churned).then(pl.lit(start) + pl.duration(days=pl.col("churn_day"))).otherwise(None).cast(pl.Date),
        purchase_rate_per_year="purchase_rate_per_year",
    )


def campaign_responses(world: World, start: date) -> pl.DataFrame:
    """Every triggered action (held out or sent) with its outcome. The true uplift of a group of actions is the
    mean of p_response × could_respond × (1 − converted_without_action)."""
    actions, people = world.actions.with_columns(converted_without_action=_converted_without_action(world)), world.people
    person = actions["person"].to_numpy()
    return actions.select(
        person_id=pl.Series(people["person_id"].to_numpy()[person]), customer_id=strings(people["customer_id"].to_numpy()[person]),
        persona="persona", action="action", channel="channel", p_response="p_response", sent_at=utc_instants(actions["t"], start),
        is_holdout="is_holdout", could_respond="could_respond", converted_without_action="converted_without_action",
        responded="responded", responded_at=utc_instants(actions["response_t"], start), value_eur="value_eur",
    )


def _converted_without_action(world: World) -> pl.Series:
    """Whether the person bought anything within the response window of the action other than the purchase
    that answered this very action: the outcome without the action (organic purchases, answers to other actions)."""
    window = RESPONSE_WINDOW_DAYS * DAY
    sales = world.orders.filter(pl.col("order_type") == "sale").select("person", order_t="t", is_response=pl.col("origin") == "response")
    actions = world.actions.select("person", "t", "response_t").with_row_index("action_row")
    converted = actions.join(sales, on="person").filter(
        (pl.col("order_t") >= pl.col("t")) & (pl.col("order_t") < pl.col("t") + window)
        & ~(pl.col("is_response") & (pl.col("order_t") == pl.col("response_t")).fill_null(False))
    )["action_row"].unique()
    return actions["action_row"].is_in(converted.implode())


class TruthWriter:
    """One Parquet file per truth table, appended chunk by chunk."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._writers: dict[str, pq.ParquetWriter] = {}

    def add(self, table: str, rows: pl.DataFrame) -> None:
        arrow = rows.select(list(SCHEMAS[table])).cast(SCHEMAS[table]).to_arrow()
        if table not in self._writers:
            self._writers[table] = pq.ParquetWriter(self.folder / f"{table}.parquet", arrow.schema)
        self._writers[table].write_table(arrow)

    def close(self) -> list[Path]:
        for writer in self._writers.values():
            writer.close()
        return sorted(self.folder / f"{table}.parquet" for table in self._writers)
