"""`ml_emerging_topics` (group `ml`): themes in what customers wrote in the latest period that are new or growing
significantly compared with the periods before (`ml.emerging_topics`), for the voice-of-the-customer report.

The embeddings of the compared periods' texts are kept in the text cache (`ml.text_cache.EMBEDDINGS`, by text hash
and encoder version), so a daily refresh encodes the new day's texts only; entries of texts that left the compared
periods are dropped, so the cache stays the size of the window. Their languages come from the language cache that
`ml_sentiment` fills as well (`ml.text_cache.LANGUAGE`)."""

import time
from datetime import date

import dagster as dg
import polars as pl

from cx_core.warehouse import read_frame, replace_table
from dagster_project.defs.assets.dbt import warehouse_table_key
from dagster_project.defs.metadata import frame_metadata, skipped
from dagster_project.defs.resources import PipelineSettings, WarehouseResource, holds_warehouse_open
from ml.emerging_topics import THEME_SCHEMA, emerging_topics, too_little_text, with_periods
from ml.sentiment import shared_multilingual_encoder, with_languages
from ml.text_cache import EMBEDDINGS, LANGUAGE, CachedEncoder, TextCache, with_text_hash

CUSTOMER_TEXTS_SQL = """
    SELECT occurred_at, text, language
    FROM fct_touchpoints
    WHERE text IS NOT NULL AND direction = 'inbound'
"""


@dg.asset(
    group_name="ml",
    pool="duckdb",
    deps=[warehouse_table_key("fct_touchpoints")],
    kinds={"python", "duckdb"},
    description="Themes of the latest period's customer texts (clusters of similar meaning, German and English "
    "together) with counts against the earlier periods, a binomial test with Benjamini-Hochberg correction, "
    "status new/growing/steady, top words per language and three masked verbatims.",
)
@holds_warehouse_open
def ml_emerging_topics(
    context: dg.AssetExecutionContext, cx: PipelineSettings, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    settings = cx.settings
    period_days = settings.emerging_topics_period_days
    texts = read_frame(warehouse, CUSTOMER_TEXTS_SQL)
    newest = texts["occurred_at"].max()
    as_of = date.fromisoformat(settings.as_of) if settings.as_of else newest.date() if newest else None
    if as_of:  # languages of the compared periods' texts only: detection is a Python loop per distinct text
        texts = with_languages(with_text_hash(with_periods(texts, as_of, period_days)),
                               TextCache(settings.ml_cache_dir, LANGUAGE))
    reason = too_little_text(texts, as_of, period_days) if as_of else "no customer texts"
    if reason:
        empty = pl.DataFrame(schema=THEME_SCHEMA)
        replace_table(warehouse, "ml_emerging_topics", empty)
        context.log.warning(f"emerging topics skipped: {reason}")
        return dg.MaterializeResult(metadata={**skipped(reason), **frame_metadata(empty)})

    started = time.perf_counter()
    # the window moves on: texts older than the compared periods are not asked for again
    encoder = CachedEncoder(shared_multilingual_encoder(), TextCache(settings.ml_cache_dir, EMBEDDINGS), window=True)
    themes = emerging_topics(texts, encoder.encode, as_of, period_days)
    seconds = time.perf_counter() - started
    replace_table(warehouse, "ml_emerging_topics", themes)
    statuses = dict(themes.group_by("status").len().iter_rows())
    context.log.info(f"{themes.height} themes in the {period_days} days to {as_of} in {seconds:.1f}s: {statuses}")
    flagged = themes.filter(pl.col("significant"))
    return dg.MaterializeResult(
        metadata={
            **frame_metadata(themes),
            "period": f"{themes['period_start'].min() if themes.height else as_of} to {as_of}",
            "period_days": period_days,
            "new_themes": statuses.get("new", 0),
            "growing_themes": statuses.get("growing", 0),
            "flagged": dg.MetadataValue.md(
                "\n".join(f"- {row['status']}: {row['top_words_en'] or row['top_words_de']} "
                          f"({row['texts_latest']} texts, p = {row['p_adjusted']:.3g})"
                          for row in flagged.iter_rows(named=True)) or "nothing new or growing significantly"
            ),
            "seconds": round(seconds, 1),
            # distinct texts embedded now, and read from the embeddings cache; entries of texts left behind
            "texts_computed": encoder.computed,
            "texts_reused": encoder.reused,
            "embeddings_dropped": encoder.dropped,
        }
    )
