-- Orders and returns with their customer (resolved once, in fct_touchpoints).
--
-- Incremental (DuckDB): a run writes again (delete+insert on order_id) the orders whose touchpoint fct_touchpoints
-- rewrote after this table's latest run (`_resolved_at`: new, corrected and re-attributed orders); reading all 9
-- million touchpoints to join 520,000 orders was the main step's third slowest node at 100k customers (issue 19).
-- Retention empties the table when it removes orders, so the next refresh writes it whole
-- (cx_core/privacy/retention.py); erasure deletes the person's rows from every table. Spark rebuilds it as a table.
{{ config(
    materialized='incremental' if target.type == 'duckdb' else 'table',
    unique_key='order_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
) }}

select
    orders.order_id,
    touchpoints.customer_key,
    orders.ordered_at,
    orders.channel,
    orders.store_id,
    orders.order_type,
    orders.original_order_id,
    orders.value_eur,
    orders.items,
    orders.product_category,
    orders.payment_method,
    touchpoints._resolved_at
from {{ ref('stg_orders__orders') }} as orders
inner join {{ ref('fct_touchpoints') }} as touchpoints
    on touchpoints.touchpoint_id = 'orders:' || orders.order_id
{%- if is_incremental() %}
-- the stamp filter reads only the latest row groups of fct_touchpoints
where touchpoints.source = 'orders' and touchpoints._resolved_at > {{ latest_in_this('_resolved_at') }}
{%- endif %}
