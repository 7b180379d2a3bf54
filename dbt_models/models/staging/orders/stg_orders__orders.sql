-- An incremental table on DuckDB for the reason stg_web_events__events gives (a table elsewhere): the deduplication
-- window ranked all raw orders (0.8 s at 100k customers) in every model that read this as a view, also to find
-- one day's orders (int_touchpoints_unioned, int_identity_observations). A run deduplicates only the raw rows
-- ingested after the table's latest row and replaces their orders; retention and erasure delete from it.
{{ config(
    materialized='incremental' if target.type == 'duckdb' else 'table',
    unique_key='order_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
) }}

with

source as (
    {{ deduplicate_latest(source('orders', 'orders'), ['order_id'], where=ingested_after_this_table()) }}
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
