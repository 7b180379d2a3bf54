with

source as (
    {{ deduplicate_latest(source('email_events', 'events'), ['event_id']) }}
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
