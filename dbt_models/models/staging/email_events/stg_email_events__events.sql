-- An incremental table, not a view, for the reason stg_web_events__events gives (2.4M e-mail events at 100k
-- customers, read by the touchpoints, the identity observations, fct_campaign_assignments and the tests): a run
-- deduplicates only the raw rows ingested after the table's latest row and replaces their events (delete+insert
-- on event_id); retention and erasure delete from it (cx_core/privacy/).
{{ config(
    materialized='incremental' if target.type == 'duckdb' else 'table',
    unique_key='event_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
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
        {{ lineage_columns() }}
    from source
)

select * from renamed
