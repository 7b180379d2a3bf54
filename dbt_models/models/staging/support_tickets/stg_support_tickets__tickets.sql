with

source as (
    {{ deduplicate_latest(source('support_tickets', 'tickets'), ['ticket_id']) }}
),

renamed as (
    select
        ticket_id,
        {{ as_utc_timestamp('created_at') }} as created_at,
        channel,
        {{ normalize_email('email') }} as email,
        {{ normalize_handle('social_handle') }} as social_handle,
        customer_name,
        subject,
        body,
        category,
        priority,
        status,
        {{ as_utc_timestamp('first_response_at') }} as first_response_at,
        response_channel,
        {{ as_utc_timestamp('solved_at') }} as solved_at,
        reply_count,
        order_id,
        {{ lineage_columns() }}
    from source
)

select * from renamed
