"""A dbt-duckdb plugin (profiles.yml `plugins:`) that gives dbt's DuckDB connections two SQL functions:
`cx_pseudonym(text)`, the keyed HMAC-SHA-256 pseudonym of cx_core/privacy/pseudonym.py, and `cx_redact(text)`,
the free-text redaction of ml/redaction.py.

The key stays in this Python process: written into the SQL, it would land in dbt's compiled files and logs.
Only tables may call the functions: a view would need them again whenever a report reads it.
"""

from __future__ import annotations

from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection
from duckdb.sqltypes import VARCHAR

from cx_core.privacy.pseudonym import pseudonym, pseudonym_key
from cx_core.settings import get_settings
from ml.redaction import redact


class Plugin(BasePlugin):
    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        key = pseudonym_key(get_settings().pseudonym_key_file)
        conn.create_function("cx_pseudonym", lambda value: pseudonym(key, value), [VARCHAR], VARCHAR)
        conn.create_function("cx_redact", redact, [VARCHAR], VARCHAR)
