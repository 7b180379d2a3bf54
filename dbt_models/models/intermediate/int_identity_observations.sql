-- Which identifiers were seen together on one record: one row per (record, identifier). The identity graph's
-- edges join identifiers of the same record; the records are small (at most five identifiers), so the
-- self-join in int_identity_edges is linear in the number of records, never quadratic over touchpoints.
-- Sources whose rows carry a single identifier (e-mail events, calls, social posts), mobile messages (one
-- customer id and phone) and web events (one cookie, at most one login) are reduced to their distinct
-- identifier combinations first.
-- A table, not a view: the blocked identifiers, the edges and the components each read it (some twice), and as a
-- view every read re-ran it over every staging model (measured at 10k customers: issue 19).
--
-- Incremental (DuckDB): a run rewrites whole records (delete+insert on `record_ref`) for the staging rows ingested
-- after this table's latest row of their source (`_ingested_at`, the latest ingestion of a record's own rows),
-- and for the records those rows add identifiers to (an order's purchase cookie, a ticket's callback, a survey's
-- trigger). A record is always rebuilt from all its staging rows, so a CRM customer's changed e-mail replaces
-- the old one. The rows a run writes carry its start (`_changed_at`), for int_identity_blocked_identifiers.
-- Retention stamps the records that may have lost rows (`_rows_removed_at`, cx_core/privacy/retention.py): a run
-- derives them again from the rows they have left, and the post-hook deletes those left without any (a run writes
-- no row of theirs, so their stamped rows are the ones remaining).
-- A table without `_ingested_at` (built by an earlier release) is rebuilt whole in its first run, as is an empty
-- one (an earlier release's retention emptied it). Spark rebuilds it as a table.
{{ config(
    materialized='incremental' if target.type == 'duckdb' else 'table',
    unique_key='record_ref',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    post_hook="{{ delete_records_without_rows() }}",
) }}
{%- set identifier_types = ['crm_id', 'email', 'phone', 'loyalty_id', 'social_handle', 'anonymous_id'] %}
{%- set incremental = is_incremental() and this_has_column('_ingested_at') %}

with

{% if incremental %}
-- The table's latest ingestion per source: staging rows ingested after it are new to the table.
watermarks as (
    select source, max(_ingested_at) as ingested_at
    from {{ this }}
    group by source
),

-- The records retention stamped, by source: derived again from the rows they have left.
stamped_records as (
    {%- if this_has_column('_rows_removed_at') %}
    select distinct source, substr(record_ref, length(source) + 2) as record_id
    from {{ this }}
    where _rows_removed_at is not null
    {%- else %}
    select source, record_ref as record_id from {{ this }} where false
    {%- endif %}
),

new_web_events as (
    select anonymous_id, event_type, order_id
    from {{ ref('stg_web_events__events') }}
    where {{ ingested_after_watermark('web_events') }}
),

new_orders as (
    select order_id from {{ ref('stg_orders__orders') }} where {{ ingested_after_watermark('orders') }}
),

new_tickets as (
    select ticket_id from {{ ref('stg_support_tickets__tickets') }} where {{ ingested_after_watermark('support_tickets') }}
),

new_chats as (
    select conversation_id
    from {{ ref('stg_chat_conversations__conversations') }}
    where {{ ingested_after_watermark('chat_conversations') }}
),

new_calls as (
    select call_id, ticket_id, phone_e164 from {{ ref('stg_calls__calls') }} where {{ ingested_after_watermark('calls') }}
),

-- The keys of the records in scope, one CTE per kind of record (column `key`).
crm_scope as (
    select customer_id as key
    from {{ ref('stg_crm_customers__customers') }}
    where {{ ingested_after_watermark('crm_customers') }}
    union
    {{ stamped_keys('crm_customers') }}
),

cookie_scope as (
    select anonymous_id as key from new_web_events
    union
    -- a web record's id is its cookie, '|' and its login (a CRM id)
    {{ stamped_keys('web_events', "left(record_id, length(record_id) - strpos(reverse(record_id), '|'))") }}
),

-- An order also when its web purchase event (its cookie) is new.
order_scope as (
    select order_id as key from new_orders
    union
    select order_id from new_web_events where event_type = 'purchase' and order_id is not null
    union
    {{ stamped_keys('orders') }}
),

email_scope as (
    select email as key from {{ ref('stg_email_events__events') }} where {{ ingested_after_watermark('email_events') }}
    union
    {{ stamped_keys('email_events') }}
),

messaging_scope as (
    select coalesce(customer_id, '') || '|' || coalesce(phone_e164, '') as key
    from {{ ref('stg_mobile_messages__messages') }}
    where {{ ingested_after_watermark('mobile_messages') }}
    union
    {{ stamped_keys('mobile_messages') }}
),

-- A ticket also when a callback about it is new.
ticket_scope as (
    select ticket_id as key from new_tickets
    union
    select ticket_id from new_calls where ticket_id is not null
    union
    {{ stamped_keys('support_tickets') }}
),

chat_scope as (
    select conversation_id as key from new_chats
    union
    {{ stamped_keys('chat_conversations') }}
),

caller_scope as (
    select phone_e164 as key from new_calls
    union
    {{ stamped_keys('calls') }}
),

author_scope as (
    select author_handle as key
    from {{ ref('stg_social_mentions__posts') }}
    where {{ ingested_after_watermark('social_mentions') }}
    union
    {{ stamped_keys('social_mentions') }}
),

-- A survey also when the order, ticket, chat or call it asks about is new (ids of other types never match).
survey_scope as (
    select response_id as key
    from {{ ref('stg_surveys__responses') }}
    where {{ ingested_after_watermark('surveys') }}
        or trigger_id in (
            select order_id from new_orders
            union all select ticket_id from new_tickets
            union all select conversation_id from new_chats
            union all select call_id from new_calls
        )
    union
    {{ stamped_keys('surveys') }}
),
{% endif %}

crm_customers as (
    select
        'crm_customers' as source,
        customer_id as record_id,
        created_at as observed_at,
        {{ identifier_columns(crm_id='customer_id', email='email', phone='phone_e164', loyalty_id='loyalty_id', social_handle='social_handle') }},
        _ingested_at
    from {{ ref('stg_crm_customers__customers') }}
    where {{ in_scope('customer_id', 'crm_scope', incremental) }}
),

web_logins as (
    select
        'web_events' as source,
        anonymous_id || '|' || coalesce(user_id, '') as record_id,
        min(event_time) as observed_at,
        {{ identifier_columns(crm_id='user_id', anonymous_id='anonymous_id') }},
        max(_ingested_at) as _ingested_at
    from {{ ref('stg_web_events__events') }}
    where {{ in_scope('anonymous_id', 'cookie_scope', incremental) }}
    group by anonymous_id, user_id
),

-- The web purchase event of an online order names the cookie it was placed from, which links the cookie to
-- the order's customer id, e-mail or loyalty card even when that device never logged in.
purchase_cookies as (
    select order_id, min(anonymous_id) as anonymous_id
    from {{ ref('stg_web_events__events') }}
    where event_type = 'purchase' and order_id is not null and {{ in_scope('order_id', 'order_scope', incremental) }}
    group by order_id
),

orders as (
    select
        'orders' as source,
        orders.order_id as record_id,
        orders.ordered_at as observed_at,
        {{ identifier_columns(crm_id='orders.customer_id', email='orders.email', loyalty_id='orders.loyalty_id',
                              anonymous_id='purchase_cookies.anonymous_id') }},
        orders._ingested_at
    from {{ ref('stg_orders__orders') }} as orders
    left join purchase_cookies on purchase_cookies.order_id = orders.order_id
    where {{ in_scope('orders.order_id', 'order_scope', incremental) }}
),

email_recipients as (
    select
        'email_events' as source,
        email as record_id,
        min(event_time) as observed_at,
        {{ identifier_columns(email='email') }},
        max(_ingested_at) as _ingested_at
    from {{ ref('stg_email_events__events') }}
    where {{ in_scope('email', 'email_scope', incremental) }}
    group by email
),

messaging_recipients as (
    select
        'mobile_messages' as source,
        coalesce(customer_id, '') || '|' || coalesce(phone_e164, '') as record_id,
        min(sent_at) as observed_at,
        {{ identifier_columns(crm_id='customer_id', phone='phone_e164') }},
        max(_ingested_at) as _ingested_at
    from {{ ref('stg_mobile_messages__messages') }}
    where {{ in_scope("coalesce(customer_id, '') || '|' || coalesce(phone_e164, '')", 'messaging_scope', incremental) }}
    group by customer_id, phone_e164
),

support_tickets as (
    select
        'support_tickets' as source,
        ticket_id as record_id,
        created_at as observed_at,
        {{ identifier_columns(email='email', social_handle='social_handle') }},
        _ingested_at
    from {{ ref('stg_support_tickets__tickets') }}
    where {{ in_scope('ticket_id', 'ticket_scope', incremental) }}
),

-- A callback about a ticket reaches the ticket's author: its phone joins the ticket's record. A call is no
-- row of the ticket's source, so it leaves that source's watermark alone (no `_ingested_at`).
ticket_callbacks as (
    select
        'support_tickets' as source,
        ticket_id as record_id,
        started_at as observed_at,
        {{ identifier_columns(phone='phone_e164') }},
        cast(null as timestamp) as _ingested_at
    from {{ ref('stg_calls__calls') }}
    where ticket_id is not null and phone_e164 is not null and {{ in_scope('ticket_id', 'ticket_scope', incremental) }}
),

chat_conversations as (
    select
        'chat_conversations' as source,
        conversation_id as record_id,
        started_at as observed_at,
        {{ identifier_columns(crm_id='user_id', email='email', anonymous_id='anonymous_id') }},
        _ingested_at
    from {{ ref('stg_chat_conversations__conversations') }}
    where {{ in_scope('conversation_id', 'chat_scope', incremental) }}
),

callers as (
    select
        'calls' as source,
        phone_e164 as record_id,
        min(started_at) as observed_at,
        {{ identifier_columns(phone='phone_e164') }},
        max(_ingested_at) as _ingested_at
    from {{ ref('stg_calls__calls') }}
    where {{ in_scope('phone_e164', 'caller_scope', incremental) }}
    group by phone_e164
),

social_authors as (
    -- The brand's own account is not a customer.
    select
        'social_mentions' as source,
        author_handle as record_id,
        min(posted_at) as observed_at,
        {{ identifier_columns(social_handle='author_handle') }},
        max(_ingested_at) as _ingested_at
    from {{ ref('stg_social_mentions__posts') }}
    where not is_brand and {{ in_scope('author_handle', 'author_scope', incremental) }}
    group by author_handle
),

surveys as (
    select
        'surveys' as source,
        response_id as record_id,
        responded_at as observed_at,
        {{ identifier_columns(crm_id='customer_id', email='email') }},
        _ingested_at
    from {{ ref('stg_surveys__responses') }}
    where {{ in_scope('response_id', 'survey_scope', incremental) }}
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
                              anonymous_id='chats.anonymous_id') }},
        surveys._ingested_at
    from {{ ref('stg_surveys__responses') }} as surveys
    left join {{ ref('stg_orders__orders') }} as orders
        on surveys.trigger_type in ('purchase', 'delivery', 'store_visit') and orders.order_id = surveys.trigger_id
    left join {{ ref('stg_support_tickets__tickets') }} as tickets
        on surveys.trigger_type = 'support_ticket' and tickets.ticket_id = surveys.trigger_id
    left join {{ ref('stg_chat_conversations__conversations') }} as chats
        on surveys.trigger_type = 'chat' and chats.conversation_id = surveys.trigger_id
    left join {{ ref('stg_calls__calls') }} as calls
        on surveys.trigger_type = 'call' and calls.call_id = surveys.trigger_id
    where surveys.trigger_id is not null and {{ in_scope('surveys.response_id', 'survey_scope', incremental) }}
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
        {{ normalized_identifier_columns() }},
        _ingested_at
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
        '{{ identifier_type }}:' || {{ identifier_type }} as identifier,
        _ingested_at
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
    identifier,
    max(_ingested_at) as _ingested_at,
    {{ this_run_started_at() }} as _changed_at,
    cast(null as timestamp) as _rows_removed_at
from observations
group by source, record_ref, identifier_type, identifier_value, identifier
