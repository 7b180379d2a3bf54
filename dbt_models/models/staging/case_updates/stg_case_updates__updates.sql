with

source as (
    {{ deduplicate_latest(source('case_updates', 'updates'), ['case_id', 'updated_at']) }}
),

renamed as (
    select
        case_id,
        status,
        {{ as_utc_timestamp('updated_at') }} as updated_at,
        note,
        {{ lineage_columns() }}
    from source
)

select * from renamed
