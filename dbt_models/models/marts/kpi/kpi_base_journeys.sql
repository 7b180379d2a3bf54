-- Journeys with their business day (of the journey's start), entry channel (the first of the channel path
-- 'web > chat_bot > ...') and the customer's segment; customer and UTC start place answers in their journey
-- (kpi_metric_slices).
select
    journeys.journey_id,
    journeys.customer_key,
    journeys.started_at,
    {{ kpi_business_date('journeys.started_at') }} as business_date,
    coalesce({{ dbt.split_part('journeys.channel_path', "' > '", 1) }}, 'unknown') as channel,
    coalesce(customers.segment, 'unknown') as segment,
    {{ kpi_persona() }} as persona,
    coalesce(journeys.reached_research, false) as has_research,
    coalesce(journeys.reached_purchase, false) as has_purchase
from {{ ref('fct_journeys') }} as journeys
left join {{ ref('dim_customers') }} as customers
    on customers.customer_key = journeys.customer_key
