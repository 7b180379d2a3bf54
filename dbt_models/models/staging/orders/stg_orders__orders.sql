with

source as (
    {{ deduplicate_latest(source('orders', 'orders'), ['order_id']) }}
),

renamed as (
    select
        order_id,
        {{ as_utc_timestamp('ordered_at') }} as ordered_at,
        customer_id,
        {{ normalize_email('email') }} as email,
        loyalty_id,
        channel,
        store_id,
        order_type,
        original_order_id,
        items,
        value_eur,
        payment_method,
        product_category,
        {{ lineage_columns() }}
    from source
)

select * from renamed
