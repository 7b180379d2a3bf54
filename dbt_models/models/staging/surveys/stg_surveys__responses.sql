with

source as (
    {{ deduplicate_latest(source('surveys', 'responses'), ['response_id']) }}
),

renamed as (
    select
        response_id,
        {{ as_utc_timestamp('responded_at') }} as responded_at,
        customer_id,
        {{ normalize_email('email') }} as email,
        survey_type,
        score,
        comment,
        trigger_type,
        trigger_id,
        {{ lineage_columns() }}
    from source
)

select * from renamed
