-- The touchpoints journeys are made of, numbered into journeys. A journey is a customer's inbound
-- (customer-initiated) touchpoints with gaps of at most var('journey_gap_days'); company-initiated ones
-- (sends, replies, callbacks) neither start nor extend a journey, so a weekly newsletter cannot keep one
-- open forever. Survey answers are not journey steps either: a customer rates a journey, they do not move
-- along it by answering. `is_channel_change` marks the touchpoints that make up the collapsed channel path (the
-- first of a journey and every one on another channel than the touchpoint before it).
{{ config(materialized='table') }}

with

inbound as (
    select touchpoint_id, customer_key, occurred_at, channel, journey_stage
    from {{ ref('int_touchpoints_resolved') }}
    where direction = 'inbound' and customer_key is not null and channel <> 'survey'
),

with_previous as (
    select
        *,
        lag(occurred_at) over (partition by customer_key order by occurred_at, touchpoint_id) as previous_at,
        lag(channel) over (partition by customer_key order by occurred_at, touchpoint_id) as previous_channel
    from inbound
),

flagged as (
    select
        *,
        previous_at is null
            or occurred_at > {{ dbt.dateadd('day', var('journey_gap_days'), 'previous_at') }} as starts_journey
    from with_previous
),

numbered as (
    select
        *,
        count(case when starts_journey then touchpoint_id end) over (
            partition by customer_key order by occurred_at, touchpoint_id rows between unbounded preceding and current row
        ) as journey_number
    from flagged
)

select
    touchpoint_id,
    customer_key,
    customer_key || '-J' || cast(journey_number as {{ dbt.type_string() }}) as journey_id,
    journey_number,
    occurred_at,
    channel,
    journey_stage,
    case when not starts_journey then previous_channel end as previous_channel,
    case when not starts_journey then previous_at end as previous_at,
    starts_journey or channel <> previous_channel as is_channel_change
from numbered
