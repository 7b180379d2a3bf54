"""The mart rows the customer models read (`ml.features.CustomerHistory`): one query per input.

The queries are plain SQL that DuckDB and Spark SQL both run: the DuckDB path reads them from the warehouse
file into this process (`load_history`), the Spark path (`cx_core.spark_churn`) runs the same queries over the
Parquet marts Spark wrote.
"""

from __future__ import annotations

from cx_core.warehouse import Warehouse, read_frames, table_names
from ml.features import CustomerHistory

# CustomerHistory field -> (mart it reads, query). A missing optional mart leaves its feature family out.
HISTORY_QUERIES = {
    "orders": ("fct_orders", """
        SELECT customer_key, ordered_at, order_type, value_eur, channel
        FROM fct_orders WHERE customer_key IS NOT NULL"""),
    "web_events": ("fct_touchpoints", """
        SELECT customer_key, occurred_at, touchpoint_type
        FROM fct_touchpoints WHERE source = 'web_events' AND customer_key IS NOT NULL"""),
    "email_events": ("fct_touchpoints", """
        SELECT customer_key, occurred_at, touchpoint_type
        FROM fct_touchpoints WHERE source = 'email_events' AND customer_key IS NOT NULL"""),
    "service_contacts": ("fct_service_contacts", """
        SELECT customer_key, issue_id, occurred_at, resolved, closed_at, is_repeat_contact_7d, wait_seconds
        FROM fct_service_contacts WHERE customer_key IS NOT NULL"""),
    "surveys": ("fct_survey_responses", """
        SELECT customer_key, responded_at, survey_type, score
        FROM fct_survey_responses WHERE customer_key IS NOT NULL"""),
    "sentiment": ("ml_sentiment", """
        SELECT customer_key, occurred_at, label, score
        FROM ml_sentiment WHERE customer_key IS NOT NULL"""),
}
HISTORY_TABLES = list(dict.fromkeys(table for table, _ in HISTORY_QUERIES.values()))


def load_history(warehouse: Warehouse) -> CustomerHistory:
    """The marts the features read, from the DuckDB warehouse; a missing optional table leaves its family out."""
    tables = table_names(warehouse)
    return CustomerHistory(**read_frames(warehouse, {name: query for name, (table, query) in HISTORY_QUERIES.items()
                                                     if table in tables}))
