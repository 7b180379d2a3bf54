-- One row per conversation; the nested messages are in stg_chat_conversations__messages.
with

source as (
    {{ deduplicate_latest(source('chat_conversations', 'conversations'), ['conversation_id']) }}
),

renamed as (
    select
        conversation_id,
        {{ as_utc_timestamp('started_at') }} as started_at,
        {{ as_utc_timestamp('ended_at') }} as ended_at,
        platform,
        user_id,
        {{ normalize_email('email') }} as email,
        anonymous_id,
        handover,
        {{ as_utc_timestamp('handover_at') }} as handover_at,
        agent_id,
        resolved,
        topic,
        {{ lineage_columns() }}
    from source
)

select * from renamed
