-- The touchpoints journeys are made of, numbered into journeys. A journey is a customer's inbound
-- (customer-initiated) touchpoints with gaps of at most var('journey_gap_days'); company-initiated ones
-- (sends, replies, callbacks) neither start nor extend a journey, so a weekly newsletter cannot keep one
-- open forever. Survey answers are not journey steps either: a customer rates a journey, they do not move
-- along it by answering. `is_channel_change` marks the touchpoints that make up the collapsed channel path (the
-- first of a journey and every one on another channel than the touchpoint before it).
--
-- Incremental (DuckDB): a run numbers again every journey of the customers (delete+insert on customer_key)
-- that have a touchpoint int_touchpoints_resolved rewrote since this table's latest run (`_resolved_at`, which
-- every row here keeps as the latest one it has seen), before or after that rewrite (re-attributed to or away
-- from them). Retention deletes its old touchpoints here too and stamps the rest of those customers' touchpoints
-- (cx_core/privacy/retention.py); erasure deletes the person's rows from every table. A customer left without
-- any step gets a tombstone row (no touchpoint_id), which deletes their old rows and which the post-hook
-- deletes. Spark rebuilds it as a table.
-- A warehouse built before `_resolved_at` existed gets the column (null on the rows written already) instead
-- of a refresh that fails until someone rebuilds it with --full-refresh.
{{ config(
    materialized='incremental' if target.type == 'duckdb' else 'table',
    unique_key='customer_key',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    post_hook="{{ delete_tombstones('touchpoint_id') }}",
) }}

with

{% if is_incremental() %}
-- What int_touchpoints_resolved rewrote after this table's latest run (its `_resolved_at` stamps, later rows at
-- the end of the table, which the filter alone reads): new, corrected and re-attributed touchpoints.
resolved_since_last_run as (
    select touchpoint_id, customer_key, occurred_at, channel, journey_stage, direction
    from {{ ref('int_touchpoints_resolved') }}
    where _resolved_at > {{ latest_in_this('_resolved_at') }}
),

-- The customer a rewritten touchpoint belongs to now and the one this table numbered it for before (a touchpoint
-- re-attributed to another customer leaves the old one's journeys).
touched_customers as (
    select customer_key from resolved_since_last_run where customer_key is not null
    union
    select customer_key from {{ this }}
    where touchpoint_id in (select touchpoint_id from resolved_since_last_run)
),

-- The touched customers' steps: the rewritten touchpoints, and their other touchpoints as this table holds them
-- (int_touchpoints_resolved has not rewritten them since; filtering it by customer read five columns of all its
-- 9 million rows).
inbound as (
    select touchpoint_id, customer_key, occurred_at, channel, journey_stage
    from resolved_since_last_run
    where direction = 'inbound' and customer_key is not null and channel <> 'survey'
    union all
    select touchpoint_id, customer_key, occurred_at, channel, journey_stage
    from {{ this }}
    where {{ own_rows_of_customers('touched_customers', 'touchpoint_id', 'resolved_since_last_run') }}
),

customers_without_steps as (
    select customer_key from touched_customers
    except
    select customer_key from inbound
),
{% else %}
inbound as (
    select touchpoint_id, customer_key, occurred_at, channel, journey_stage
    from {{ ref('int_touchpoints_resolved') }}
    where direction = 'inbound' and customer_key is not null and channel <> 'survey'
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
    starts_journey or channel <> previous_channel as is_channel_change,
    (select max(_resolved_at) from {{ ref('int_touchpoints_resolved') }}) as _resolved_at
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
    cast(null as boolean) as is_channel_change,
    cast(null as timestamp) as _resolved_at
from customers_without_steps
{% endif %}
