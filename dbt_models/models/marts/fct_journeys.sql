-- One row per customer journey (see int_journey_touchpoints for the definition). The channel path lists the
-- journey's channels in order with consecutive repeats collapsed ('web > chat_bot > chat_agent > web');
-- outcome: 'purchase' when it reached a purchase, else the state of the service issue it contains (the
-- latest contact resolved or not), else 'abandoned'.
--
-- Incremental (DuckDB): a run writes again every journey (delete+insert on customer_key) of the customers that
-- int_journey_touchpoints numbered again after this table's latest `_resolved_at` (whoever owns or owned a
-- rewritten touchpoint) or that have a web session with new events or a changed identity since then; the
-- post-hook deletes the journeys of customers left without any journey step. Retention reaches it through
-- int_journey_touchpoints (the steps it deletes, the customers it stamps); erasure deletes the person's rows from
-- every table. Spark rebuilds it as a table.
{{ config(
    materialized='incremental' if target.type == 'duckdb' else 'table',
    unique_key='customer_key',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    post_hook="{{ delete_rows_without_parent('customer_key', ref('int_journey_touchpoints')) }}",
) }}
{%- set stages = ['research', 'purchase', 'use_support', 'loyalty'] %}

with

{% if is_incremental() %}
{%- set latest_stamp = latest_in_this('_resolved_at') %}
touched_customers as (
    select customer_key
    from {{ ref('int_journey_touchpoints') }}
    where _resolved_at > {{ latest_stamp }}
    union
    select customer_key
    from {{ ref('int_web_sessions') }}
    where _ingested_at > {{ latest_stamp }}
        or _identity_changed_at > {{ latest_stamp }}
),

steps as (
    select * from {{ ref('int_journey_touchpoints') }}
    where customer_key in (select customer_key from touched_customers)
),
{% else %}
steps as (
    select * from {{ ref('int_journey_touchpoints') }}
),
{% endif %}

journeys as (
    select
        journey_id,
        customer_key,
        journey_number,
        min(occurred_at) as started_at,
        max(occurred_at) as ended_at,
        count(*) as touchpoints,
        count(distinct channel) as distinct_channels,
        count(case when is_channel_change then touchpoint_id end) - 1 as channel_switches,
        min(case when journey_stage = 'purchase' then occurred_at end) as first_purchase_at,
        max(_resolved_at) as _resolved_at,
        {%- for stage in stages %}
        max(case when journey_stage = '{{ stage }}' then 1 else 0 end) = 1 as reached_{{ stage }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from steps
    group by journey_id, customer_key, journey_number
),

channel_paths as (
    select
        journey_id,
        {{ listagg_ordered('channel', "' > '", ['occurred_at', 'touchpoint_id']) }} as channel_path
    from steps
    where is_channel_change
    group by journey_id
),

latest_service_contact as (
    select
        journeys.journey_id,
        contacts.resolved,
        row_number() over (
            partition by journeys.journey_id order by contacts.occurred_at desc, contacts.contact_id desc
        ) as recency
    from journeys
    inner join {{ ref('fct_service_contacts') }} as contacts
        on contacts.customer_key = journeys.customer_key
        and contacts.occurred_at between journeys.started_at and journeys.ended_at
),

sessions as (
    select journeys.journey_id, count(*) as web_sessions
    from journeys
    inner join {{ ref('int_web_sessions') }} as web_sessions
        on web_sessions.customer_key = journeys.customer_key
        and web_sessions.started_at between journeys.started_at and journeys.ended_at
    group by journeys.journey_id
)

select
    journeys.journey_id,
    journeys.customer_key,
    journeys.journey_number,
    journeys.started_at,
    journeys.ended_at,
    {{ dbt.datediff('journeys.started_at', 'journeys.ended_at', 'second') }} as duration_seconds,
    journeys.touchpoints,
    coalesce(sessions.web_sessions, 0) as web_sessions,
    channel_paths.channel_path,
    journeys.distinct_channels,
    journeys.channel_switches,
    concat_ws(
        ',',
        {%- for stage in stages %}
        case when journeys.reached_{{ stage }} then '{{ stage }}' end{% if not loop.last %},{% endif %}
        {%- endfor %}
    ) as stages_reached,
    {%- for stage in stages %}
    journeys.reached_{{ stage }},
    {%- endfor %}
    case
        when journeys.reached_purchase then 'purchase'
        when latest_service_contact.resolved then 'resolved_service_issue'
        when latest_service_contact.journey_id is not null then 'unresolved_service_issue'
        else 'abandoned'
    end as outcome,
    journeys.reached_purchase as is_converted,
    journeys.first_purchase_at,
    journeys._resolved_at
from journeys
inner join channel_paths on channel_paths.journey_id = journeys.journey_id
left join latest_service_contact
    on latest_service_contact.journey_id = journeys.journey_id
    and latest_service_contact.recency = 1
left join sessions on sessions.journey_id = journeys.journey_id
