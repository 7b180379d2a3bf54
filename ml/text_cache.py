"""Sentiment results cached by text hash and model version, so a re-run scores only texts it has not seen.

The cache is one Parquet file (default `data/ml_cache/sentiment.parquet`). A key is (text_hash, model_version):
the same text from two touchpoints is scored once, and changing the model or its head starts a fresh set of
entries without deleting the old ones (switching back is free). Writes go to a temporary file that replaces the
old one, so an interrupted run never leaves a half-written cache.
"""

from __future__ import annotations

import hashlib
import os
from datetime import datetime, timezone
from pathlib import Path

import polars as pl

SENTIMENT_CACHE_FILE = "sentiment.parquet"  # under the ML cache folder (CX_ML_CACHE_DIR)

CACHE_SCHEMA = {
    "text_hash": pl.Utf8,
    "model_version": pl.Utf8,
    "label": pl.Utf8,
    "score": pl.Float64,
    "scored_at": pl.Datetime("us", "UTC"),
}


def text_hash(text: str | None) -> str:
    """SHA-256 of the stripped UTF-8 text: stable across processes and library versions (unlike polars' hash)."""
    return hashlib.sha256((text or "").strip().encode("utf-8")).hexdigest()


def with_text_hash(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.Series("text_hash", [text_hash(t) for t in frame["text"].to_list()], dtype=pl.Utf8))


class TextCache:
    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> pl.DataFrame:
        if not self.path.exists():
            return pl.DataFrame(schema=CACHE_SCHEMA)
        return pl.read_parquet(self.path).cast(CACHE_SCHEMA)

    def split(self, texts: pl.DataFrame, model_version: str) -> tuple[pl.DataFrame, pl.DataFrame]:
        """(cached results for `texts`' distinct hashes, distinct uncached rows of `texts` to score)."""
        distinct = texts.unique(subset="text_hash", keep="first", maintain_order=True)
        cached = self.read().filter(pl.col("model_version") == model_version)
        hits = cached.join(distinct.select("text_hash"), on="text_hash", how="semi")
        misses = distinct.join(cached.select("text_hash"), on="text_hash", how="anti")
        return hits, misses

    def remove(self, text_hashes: set[str]) -> int:
        """Drop the entries of these texts (erasure of a person); returns how many entries went."""
        stored = self.read()
        kept = stored.filter(~pl.col("text_hash").is_in(sorted(text_hashes)))
        if kept.height < stored.height:
            self._write(kept)
        return stored.height - kept.height

    def add(self, scored: pl.DataFrame, model_version: str) -> pl.DataFrame:
        """Store `scored` (text_hash, label, score) under `model_version`; returns the stored rows."""
        new_rows = scored.select("text_hash", "label", "score").with_columns(
            pl.lit(model_version).alias("model_version"),
            pl.lit(datetime.now(timezone.utc)).cast(CACHE_SCHEMA["scored_at"]).alias("scored_at"),
        ).select(list(CACHE_SCHEMA))
        if new_rows.is_empty():
            return new_rows
        self._write(pl.concat([self.read(), new_rows]).unique(subset=["text_hash", "model_version"], keep="last"))
        return new_rows

    def _write(self, entries: pl.DataFrame) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp.parquet")
        entries.write_parquet(temporary)
        os.replace(temporary, self.path)
