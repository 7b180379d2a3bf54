-- One row per chat message, in the order the export lists them (message_index starts at 1).
-- Reads the same deduplicated conversations as stg_chat_conversations__conversations, so every message
-- belongs to exactly one staged conversation.
with

source as (
    {{ deduplicate_latest(source('chat_conversations', 'conversations'), ['conversation_id']) }}
),

exploded as (
    select
        conversation_id,
        {{ explode_with_index('messages', 'message', 'message_index') }},
        _source_file,
        _source_line,
        _ingested_at
    from source
),

renamed as (
    select
        conversation_id,
        message_index,
        {{ as_utc_timestamp('message.sent_at') }} as sent_at,
        message.sender as sender,
        message.text as text,
        {{ lineage_columns() }}
    from exploded
)

select * from renamed
