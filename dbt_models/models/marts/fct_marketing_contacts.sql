-- One row per marketing message sent (today: e-mail sends), with the customer's reactions to that campaign
-- and whether the customer ordered within 14 days of the send (any order counts, on any channel; an order
-- counts for every send of the 14 days before it).
with

sends as (
    select
        events.event_id,
        events.event_time,
        events.email,
        events.campaign_id,
        events.campaign_type,
        touchpoints.customer_key
    from {{ ref('stg_email_events__events') }} as events
    inner join {{ ref('fct_touchpoints') }} as touchpoints
        on touchpoints.touchpoint_id = 'email_events:' || events.event_id
    where events.event_type = 'send'
),

reactions as (
    select
        email,
        campaign_id,
        min(case when event_type = 'open' then event_time end) as first_opened_at,
        min(case when event_type = 'click' then event_time end) as first_clicked_at
    from {{ ref('stg_email_events__events') }}
    where event_type in ('open', 'click')
    group by email, campaign_id
),

orders_after_send as (
    select
        sends.event_id,
        count(*) as orders,
        sum(orders.value_eur) as order_value_eur
    from sends
    inner join {{ ref('fct_orders') }} as orders
        on orders.customer_key = sends.customer_key
        and orders.order_type = 'sale'
        and orders.ordered_at >= sends.event_time
        and orders.ordered_at < {{ dbt.dateadd('day', 14, 'sends.event_time') }}
    group by sends.event_id
)

select
    sends.event_id as contact_id,
    sends.customer_key,
    sends.event_time as sent_at,
    'email' as channel,
    sends.campaign_id,
    sends.campaign_type,
    reactions.first_opened_at is not null as opened,
    reactions.first_clicked_at is not null as clicked,
    orders_after_send.event_id is not null as converted_within_14d,
    coalesce(orders_after_send.order_value_eur, 0) as order_value_eur
from sends
left join reactions
    on reactions.email = sends.email
    and reactions.campaign_id = sends.campaign_id
left join orders_after_send on orders_after_send.event_id = sends.event_id
