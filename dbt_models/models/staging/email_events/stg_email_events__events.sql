-- An incremental table, not a view, for the reason stg_web_events__events gives (2.4M e-mail events at 100k
-- customers, read by the touchpoints, the identity observations, fct_campaign_assignments and the tests): a run
-- deduplicates only the raw rows ingested after the table's latest row and replaces their events (delete+insert
-- on event_id); retention and erasure delete from it (cx_core/privacy/). Its rows carry the run's `_staged_at`
-- stamp for the same reason as there (the data tests check the latest run's rows).
{{ config(
    materialized='incremental' if target.type == 'duckdb' else 'table',
    unique_key='event_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
) }}

with

source as (
    {{ deduplicate_latest(source('email_events', 'events'), ['event_id'], where=ingested_after_this_table()) }}
),

renamed as (
    select
        event_id,
        {{ as_utc_timestamp('event_time') }} as event_time,
        {{ normalize_email('email') }} as email,
        campaign_id,
        campaign_type,
        event_type,
        link_url,
        {{ lineage_columns() }},
        {{ this_run_started_at() }} as _staged_at
    from source
)

select * from renamed
