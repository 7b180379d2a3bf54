-- Which identifiers were seen together on one record: one row per (record, identifier). The identity graph's
-- edges join identifiers of the same record; the records are small (at most five identifiers), so the
-- self-join in int_identity_edges is linear in the number of records, never quadratic over touchpoints.
-- Sources whose rows carry a single identifier (e-mail events, calls, social posts), mobile messages (one
-- customer id and phone) and web events (one cookie, at most one login) are reduced to their distinct
-- identifier combinations first.
-- A table, not a view: the blocked identifiers, the edges and the components each read it (some twice), and as a
-- view every read re-ran it over every staging model (measured at 10k customers: issue 19).
{{ config(materialized='table') }}
{%- set identifier_types = ['crm_id', 'email', 'phone', 'loyalty_id', 'social_handle', 'anonymous_id'] %}

with

crm_customers as (
    select
        'crm_customers' as source,
        customer_id as record_id,
        created_at as observed_at,
        {{ identifier_columns(crm_id='customer_id', email='email', phone='phone_e164', loyalty_id='loyalty_id', social_handle='social_handle') }}
    from {{ ref('stg_crm_customers__customers') }}
),

web_logins as (
    select
        'web_events' as source,
        anonymous_id || '|' || coalesce(user_id, '') as record_id,
        min(event_time) as observed_at,
        {{ identifier_columns(crm_id='user_id', anonymous_id='anonymous_id') }}
    from {{ ref('stg_web_events__events') }}
    group by anonymous_id, user_id
),

-- The web purchase event of an online order names the cookie it was placed from, which links the cookie to
-- the order's customer id, e-mail or loyalty card even when that device never logged in.
purchase_cookies as (
    select order_id, min(anonymous_id) as anonymous_id
    from {{ ref('stg_web_events__events') }}
    where event_type = 'purchase' and order_id is not null
    group by order_id
),

orders as (
    select
        'orders' as source,
        orders.order_id as record_id,
        orders.ordered_at as observed_at,
        {{ identifier_columns(crm_id='orders.customer_id', email='orders.email', loyalty_id='orders.loyalty_id',
                              anonymous_id='purchase_cookies.anonymous_id') }}
    from {{ ref('stg_orders__orders') }} as orders
    left join purchase_cookies on purchase_cookies.order_id = orders.order_id
),

email_recipients as (
    select
        'email_events' as source,
        email as record_id,
        min(event_time) as observed_at,
        {{ identifier_columns(email='email') }}
    from {{ ref('stg_email_events__events') }}
    group by email
),

messaging_recipients as (
    select
        'mobile_messages' as source,
        coalesce(customer_id, '') || '|' || coalesce(phone_e164, '') as record_id,
        min(sent_at) as observed_at,
        {{ identifier_columns(crm_id='customer_id', phone='phone_e164') }}
    from {{ ref('stg_mobile_messages__messages') }}
    group by customer_id, phone_e164
),

support_tickets as (
    select
        'support_tickets' as source,
        ticket_id as record_id,
        created_at as observed_at,
        {{ identifier_columns(email='email', social_handle='social_handle') }}
    from {{ ref('stg_support_tickets__tickets') }}
),

-- A callback about a ticket reaches the ticket's author: its phone joins the ticket's record.
ticket_callbacks as (
    select
        'support_tickets' as source,
        ticket_id as record_id,
        started_at as observed_at,
        {{ identifier_columns(phone='phone_e164') }}
    from {{ ref('stg_calls__calls') }}
    where ticket_id is not null and phone_e164 is not null
),

chat_conversations as (
    select
        'chat_conversations' as source,
        conversation_id as record_id,
        started_at as observed_at,
        {{ identifier_columns(crm_id='user_id', email='email', anonymous_id='anonymous_id') }}
    from {{ ref('stg_chat_conversations__conversations') }}
),

callers as (
    select
        'calls' as source,
        phone_e164 as record_id,
        min(started_at) as observed_at,
        {{ identifier_columns(phone='phone_e164') }}
    from {{ ref('stg_calls__calls') }}
    group by phone_e164
),

social_authors as (
    -- The brand's own account is not a customer.
    select
        'social_mentions' as source,
        author_handle as record_id,
        min(posted_at) as observed_at,
        {{ identifier_columns(social_handle='author_handle') }}
    from {{ ref('stg_social_mentions__posts') }}
    where not is_brand
    group by author_handle
),

surveys as (
    select
        'surveys' as source,
        response_id as record_id,
        responded_at as observed_at,
        {{ identifier_columns(crm_id='customer_id', email='email') }}
    from {{ ref('stg_surveys__responses') }}
),

-- A survey names the touchpoint it asks about (an order, a ticket, a chat, a call): the respondent is the
-- customer of that touchpoint, so the trigger's identifiers join the survey's record (same record_id).
survey_triggers as (
    select
        'surveys' as source,
        surveys.response_id as record_id,
        surveys.responded_at as observed_at,
        {{ identifier_columns(crm_id='coalesce(orders.customer_id, chats.user_id)',
                              email='coalesce(orders.email, tickets.email, chats.email)',
                              phone='calls.phone_e164',
                              loyalty_id='orders.loyalty_id',
                              social_handle='tickets.social_handle',
                              anonymous_id='chats.anonymous_id') }}
    from {{ ref('stg_surveys__responses') }} as surveys
    left join {{ ref('stg_orders__orders') }} as orders
        on surveys.trigger_type in ('purchase', 'delivery', 'store_visit') and orders.order_id = surveys.trigger_id
    left join {{ ref('stg_support_tickets__tickets') }} as tickets
        on surveys.trigger_type = 'support_ticket' and tickets.ticket_id = surveys.trigger_id
    left join {{ ref('stg_chat_conversations__conversations') }} as chats
        on surveys.trigger_type = 'chat' and chats.conversation_id = surveys.trigger_id
    left join {{ ref('stg_calls__calls') }} as calls
        on surveys.trigger_type = 'call' and calls.call_id = surveys.trigger_id
    where surveys.trigger_id is not null
),

records as (
    select * from crm_customers
    union all select * from web_logins
    union all select * from orders
    union all select * from email_recipients
    union all select * from messaging_recipients
    union all select * from support_tickets
    union all select * from ticket_callbacks
    union all select * from chat_conversations
    union all select * from callers
    union all select * from social_authors
    union all select * from surveys
    union all select * from survey_triggers
),

normalised as (
    select
        source,
        record_id,
        observed_at,
        {{ normalized_identifier_columns() }}
    from records
    where record_id is not null
),

-- One row per (record, identifier): a survey names its customer and inherits the identifiers of the record it
-- asks about, which are often the same ones.
observations as (
    {%- for identifier_type in identifier_types %}
    select
        source,
        source || ':' || record_id as record_ref,
        observed_at,
        '{{ identifier_type }}' as identifier_type,
        {{ identifier_type }} as identifier_value,
        '{{ identifier_type }}:' || {{ identifier_type }} as identifier
    from normalised
    where {{ identifier_type }} is not null
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
)

select
    source,
    record_ref,
    min(observed_at) as observed_at,
    identifier_type,
    identifier_value,
    identifier
from observations
group by source, record_ref, identifier_type, identifier_value, identifier
