-- The touchpoints journeys are made of, numbered into journeys. A journey is a customer's inbound
-- (customer-initiated) touchpoints with gaps of at most var('journey_gap_days'); company-initiated ones
-- (sends, replies, callbacks) neither start nor extend a journey, so a weekly newsletter cannot keep one
-- open forever. Survey answers are not journey steps either: a customer rates a journey, they do not move
-- along it by answering. `is_channel_change` marks the touchpoints that make up the collapsed channel path (the
-- first of a journey and every one on another channel than the touchpoint before it).
--
-- Incremental (DuckDB): a run numbers again every journey of the customers (delete+insert on customer_key)
-- whose inbound touchpoints differ from the ones the table holds (new, changed, re-attributed to or away from
-- them, removed). A customer left without any gets a tombstone row (no touchpoint_id), which deletes their old
-- rows and which the post-hook deletes. Spark rebuilds it as a table.
{{ config(
    materialized='incremental' if target.type == 'duckdb' else 'table',
    unique_key='customer_key',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    post_hook="{{ delete_tombstones('touchpoint_id') }}",
) }}

with

all_inbound as (
    select touchpoint_id, customer_key, occurred_at, channel, journey_stage
    from {{ ref('int_touchpoints_resolved') }}
    where direction = 'inbound' and customer_key is not null and channel <> 'survey'
),

{% if is_incremental() %}
previous_inbound as (
    select touchpoint_id, customer_key, occurred_at, channel, journey_stage from {{ this }}
),

changed_steps as (
    (select * from all_inbound except select * from previous_inbound)
    union all
    (select * from previous_inbound except select * from all_inbound)
),

touched_customers as (
    select distinct customer_key from changed_steps
),

inbound as (
    select * from all_inbound
    where customer_key in (select customer_key from touched_customers)
),

customers_without_steps as (
    select customer_key from touched_customers
    except
    select customer_key from inbound
),
{% else %}
inbound as (
    select * from all_inbound
),
{% endif %}

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
{% if is_incremental() %}
union all
select
    cast(null as {{ dbt.type_string() }}) as touchpoint_id,
    customer_key,
    cast(null as {{ dbt.type_string() }}) as journey_id,
    cast(null as bigint) as journey_number,
    cast(null as timestamp) as occurred_at,
    cast(null as {{ dbt.type_string() }}) as channel,
    cast(null as {{ dbt.type_string() }}) as journey_stage,
    cast(null as {{ dbt.type_string() }}) as previous_channel,
    cast(null as timestamp) as previous_at,
    cast(null as boolean) as is_channel_change
from customers_without_steps
{% endif %}
