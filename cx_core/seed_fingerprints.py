"""Which seeds the warehouse holds exactly as the project would load them now (issue 19).

A seed's table carries, as its comment, the fingerprint of what dbt loaded it from: the seed file's checksum and the
configuration that shapes the table (dbt_models/macros/seed_fingerprint.sql writes it after every load). The daily
refresh leaves out the seeds whose table carries the fingerprint the manifest gives now, and their tests with them:
at 100k customers the 12 seeds and their 67 tests were 79 of the main dbt step's 192 nodes, each with its dbt and
Dagster events, for tables that had not changed. An edited seed file (or its `column_types`) changes the
fingerprint and is loaded again by the next refresh; a warehouse built before fingerprints existed loads every seed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb

# The seed's configuration that shapes its table; the macro builds the same mapping.
SHAPING_CONFIG = ("column_types", "delimiter", "quote_columns")


def seed_fingerprint(node: Mapping[str, Any]) -> str:
    """The fingerprint the macro `seed_fingerprint` writes for this seed node of the manifest."""
    shaping = {"checksum": node["checksum"]["checksum"], **{key: node["config"].get(key) for key in SHAPING_CONFIG}}
    # dbt's `tojson(..., sort_keys=True)` and `local_md5` are json.dumps and an MD5 of its UTF-8 text
    return "cx seed " + hashlib.md5(json.dumps(shaping, sort_keys=True).encode("utf-8")).hexdigest()


def seeds_loaded_as_they_are(warehouse: Path, seeds: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Those of `seeds` (seed nodes of the manifest) whose table in `warehouse` carries the fingerprint they have
    now."""
    if not seeds or not warehouse.exists():
        return []
    with duckdb.connect(str(warehouse), read_only=True) as con:
        comments = {(schema, table): comment for schema, table, comment in con.execute(
            "SELECT schema_name, table_name, comment FROM duckdb_tables() WHERE comment IS NOT NULL").fetchall()}
    return [seed for seed in seeds if comments.get((seed["schema"], seed["alias"])) == seed_fingerprint(seed)]
