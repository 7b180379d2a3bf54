with

source as (
    {{ deduplicate_latest(source('social_mentions', 'posts'), ['post_id']) }}
),

renamed as (
    select
        post_id,
        {{ as_utc_timestamp('posted_at') }} as posted_at,
        platform,
        {{ normalize_handle('author_handle') }} as author_handle,
        is_brand,
        in_reply_to_post_id,
        text,
        like_count,
        {{ lineage_columns() }}
    from source
)

select * from renamed
