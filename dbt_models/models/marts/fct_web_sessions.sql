-- Web and app sessions (int_web_sessions) published for reports and analysts: how far each session went
-- in the shop funnel and whose it was (the login itself and int_web_sessions' other bookkeeping stay behind).
--
-- Incremental (DuckDB): a run writes again (delete+insert on anonymous_id) the sessions of the cookies
-- int_web_sessions split again after this table's latest run (`_sessionized_at`); the post-hook deletes the cookies
-- it no longer has (retention, erasure). Copying all 1.2 M sessions at 100k customers took 1.3-2.3 s of every
-- refresh's main dbt step (issue 19). Spark rebuilds it as a table.
{{ config(
    materialized='incremental' if target.type == 'duckdb' else 'table',
    unique_key='anonymous_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    post_hook="{{ delete_rows_without_parent('anonymous_id', ref('int_web_sessions')) }}",
) }}

select
    session_id,
    anonymous_id,
    customer_key,
    is_logged_in,
    platform,
    device,
    utm_source,
    started_at,
    ended_at,
    duration_seconds,
    events,
    page_views,
    has_view_item,
    has_add_to_cart,
    has_begin_checkout,
    has_purchase,
    purchase_value_eur,
    _sessionized_at
from {{ ref('int_web_sessions') }}
{%- if is_incremental() %}
where _sessionized_at > {{ latest_in_this('_sessionized_at') }}
{%- endif %}
