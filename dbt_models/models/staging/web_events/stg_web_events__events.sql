with

source as (
    {{ deduplicate_latest(source('web_events', 'events'), ['event_id']) }}
),

renamed as (
    select
        event_id,
        {{ as_utc_timestamp('event_time') }} as event_time,
        anonymous_id,
        user_id,
        event_type,
        platform,
        device,
        page_url,
        product_id,
        product_category,
        value_eur,
        order_id,
        utm_source,
        {{ lineage_columns() }}
    from source
)

select * from renamed
