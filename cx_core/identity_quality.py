"""How well identity resolution matches the demo's ground truth: pairwise precision and recall of "same person"
over identifiers.

Every identifier in the truth is one item. Two items are a true pair when the truth gives them the same person,
a predicted pair when resolution gives them the same customer_key. Precision = correct pairs / predicted pairs,
recall = correct pairs / true pairs. Pairs are counted from group sizes (n·(n−1)/2 per person, per customer and
per (customer, person) cell of the contingency table), never enumerated, so the measure is linear in the number
of identifiers.

`recall_ceiling` is the recall no rule could beat on this data: an identifier that never shares a record with
another identifier (a cookie that never logs in, buys or chats) can only stay alone, so the ceiling counts the
true pairs among the identifiers that share a record with some other identifier.

The truth lists identifiers as written in the exports; they are normalised here by the staging rules
(docs/CONVENTIONS.md) before matching. An identifier the truth gives to several people (a shared household
phone) has no right answer and is left out (counted in `ambiguous_identifiers`); one that resolution never saw
counts as a customer of its own.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import polars as pl

# Column names the truth may use for an identifier -> the identifier types of int_identity_components.
IDENTIFIER_TYPES = {
    "crm_id": "crm_id",
    "customer_id": "crm_id",
    "user_id": "crm_id",
    "email": "email",
    "phone": "phone",
    "phone_e164": "phone",
    "loyalty_id": "loyalty_id",
    "social_handle": "social_handle",
    "author_handle": "social_handle",
    "handle": "social_handle",
    "anonymous_id": "anonymous_id",
}


@dataclass(frozen=True)
class IdentityQuality:
    precision: float
    recall: float
    identifiers: int
    persons: int
    customers: int
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int
    ambiguous_identifiers: int
    unresolved_identifiers: int
    recall_ceiling: float

    def as_metadata(self) -> dict[str, float | int]:
        """Flat figures for Dagster materialisation metadata and `make bench`."""
        return {f"identity_{name}": value for name, value in asdict(self).items()}


def normalise_phone_e164(phone: pl.Expr, default_country_code: str = "49") -> pl.Expr:
    """The staging macro normalize_phone_e164 in polars: '+..' kept, '00..' -> '+..', national '0..' -> default
    country; anything else, letters, or a result outside 7-15 digits -> null."""
    dialable = phone.str.replace_all("(0)", "", literal=True).str.replace_all(r"[^0-9+]", "")
    candidate = (
        pl.when(dialable.str.starts_with("+"))
        .then(dialable)
        .when(dialable.str.starts_with("00"))
        .then(pl.lit("+") + dialable.str.slice(2))
        .when(dialable.str.starts_with("0"))
        .then(pl.lit(f"+{default_country_code}") + dialable.str.slice(1))
    )
    plausible = phone.str.contains(r"^[0-9 +()/.\-]+$") & candidate.str.contains(r"^\+[1-9][0-9]{6,14}$")
    return pl.when(plausible).then(candidate)


def normalise_identifier(identifier_type: pl.Expr, value: pl.Expr, default_country_code: str = "49") -> pl.Expr:
    """An identifier value as staging and the identity models store it (empty -> null)."""
    trimmed = value.str.strip_chars()
    handle = trimmed.str.to_lowercase().str.strip_chars_start("@")
    normalised = (
        pl.when(identifier_type == "email")
        .then(trimmed.str.to_lowercase())
        .when(identifier_type == "phone")
        .then(normalise_phone_e164(value, default_country_code))
        .when(identifier_type == "social_handle")
        .then(pl.when(handle != "").then(pl.lit("@") + handle))
        .when(identifier_type == "loyalty_id")
        .then(trimmed.str.to_uppercase())
        .otherwise(trimmed)
    )
    return pl.when(normalised != "").then(normalised)


def _pairs(group_sizes: pl.Expr) -> pl.Expr:
    return (group_sizes * (group_sizes - 1) // 2).sum()


def measure_identity_quality(
    resolved: pl.DataFrame, truth: pl.DataFrame, linkable: pl.DataFrame, default_country_code: str = "49"
) -> IdentityQuality:
    """`resolved`: identifier_type, identifier_value, customer_key (int_identity_components).
    `truth`: identifier_type, identifier_value (as exported), person_id; other columns are ignored.
    `linkable`: identifier_type, identifier_value of the identifiers that share a record with another one."""
    known_types = pl.col("identifier_type").replace_strict(IDENTIFIER_TYPES, default=None)
    typed = truth.select(known_types.alias("identifier_type"), pl.col("identifier_value").cast(pl.String),
                         "person_id").drop_nulls("identifier_type")
    # One identifier type at a time, named as a literal, so polars evaluates only that type's rule: the phone
    # rule on all 932k identifiers of the 100k-customer demo took 10 s of a dbt step's metadata (issue 19).
    parts = [part.with_columns(normalise_identifier(pl.lit(kind), pl.col("identifier_value"), default_country_code))
             for (kind,), part in typed.partition_by("identifier_type", as_dict=True).items()]
    truth_items = (pl.concat(parts) if parts else typed).drop_nulls(["identifier_value", "person_id"]).unique()
    persons_per_identifier = truth_items.group_by("identifier_type", "identifier_value").agg(
        pl.col("person_id").n_unique().alias("persons"), pl.col("person_id").first()
    )
    items = persons_per_identifier.filter(pl.col("persons") == 1).join(
        resolved.select("identifier_type", "identifier_value", "customer_key"),
        on=["identifier_type", "identifier_value"],
        how="left",
    )
    unresolved = items.filter(pl.col("customer_key").is_null()).height
    items = items.with_columns(
        pl.col("customer_key").fill_null(pl.lit("unresolved:") + pl.col("identifier_type") + ":" + pl.col("identifier_value"))
    )
    true_pairs = items.group_by("person_id").len().select(_pairs(pl.col("len"))).item()
    linkable_pairs = (
        items.join(linkable.select("identifier_type", "identifier_value"), on=["identifier_type", "identifier_value"],
                   how="semi")
        .group_by("person_id").len().select(_pairs(pl.col("len"))).item()
    )
    predicted_pairs = items.group_by("customer_key").len().select(_pairs(pl.col("len"))).item()
    correct_pairs = items.group_by("customer_key", "person_id").len().select(_pairs(pl.col("len"))).item()
    return IdentityQuality(
        precision=correct_pairs / predicted_pairs if predicted_pairs else 1.0,
        recall=correct_pairs / true_pairs if true_pairs else 1.0,
        identifiers=items.height,
        persons=items["person_id"].n_unique(),
        customers=items["customer_key"].n_unique(),
        true_pairs=true_pairs,
        predicted_pairs=predicted_pairs,
        correct_pairs=correct_pairs,
        ambiguous_identifiers=persons_per_identifier.filter(pl.col("persons") > 1).height,
        unresolved_identifiers=unresolved,
        recall_ceiling=linkable_pairs / true_pairs if true_pairs else 1.0,
    )


RESOLVED_SQL = "select identifier_type, identifier_value, customer_key from int_identity_components"
# Identifiers that share at least one record (int_identity_observations.record_ref) with another identifier.
LINKABLE_SQL = """
    with record_sizes as (
        select record_ref, count(distinct identifier) as identifiers
        from int_identity_observations group by record_ref
    )
    select observations.identifier_type, observations.identifier_value
    from int_identity_observations as observations
    inner join record_sizes on record_sizes.record_ref = observations.record_ref
    group by observations.identifier_type, observations.identifier_value
    having max(record_sizes.identifiers) > 1
"""


def truth_identities(truth_dir: Path) -> Path:
    return truth_dir / "identities.parquet"


def measure_against_truth(warehouse: duckdb.DuckDBPyConnection, truth_dir: Path) -> IdentityQuality | None:
    """The figures for a built warehouse (an open connection) and the demo truth folder; None without a truth
    (real data has none)."""
    if not truth_identities(truth_dir).exists():
        return None
    return measure_identity_quality(
        warehouse.sql(RESOLVED_SQL).pl(), pl.read_parquet(truth_identities(truth_dir)), warehouse.sql(LINKABLE_SQL).pl()
    )
