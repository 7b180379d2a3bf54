-- Survey responses with their business day, segment and the channel of the touchpoint that triggered them
-- (the order's channel for purchase, delivery and store-visit surveys, the service contact's inbound channel for
-- ticket, chat and call surveys, 'store' for a store visit without an order), so NPS, CSAT and CES can be read
-- per channel; relationship surveys and triggers not found are 'unattributed'. The customer, the UTC time and the
-- triggering service contact are kept for the slices of kpi_metric_slices (entry channel, topic).
select
    responses.response_id,
    responses.customer_key,
    responses.responded_at,
    contacts.contact_id as trigger_contact_id,
    {{ kpi_business_date('responses.responded_at') }} as business_date,
    coalesce(
        orders.channel,
        contacts.inbound_channel,
        case when responses.trigger_type = 'store_visit' then 'store' end,
        'unattributed'
    ) as channel,
    coalesce(customers.segment, 'unknown') as segment,
    {{ kpi_persona() }} as persona,
    responses.survey_type,
    responses.score
from {{ ref('fct_survey_responses') }} as responses
left join {{ ref('fct_orders') }} as orders
    on responses.trigger_type in ('purchase', 'delivery', 'store_visit')
    and orders.order_id = responses.trigger_id
-- Service contact ids carry their source as a prefix (fct_service_contacts).
left join {{ ref('fct_service_contacts') }} as contacts
    on contacts.contact_id = case responses.trigger_type
        when 'support_ticket' then 'support_tickets:'
        when 'chat' then 'chat_conversations:'
        when 'call' then 'calls:'
    end || responses.trigger_id
left join {{ ref('dim_customers') }} as customers
    on customers.customer_key = responses.customer_key
