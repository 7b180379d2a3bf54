with

source as (
    {{ deduplicate_latest(source('crm_customers', 'customers'), ['customer_id']) }}
),

renamed as (
    select
        customer_id,
        first_name,
        last_name,
        {{ normalize_email('email') }} as email,
        {{ normalize_phone_e164('phone') }} as phone_e164,
        loyalty_id,
        {{ normalize_handle('social_handle') }} as social_handle,
        country,
        language,
        segment,
        birth_year,
        {{ as_utc_timestamp('created_at') }} as created_at,
        {{ as_utc_timestamp('updated_at') }} as updated_at,
        consent_email,
        consent_sms,
        consent_phone,
        consent_push,
        {{ lineage_columns() }}
    from source
)

select * from renamed
