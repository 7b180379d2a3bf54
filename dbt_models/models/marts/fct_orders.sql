-- Orders and returns with their customer (resolved once, in fct_touchpoints).
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
    orders.payment_method
from {{ ref('stg_orders__orders') }} as orders
inner join {{ ref('fct_touchpoints') }} as touchpoints
    on touchpoints.touchpoint_id = 'orders:' || orders.order_id
