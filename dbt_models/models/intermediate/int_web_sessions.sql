-- Web and app sessions: one device's (cookie's) events, split where the device was idle for more than
-- var('session_gap_minutes') (30). A session belongs to the customer who logged in during it, else to the
-- cookie's customer (a cookie linked to a customer by any login, before or after, brings its sessions along).
--
-- Incremental (DuckDB): a run splits again every session of the cookies (delete+insert on anonymous_id) that
-- have events ingested after the table's latest one, a cookie or login whose component changed since the
-- table's latest `_identity_changed_at`, or another number of events than the table counts (rows removed by
-- retention or erasure, an event a correction moved to another cookie: the later sessions are renumbered).
-- Counting every cookie's events groups all events (1 s of the 6M at 100k customers), so the run does that only
-- when one sum over the other cookies' events says some count changed (see events_moved_elsewhere).
-- Every row a run writes is stamped `_sessionized_at` (the run's start): fct_web_sessions writes again the cookies
-- stamped after its own latest run. Spark rebuilds it as a table.
{{ config(
    materialized='incremental' if target.type == 'duckdb' else 'table',
    unique_key='anonymous_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
) }}

with

{% if is_incremental() %}
-- The change detection reads the staging table's few columns it needs; a CTE of all events read by several
-- steps would be materialised whole first (2 of the 4 s this model took at 100k customers).
changed_identifiers as (
    {{ identifiers_changed_since_last_run() }}
),

cookies_with_news as (
    select anonymous_id
    from {{ ref('stg_web_events__events') }}
    where _ingested_at > (select max(_ingested_at) from {{ this }})
    union
    select anonymous_id
    from {{ this }}
    where anonymous_id in (select identifier_value from changed_identifiers where identifier_type = 'anonymous_id')
        or user_id in (select identifier_value from changed_identifiers where identifier_type = 'crm_id')
),

-- The cookies without news have the same events as the table counts iff every cookie's count is the same; one
-- sum tells, weighting each event by its cookie's 64-bit hash: a changed count shifts the sum by (change x hash),
-- and changes cancel only when the hashes happen to sum to zero (chance about 2^-64).
events_moved_elsewhere as (
    select
        (select coalesce(sum(hash(anonymous_id)::hugeint), 0) from {{ ref('stg_web_events__events') }}
         where anonymous_id not in (select anonymous_id from cookies_with_news where anonymous_id is not null))
        <> (select coalesce(sum(events * hash(anonymous_id)::hugeint), 0) from {{ this }}
            where anonymous_id not in (select anonymous_id from cookies_with_news where anonymous_id is not null))
        as is_true
),

event_counts as (
    select anonymous_id, count(*) as events
    from {{ ref('stg_web_events__events') }}
    where (select is_true from events_moved_elsewhere)
    group by anonymous_id
),

previous_event_counts as (
    select anonymous_id, sum(events) as events
    from {{ this }}
    where (select is_true from events_moved_elsewhere)
    group by anonymous_id
),

touched_cookies as (
    select anonymous_id from cookies_with_news
    union
    select event_counts.anonymous_id
    from event_counts
    left join previous_event_counts on previous_event_counts.anonymous_id = event_counts.anonymous_id
    where coalesce(previous_event_counts.events, 0) <> event_counts.events
),
{% endif %}

-- staging trims the cookie and login ids
events as (
    select
        event_id,
        event_time,
        anonymous_id,
        user_id,
        event_type,
        platform,
        device,
        utm_source,
        value_eur,
        _ingested_at
    from {{ ref('stg_web_events__events') }}
    {%- if is_incremental() %}
    where anonymous_id in (select anonymous_id from touched_cookies)
    {%- endif %}
),

with_gaps as (
    select
        *,
        lag(event_time) over (partition by anonymous_id order by event_time, event_id) as previous_event_time
    from events
),

-- A session starts at a cookie's first event and at each event after a gap; the row that starts it carries the
-- session's platform and device. Reading `session_starts` once keeps this a pipeline of one sort and one aggregation:
-- picking the first event by a second window and joining it back made DuckDB hold all of a full build's events
-- (61 M at a million customers) and spill 30 GB.
session_starts as (
    select
        *,
        previous_event_time is null
            or event_time > {{ dbt.dateadd('minute', var('session_gap_minutes'), 'previous_event_time') }}
            as starts_session
    from with_gaps
),

numbered as (
    select
        *,
        count(case when starts_session then event_id end) over (
            partition by anonymous_id order by event_time, event_id rows between unbounded preceding and current row
        ) as session_number
    from session_starts
),

sessions as (
    select
        anonymous_id,
        session_number,
        min(event_time) as started_at,
        max(event_time) as ended_at,
        max(case when starts_session then platform end) as platform,
        max(case when starts_session then device end) as device,
        min(user_id) as user_id,
        count(*) as events,
        count(case when event_type = 'page_view' then event_id end) as page_views,
        max(case when event_type = 'view_item' then 1 else 0 end) = 1 as has_view_item,
        max(case when event_type = 'add_to_cart' then 1 else 0 end) = 1 as has_add_to_cart,
        max(case when event_type = 'begin_checkout' then 1 else 0 end) = 1 as has_begin_checkout,
        max(case when event_type = 'purchase' then 1 else 0 end) = 1 as has_purchase,
        coalesce(sum(case when event_type = 'purchase' then value_eur end), 0) as purchase_value_eur,
        min(utm_source) as utm_source,
        max(_ingested_at) as _ingested_at
    from numbered
    group by anonymous_id, session_number
),

components as (
    select identifier, customer_key, is_blocked from {{ ref('int_identity_components') }}
)

select
    sessions.anonymous_id || '#' || cast(sessions.session_number as {{ dbt.type_string() }}) as session_id,
    sessions.anonymous_id,
    {{ customer_key_by_priority(['login_component', 'cookie_component']) }} as customer_key,
    sessions.user_id,
    sessions.user_id is not null as is_logged_in,
    sessions.platform,
    sessions.device,
    sessions.utm_source,
    sessions.started_at,
    sessions.ended_at,
    {{ dbt.datediff('sessions.started_at', 'sessions.ended_at', 'second') }} as duration_seconds,
    sessions.events,
    sessions.page_views,
    sessions.has_view_item,
    sessions.has_add_to_cart,
    sessions.has_begin_checkout,
    sessions.has_purchase,
    sessions.purchase_value_eur,
    sessions._ingested_at,
    {{ latest_identity_change() }} as _identity_changed_at,
    {{ this_run_started_at() }} as _sessionized_at
from sessions
left join components as login_component on login_component.identifier = 'crm_id:' || sessions.user_id
left join components as cookie_component on cookie_component.identifier = 'anonymous_id:' || sessions.anonymous_id
