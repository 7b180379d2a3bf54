-- Orders with their business day and the customer's segment: input of churn, cohorts, contacts per order and
-- cart recovery.
select
    orders.order_id,
    orders.customer_key,
    orders.ordered_at,
    {{ kpi_business_date('orders.ordered_at') }} as business_date,
    coalesce(orders.channel, 'unknown') as channel,
    coalesce(customers.segment, 'unknown') as segment,
    {{ kpi_persona() }} as persona,
    orders.order_type
from {{ ref('fct_orders') }} as orders
left join {{ ref('dim_customers') }} as customers
    on customers.customer_key = orders.customer_key
