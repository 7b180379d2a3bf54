with

source as (
    {{ deduplicate_latest(source('mobile_messages', 'messages'), ['message_id']) }}
),

renamed as (
    select
        message_id,
        {{ as_utc_timestamp('sent_at') }} as sent_at,
        channel,
        customer_id,
        {{ normalize_phone_e164('phone') }} as phone_e164,
        campaign_id,
        campaign_type,
        status,
        {{ as_utc_timestamp('clicked_at') }} as clicked_at,
        {{ lineage_columns() }}
    from source
)

select * from renamed
