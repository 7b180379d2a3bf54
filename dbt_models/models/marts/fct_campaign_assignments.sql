-- One row per customer a marketing contact was meant for: the contacts on any channel (e-mail sends, SMS and
-- push messages, campaign calls: telephony queue `outbound_<campaign_type>`; a ticket's callback is service,
-- not marketing) and the campaigns' control groups (e-mail `control` events, `held_out` messages: nothing
-- was sent). With the customer's reaction and whether the customer ordered within 14 days of the (planned)
-- contact (any order counts, on any channel; an order counts for every contact of the 14 days before it).
-- Contacted vs held out is the measured uplift of a campaign.
--
-- Incremental (DuckDB): a run writes again (delete+insert on contact_id) every contact of the customers whose e-mail
-- events, messages, calls or orders int_touchpoints_resolved rewrote after this table's latest run, the customer
-- each belongs to now and the one it belonged to before (a new order converts the contacts of the 14 days before
-- it, an open marks its send, a re-attributed order leaves its old customer's contacts), the contacts whose own
-- touchpoint it rewrote, and the control rows ingested since or whose identifier's component changed. A contact
-- written again that is no contact any more (a re-exported event of another type) gets a tombstone row (no
-- sent_at), which the post-hook deletes. When a touchpoint was rewritten twice since this table's latest run (a
-- run that skipped this model), whom it belonged to in between is unknown: every contact is written again.
-- Retention empties the table, so the next refresh writes it whole (cx_core/privacy/retention.py); erasure deletes
-- the person's rows from every table. Spark rebuilds it as a table. 1.77 M rows at 100k customers: rebuilt, it was
-- the daily refresh's slowest model (issue 19).
-- depends_on: {{ ref('int_touchpoints_resolved') }} (read in incremental runs only)
{{ config(
    materialized='incremental' if target.type == 'duckdb' else 'table',
    unique_key='contact_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    post_hook="{{ delete_tombstones('sent_at') }}",
) }}
{%- set contact_touchpoint_sources = ['email_events', 'mobile_messages', 'calls'] %}
{%- set contact_sources = contact_touchpoint_sources + ['orders'] %}
{%- set latest_stamp = latest_in_this('_resolved_at') if is_incremental() else none %}
{%- set writes_some = is_incremental() and previous_owners_known_since(latest_stamp, contact_sources) %}

with
{% if writes_some %}
touched_customers as (
    {{ owners_of_touchpoints_rewritten_since(latest_stamp, contact_sources) }}
),

-- The touchpoints of the contact sources written again since this table's latest run (with or without a customer).
rewritten_touchpoints as (
    {{ touchpoints_rewritten_since(latest_stamp, contact_touchpoint_sources) }}
),

-- The contacts' touchpoints this run writes: the touched customers' and the rewritten ones (the e-mail sends and
-- their reactions are narrowed to these before they are joined: joining all 1.7 M sends took most of a run).
contact_touchpoints as (
    select touchpoint_id, customer_key, source
    from {{ ref('fct_touchpoints') }}
    where source in ('{{ contact_touchpoint_sources | join("', '") }}')
        and (
            customer_key in (select customer_key from touched_customers)
            or touchpoint_id in (select touchpoint_id from rewritten_touchpoints)
        )
),
{% endif %}

-- The e-mail events this model reads (three times below), the other event types left out once.
email_events as (
    select event_id, event_time, email, campaign_id, campaign_type, event_type, _ingested_at
    from {{ ref('stg_email_events__events') }}
    where event_type in ('send', 'open', 'click', 'control')
),

email_sends as (
    select
        'email_events:' || event_id as touchpoint_id,
        event_id as contact_id,
        event_time as sent_at,
        'email' as channel,
        email,
        campaign_id,
        campaign_type
    from email_events
    where event_type = 'send'
    {%- if writes_some %}
        -- the id after 'email_events:' (13 characters): no id built for each of the 1.7 M sends
        and event_id in (select substr(touchpoint_id, 14) from contact_touchpoints where source = 'email_events')
    {%- endif %}
),

email_reactions as (
    select
        email,
        campaign_id,
        min(case when event_type = 'open' then event_time end) as first_opened_at,
        min(case when event_type = 'click' then event_time end) as first_clicked_at
    from email_events
    where event_type in ('open', 'click')
    {%- if writes_some %}
        and email in (select email from email_sends)
    {%- endif %}
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
        email_reactions.first_clicked_at is not null as clicked,
        false as is_holdout
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
        clicked_at is not null as clicked,
        false as is_holdout
    from {{ ref('stg_mobile_messages__messages') }}
    where status <> 'held_out'
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
        false as clicked,
        false as is_holdout
    from {{ ref('stg_calls__calls') }}
    where direction = 'outbound' and ticket_id is null and substr(queue, 1, 9) = 'outbound_'
),

sent as (
    select sent.*, touchpoints.customer_key
    from (
        select * from emails
        union all select * from messages
        union all select * from campaign_calls
    ) as sent
    {%- if writes_some %}
    inner join (select touchpoint_id, customer_key from contact_touchpoints) as touchpoints
        on touchpoints.touchpoint_id = sent.touchpoint_id
    {%- else %}
    inner join {{ ref('fct_touchpoints') }} as touchpoints
        on touchpoints.touchpoint_id = sent.touchpoint_id
    -- a touchpoint id starts with its source: the filter skips the web events (two thirds of the touchpoints)
    -- before the join instead of hashing their ids
    where touchpoints.source in ('{{ contact_touchpoint_sources | join("', '") }}')
    {%- endif %}
),

-- The control groups' rows are no touchpoints: their customer comes from the identity graph directly
-- (the messaging platform's CRM id first, else the number; the e-mail address).
control_rows as (
    select
        'email_events:' || event_id as touchpoint_id,
        event_id as contact_id,
        event_time as sent_at,
        'email' as channel,
        campaign_id,
        campaign_type,
        'email:' || email as identifier,
        _ingested_at
    from email_events
    where event_type = 'control'
    union all
    select
        'mobile_messages:' || message_id as touchpoint_id,
        message_id as contact_id,
        sent_at,
        channel,
        campaign_id,
        campaign_type,
        coalesce('crm_id:' || customer_id, 'phone:' || phone_e164) as identifier,
        _ingested_at
    from {{ ref('stg_mobile_messages__messages') }}
    where status = 'held_out'
),

held_out as (
    select
        control_rows.touchpoint_id,
        control_rows.contact_id,
        control_rows.sent_at,
        control_rows.channel,
        control_rows.campaign_id,
        control_rows.campaign_type,
        false as opened,
        false as clicked,
        true as is_holdout,
        components.customer_key
    from control_rows
    inner join {{ ref('int_identity_components') }} as components
        on components.identifier = control_rows.identifier
    {%- if writes_some %}
    where
        components.customer_key in (select customer_key from touched_customers)
        or control_rows._ingested_at > {{ latest_stamp }}
        or components.changed_at > {{ latest_stamp }}
    {%- endif %}
),

contacts as (
    select * from sent
    union all select * from held_out
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
    contacts.is_holdout,
    orders_after_contact.touchpoint_id is not null as converted_within_14d,
    coalesce(orders_after_contact.order_value_eur, 0) as order_value_eur,
    {{ this_run_started_at() }} as _resolved_at
from contacts
left join orders_after_contact on orders_after_contact.touchpoint_id = contacts.touchpoint_id
{%- if is_incremental() %}
-- Tombstones: the contacts this run writes again that are no contacts any more.
union all
select
    stored.contact_id,
    {%- for column in ['customer_key', 'sent_at', 'channel', 'campaign_id', 'campaign_type', 'opened', 'clicked',
                       'is_holdout', 'converted_within_14d', 'order_value_eur'] %}
    null as {{ column }},
    {%- endfor %}
    {{ this_run_started_at() }} as _resolved_at
from {{ this }} as stored
where
    {%- if writes_some %}
    (
        stored.customer_key in (select customer_key from touched_customers)
        or stored.contact_id in (select touchpoint_id from rewritten_touchpoints)
    )
    and
    {%- endif %}
    stored.contact_id not in (select touchpoint_id from contacts)
{%- endif %}
