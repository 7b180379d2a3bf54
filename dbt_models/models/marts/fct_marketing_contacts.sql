-- One row per outbound marketing contact on any channel: e-mail sends, SMS and push messages, and campaign
-- calls (telephony queue `outbound_<campaign_type>`; a ticket's callback is service, not marketing). With the
-- customer's reaction and whether the customer ordered within 14 days of the contact (any order counts, on
-- any channel; an order counts for every contact of the 14 days before it).
with

email_sends as (
    select
        'email_events:' || event_id as touchpoint_id,
        event_id as contact_id,
        event_time as sent_at,
        'email' as channel,
        email,
        campaign_id,
        campaign_type
    from {{ ref('stg_email_events__events') }}
    where event_type = 'send'
),

email_reactions as (
    select
        email,
        campaign_id,
        min(case when event_type = 'open' then event_time end) as first_opened_at,
        min(case when event_type = 'click' then event_time end) as first_clicked_at
    from {{ ref('stg_email_events__events') }}
    where event_type in ('open', 'click')
    group by email, campaign_id
),

emails as (
    select
        email_sends.touchpoint_id,
        email_sends.contact_id,
        email_sends.sent_at,
        email_sends.channel,
        email_sends.campaign_id,
        email_sends.campaign_type,
        email_reactions.first_opened_at is not null as opened,
        email_reactions.first_clicked_at is not null as clicked
    from email_sends
    left join email_reactions
        on email_reactions.email = email_sends.email
        and email_reactions.campaign_id = email_sends.campaign_id
),

-- A message has no open receipt: a tap is both its open and its click.
messages as (
    select
        'mobile_messages:' || message_id as touchpoint_id,
        message_id as contact_id,
        sent_at,
        channel,
        campaign_id,
        campaign_type,
        clicked_at is not null as opened,
        clicked_at is not null as clicked
    from {{ ref('stg_mobile_messages__messages') }}
),

-- A campaign call is "opened" when the customer picked up; a call has nothing to click.
campaign_calls as (
    select
        'calls:' || call_id as touchpoint_id,
        call_id as contact_id,
        started_at as sent_at,
        'phone' as channel,
        cast(null as {{ dbt.type_string() }}) as campaign_id,
        substr(queue, 10) as campaign_type,  -- after the 9 characters of 'outbound_'
        coalesce(talk_seconds, 0) > 0 as opened,
        false as clicked
    from {{ ref('stg_calls__calls') }}
    where direction = 'outbound' and ticket_id is null and substr(queue, 1, 9) = 'outbound_'
),

contacts as (
    select contacts.*, touchpoints.customer_key
    from (
        select * from emails
        union all select * from messages
        union all select * from campaign_calls
    ) as contacts
    inner join {{ ref('fct_touchpoints') }} as touchpoints
        on touchpoints.touchpoint_id = contacts.touchpoint_id
),

orders_after_contact as (
    select
        contacts.touchpoint_id,
        sum(orders.value_eur) as order_value_eur
    from contacts
    inner join {{ ref('fct_orders') }} as orders
        on orders.customer_key = contacts.customer_key
        and orders.order_type = 'sale'
        and orders.ordered_at >= contacts.sent_at
        and orders.ordered_at < {{ dbt.dateadd('day', 14, 'contacts.sent_at') }}
    group by contacts.touchpoint_id
)

select
    contacts.touchpoint_id as contact_id,
    contacts.customer_key,
    contacts.sent_at,
    contacts.channel,
    contacts.campaign_id,
    contacts.campaign_type,
    contacts.opened,
    contacts.clicked,
    orders_after_contact.touchpoint_id is not null as converted_within_14d,
    coalesce(orders_after_contact.order_value_eur, 0) as order_value_eur
from contacts
left join orders_after_contact on orders_after_contact.touchpoint_id = contacts.touchpoint_id
