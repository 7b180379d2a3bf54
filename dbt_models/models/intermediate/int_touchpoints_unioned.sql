-- Every interaction from every source as one canonical row, with the identifiers it carries (resolved to a
-- customer in fct_touchpoints, so a cookie linked to a customer later re-attributes its earlier rows without
-- touching this table). CRM rows are master data, not interactions, and are not touchpoints.
--
-- Incremental: a run reads only staging rows ingested after this table's latest row of the same source and
-- replaces every touchpoint of their records (`source_record_id`), so a corrected export row (a later
-- ingestion of the same key) replaces its touchpoints; a full refresh gives the same table.
-- Every row a run writes is stamped `_unioned_at` (the run's start): the uniqueness test checks the latest run's
-- rows against the table (unique_in_latest_run). A warehouse built before the stamp gets the column (null on the
-- rows written already) instead of a refresh that fails.
-- Spark writes plain Parquet tables, which have no delete+insert: there the model is rebuilt as a table.
{{ config(
    materialized='incremental' if target.type == 'duckdb' else 'table',
    unique_key='source_record_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
) }}


with

web_events as (
    select
        'web_events' as source,
        event_id as record_id,
        cast(null as {{ dbt.type_string() }}) as touchpoint_suffix,
        event_type as touchpoint_type,
        event_time as occurred_at,
        platform as channel,
        cast(null as {{ dbt.type_string() }}) as text,
        value_eur,
        order_id as conversation_ref,
        {{ identifier_columns(crm_id='user_id', anonymous_id='anonymous_id') }},
        _ingested_at
    from {{ ref('stg_web_events__events') }}
    {{ newly_ingested('web_events') }}
),

orders as (
    select
        'orders' as source,
        order_id as record_id,
        cast(null as {{ dbt.type_string() }}) as touchpoint_suffix,
        order_type as touchpoint_type,
        ordered_at as occurred_at,
        channel,
        cast(null as {{ dbt.type_string() }}) as text,
        value_eur,
        coalesce(original_order_id, order_id) as conversation_ref,
        {{ identifier_columns(crm_id='customer_id', email='email', loyalty_id='loyalty_id') }},
        _ingested_at
    from {{ ref('stg_orders__orders') }}
    {{ newly_ingested('orders') }}
),

new_email_events as (
    select * from {{ ref('stg_email_events__events') }}
    {{ newly_ingested('email_events') }}
),

-- A control-group row records that nothing was sent: no touchpoint (fct_campaign_assignments keeps it).
email_events as (
    select
        'email_events' as source,
        event_id as record_id,
        cast(null as {{ dbt.type_string() }}) as touchpoint_suffix,
        event_type as touchpoint_type,
        event_time as occurred_at,
        'email' as channel,
        cast(null as {{ dbt.type_string() }}) as text,
        cast(null as double) as value_eur,
        campaign_id as conversation_ref,
        {{ identifier_columns(email='email') }},
        _ingested_at
    from new_email_events
    where event_type <> 'control'
),

new_mobile_messages as (
    select * from {{ ref('stg_mobile_messages__messages') }}
    {{ newly_ingested('mobile_messages') }}
),

-- A held-out message was never sent: no touchpoint (fct_campaign_assignments keeps it).
sent_mobile_messages as (
    select * from new_mobile_messages
    where status <> 'held_out'
),

-- A message is the company's send and, when tapped, the customer's click (inbound, like an e-mail click).
mobile_message_steps as (
    select
        message_id, channel, campaign_id, customer_id, phone_e164, _ingested_at,
        cast(null as {{ dbt.type_string() }}) as touchpoint_suffix,
        'message_sent' as touchpoint_type,
        sent_at as occurred_at
    from sent_mobile_messages
    union all
    select
        message_id, channel, campaign_id, customer_id, phone_e164, _ingested_at,
        'click' as touchpoint_suffix,
        'message_click' as touchpoint_type,
        clicked_at as occurred_at
    from sent_mobile_messages
    where clicked_at is not null
),

mobile_messages as (
    select
        'mobile_messages' as source,
        message_id as record_id,
        touchpoint_suffix,
        touchpoint_type,
        occurred_at,
        channel,
        cast(null as {{ dbt.type_string() }}) as text,
        cast(null as double) as value_eur,
        campaign_id as conversation_ref,
        {{ identifier_columns(crm_id='customer_id', phone='phone_e164') }},
        _ingested_at
    from mobile_message_steps
),

new_tickets as (
    select * from {{ ref('stg_support_tickets__tickets') }}
    {{ newly_ingested('support_tickets') }}
),

-- A ticket is the customer's message and, once answered, the company's first response on the response channel.
ticket_messages as (
    select
        'support_tickets' as source,
        ticket_id as record_id,
        cast(null as {{ dbt.type_string() }}) as touchpoint_suffix,
        'ticket_created' as touchpoint_type,
        created_at as occurred_at,
        channel,
        coalesce(subject || ' - ' || body, subject, body) as text,
        cast(null as double) as value_eur,
        ticket_id as conversation_ref,
        {{ identifier_columns(email='email', social_handle='social_handle') }},
        _ingested_at
    from new_tickets
    union all
    select
        'support_tickets' as source,
        ticket_id as record_id,
        'first_response' as touchpoint_suffix,
        'ticket_first_response' as touchpoint_type,
        first_response_at as occurred_at,
        {{ service_channel('response_channel') }} as channel,
        cast(null as {{ dbt.type_string() }}) as text,
        cast(null as double) as value_eur,
        ticket_id as conversation_ref,
        {{ identifier_columns(email='email', social_handle='social_handle') }},
        _ingested_at
    from new_tickets
    where first_response_at is not null
),

new_chat_rows as (
    select * from {{ ref('stg_chat_conversations__conversations') }}
    {{ newly_ingested('chat_conversations') }}
),

customer_chat_texts as (
    select
        conversation_id,
        {{ listagg_ordered('text', "'\n'", ['message_index']) }} as text
    from {{ ref('stg_chat_conversations__messages') }}
    where sender = 'customer'
        and conversation_id in (select conversation_id from new_chat_rows)
    group by conversation_id
),

new_chats as (
    select new_chat_rows.*, customer_chat_texts.text as customer_text
    from new_chat_rows
    left join customer_chat_texts on customer_chat_texts.conversation_id = new_chat_rows.conversation_id
),

-- A chat starts with the bot; a handover continues it with an agent (a channel switch in the journey).
chat_conversations as (
    select
        'chat_conversations' as source,
        conversation_id as record_id,
        cast(null as {{ dbt.type_string() }}) as touchpoint_suffix,
        'chat_started' as touchpoint_type,
        started_at as occurred_at,
        'chat_bot' as channel,
        customer_text as text,
        cast(null as double) as value_eur,
        conversation_id as conversation_ref,
        {{ identifier_columns(crm_id='user_id', email='email', anonymous_id='anonymous_id') }},
        _ingested_at
    from new_chats
    union all
    select
        'chat_conversations' as source,
        conversation_id as record_id,
        'handover' as touchpoint_suffix,
        'chat_handover' as touchpoint_type,
        coalesce(handover_at, started_at) as occurred_at,
        'chat_agent' as channel,
        cast(null as {{ dbt.type_string() }}) as text,
        cast(null as double) as value_eur,
        conversation_id as conversation_ref,
        {{ identifier_columns(crm_id='user_id', email='email', anonymous_id='anonymous_id') }},
        _ingested_at
    from new_chats
    where handover
),

calls as (
    select
        'calls' as source,
        call_id as record_id,
        cast(null as {{ dbt.type_string() }}) as touchpoint_suffix,
        direction || '_call' as touchpoint_type,
        started_at as occurred_at,
        {{ call_channel() }} as channel,
        cast(null as {{ dbt.type_string() }}) as text,
        cast(null as double) as value_eur,
        coalesce(ticket_id, call_id) as conversation_ref,
        {{ identifier_columns(phone='phone_e164') }},
        _ingested_at
    from {{ ref('stg_calls__calls') }}
    {{ newly_ingested('calls') }}
),

-- A brand reply belongs to the customer it answers: fct_touchpoints takes that customer from the post in
-- `conversation_ref`, which may arrive in a later export than the reply.
social_mentions as (
    select
        'social_mentions' as source,
        post_id as record_id,
        cast(null as {{ dbt.type_string() }}) as touchpoint_suffix,
        case when is_brand then 'brand_reply' else 'customer_post' end as touchpoint_type,
        posted_at as occurred_at,
        'social' as channel,
        text,
        cast(null as double) as value_eur,
        coalesce(in_reply_to_post_id, post_id) as conversation_ref,
        {{ identifier_columns(social_handle='case when not is_brand then author_handle end') }},
        _ingested_at
    from {{ ref('stg_social_mentions__posts') }}
    {{ newly_ingested('social_mentions') }}
),

surveys as (
    select
        'surveys' as source,
        response_id as record_id,
        cast(null as {{ dbt.type_string() }}) as touchpoint_suffix,
        survey_type as touchpoint_type,
        responded_at as occurred_at,
        'survey' as channel,
        comment as text,
        cast(null as double) as value_eur,
        trigger_id as conversation_ref,
        {{ identifier_columns(crm_id='customer_id', email='email') }},
        _ingested_at
    from {{ ref('stg_surveys__responses') }}
    {{ newly_ingested('surveys') }}
),

unioned as (
    select * from web_events
    union all select * from orders
    union all select * from email_events
    union all select * from mobile_messages
    union all select * from ticket_messages
    union all select * from chat_conversations
    union all select * from calls
    union all select * from social_mentions
    union all select * from surveys
)

select
    source || ':' || record_id || coalesce(':' || touchpoint_suffix, '') as touchpoint_id,
    source || ':' || record_id as source_record_id,
    source,
    touchpoint_type,
    occurred_at,
    channel,
    -- e-mails, phones, IBANs, card numbers, addresses and names out of the text (ml/redaction.py): from here
    -- on no model holds the original, which stays in the raw layer only
    {{ redact_text('text') }} as text,
    value_eur,
    conversation_ref,
    {{ normalized_identifier_columns() }},
    _ingested_at,
    {{ this_run_started_at() }} as _unioned_at
from unioned
