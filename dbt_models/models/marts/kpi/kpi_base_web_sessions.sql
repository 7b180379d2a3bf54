-- Web and app sessions with the funnel steps they reached, their business day, platform (the channel) and the
-- customer's segment ('unknown' for sessions never linked to a customer).
select
    sessions.session_id,
    sessions.customer_key,
    sessions.ended_at,
    {{ kpi_business_date('sessions.started_at') }} as business_date,
    coalesce(sessions.platform, 'unknown') as channel,
    coalesce(customers.segment, 'unknown') as segment,
    {{ kpi_persona() }} as persona,
    coalesce(sessions.has_view_item, false) as has_product_view,
    coalesce(sessions.has_add_to_cart, false) as has_add_to_cart,
    coalesce(sessions.has_begin_checkout, false) as has_checkout,
    coalesce(sessions.has_purchase, false) as has_purchase
from {{ ref('int_web_sessions') }} as sessions
left join {{ ref('dim_customers') }} as customers
    on customers.customer_key = sessions.customer_key
