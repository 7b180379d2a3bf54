-- Every customer-initiated service contact: help desk tickets (e-mail, web form, social), chats (bot, with
-- or without handover to an agent), inbound calls (agent or IVR only) and public social posts the brand
-- answered. Outbound callbacks are the response to a ticket, not a contact of their own.
--
-- Issues: a contact within var('repeat_contact_days') (7) of the same customer's previous contact, on any
-- channel, is a repeat contact and belongs to that contact's issue; otherwise it opens a new issue, named
-- after its first contact. So an issue is first-contact-resolved when its only contact was resolved.
-- depends_on: {{ ref('channel_taxonomy') }} (its channel columns are tested against the taxonomy, so the
-- seed must be built with this model, not after it)
with

tickets as (
    select
        'support_tickets:' || ticket_id as contact_id,
        channel as inbound_channel,
        {{ service_channel('response_channel') }} as response_channel,
        {{ dbt.datediff('created_at', 'first_response_at', 'second') }} as first_response_seconds,
        cast(null as bigint) as handle_seconds,
        cast(null as bigint) as wait_seconds,
        false as is_bot,
        false as bot_handover,
        status in ('solved', 'closed') as resolved,
        solved_at as closed_at,
        category as contact_reason,
        cast(null as boolean) as abandoned
    from {{ ref('stg_support_tickets__tickets') }}
),

chat_replies as (
    select
        conversation_id,
        min(case when sender <> 'customer' then sent_at end) as first_reply_at,
        min(case when sender = 'agent' then sent_at end) as first_agent_reply_at
    from {{ ref('stg_chat_conversations__messages') }}
    group by conversation_id
),

chats as (
    select
        'chat_conversations:' || chats.conversation_id as contact_id,
        'chat_bot' as inbound_channel,
        case when chats.handover then 'chat_agent' else 'chat_bot' end as response_channel,
        {{ dbt.datediff('chats.started_at', 'chat_replies.first_reply_at', 'second') }} as first_response_seconds,
        {{ dbt.datediff('chats.started_at', 'chats.ended_at', 'second') }} as handle_seconds,
        case when chats.handover then
            {{ dbt.datediff('coalesce(chats.handover_at, chats.started_at)', 'chat_replies.first_agent_reply_at', 'second') }}
        end as wait_seconds,
        true as is_bot,
        chats.handover as bot_handover,
        chats.resolved,
        chats.ended_at as closed_at,
        chats.topic as contact_reason,
        cast(null as boolean) as abandoned
    from {{ ref('stg_chat_conversations__conversations') }} as chats
    left join chat_replies on chat_replies.conversation_id = chats.conversation_id
),

inbound_calls as (
    select
        'calls:' || call_id as contact_id,
        {{ call_channel() }} as inbound_channel,
        {{ call_channel() }} as response_channel,
        -- answered by a person (an export without agent names still has talk time): the wait is the response time
        case when {{ call_answered() }} then wait_seconds end as first_response_seconds,
        case when {{ call_answered() }} then
            coalesce(talk_seconds, 0) + coalesce(hold_seconds, 0) + coalesce(wrap_seconds, 0)
        end as handle_seconds,
        wait_seconds,
        false as is_bot,
        false as bot_handover,
        -- an export without a disposition did not measure resolution: null (left out of FCR), not "unresolved"
        case when disposition is not null then disposition = 'resolved' end as resolved,
        {{ dbt.dateadd(
            'second',
            'coalesce(wait_seconds, 0) + coalesce(talk_seconds, 0) + coalesce(hold_seconds, 0)',
            'started_at'
        ) }} as closed_at,
        coalesce(queue, ivr_path) as contact_reason,
        abandoned
    from {{ ref('stg_calls__calls') }}
    where direction = 'inbound'
),

brand_replies as (
    select in_reply_to_post_id as post_id, min(posted_at) as first_reply_at
    from {{ ref('stg_social_mentions__posts') }}
    where is_brand and in_reply_to_post_id is not null
    group by in_reply_to_post_id
),

answered_posts as (
    select
        'social_mentions:' || posts.post_id as contact_id,
        'social' as inbound_channel,
        'social' as response_channel,
        {{ dbt.datediff('posts.posted_at', 'brand_replies.first_reply_at', 'second') }} as first_response_seconds,
        cast(null as bigint) as handle_seconds,
        cast(null as bigint) as wait_seconds,
        false as is_bot,
        false as bot_handover,
        -- a public thread has no resolution status
        cast(null as boolean) as resolved,
        cast(null as timestamp) as closed_at,
        cast(null as {{ dbt.type_string() }}) as contact_reason,
        cast(null as boolean) as abandoned
    from {{ ref('stg_social_mentions__posts') }} as posts
    inner join brand_replies on brand_replies.post_id = posts.post_id
    where not posts.is_brand
),

contacts as (
    select * from tickets
    union all select * from chats
    union all select * from inbound_calls
    union all select * from answered_posts
),

with_customer as (
    select
        contacts.*,
        touchpoints.source,
        touchpoints.customer_key,
        touchpoints.occurred_at,
        lag(touchpoints.occurred_at) over (
            partition by touchpoints.customer_key order by touchpoints.occurred_at, contacts.contact_id
        ) as previous_contact_at
    from contacts
    inner join {{ ref('fct_touchpoints') }} as touchpoints on touchpoints.touchpoint_id = contacts.contact_id
),

flagged as (
    select
        *,
        customer_key is not null
            and previous_contact_at is not null
            and occurred_at <= {{ dbt.dateadd('day', var('repeat_contact_days'), 'previous_contact_at') }}
            as is_repeat_contact_7d
    from with_customer
),

numbered as (
    select
        *,
        count(case when not is_repeat_contact_7d then contact_id end) over (
            partition by customer_key order by occurred_at, contact_id rows between unbounded preceding and current row
        ) as issue_number
    from flagged
)

select
    contact_id,
    case
        when customer_key is null then contact_id
        else first_value(contact_id) over (
            partition by customer_key, issue_number order by occurred_at, contact_id
            rows between unbounded preceding and unbounded following
        )
    end as issue_id,
    customer_key,
    source,
    occurred_at,
    inbound_channel,
    response_channel,
    contact_reason,
    first_response_seconds,
    handle_seconds,
    wait_seconds,
    abandoned,
    is_bot,
    bot_handover,
    resolved,
    not is_repeat_contact_7d as is_first_contact_of_issue,
    is_repeat_contact_7d,
    closed_at
from numbered
