with

source as (
    {{ deduplicate_latest(source('calls', 'calls'), ['call_id']) }}
),

renamed as (
    select
        call_id,
        {{ as_utc_timestamp('started_at') }} as started_at,
        {{ normalize_phone_e164('phone') }} as phone_e164,
        direction,
        ivr_path,
        queue,
        wait_seconds,
        talk_seconds,
        hold_seconds,
        wrap_seconds,
        transfer_count,
        abandoned,
        agent_id,
        disposition,
        ticket_id,
        {{ lineage_columns() }}
    from source
)

select * from renamed
