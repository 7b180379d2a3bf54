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
),

-- The latest update of a case sets its status (fct_cx_cases) and is flagged in fct_cx_case_updates: ranked here
-- once, by the time the CRM set the status, not by when the export arrived (a late file can carry older updates).
-- No ties are left to break: the deduplication above keeps one row per case_id and updated_at.
ranked as (
    select
        *,
        row_number() over (partition by case_id order by updated_at desc) as update_recency
    from renamed
)

select * from ranked
