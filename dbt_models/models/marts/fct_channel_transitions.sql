-- Channel flows for flow charts: how often customers moved from one channel to another inside a journey (a
-- step of the collapsed channel path) and the median time between the last touchpoint on the old channel and
-- the first on the new one, per period (day, ISO week, month of the business day of the move, as in the KPIs).
with

moves as (
    select
        customer_key,
        previous_channel as from_channel,
        channel as to_channel,
        {{ dbt.datediff('previous_at', 'occurred_at', 'second') }} as seconds_between,
        {{ kpi_business_date('occurred_at') }} as business_date
    from {{ ref('int_journey_touchpoints') }}
    where is_channel_change and previous_channel is not null
),

moves_by_period as (
    {{ kpi_with_periods('moves') }}
)

select
    period_grain,
    period_start,
    from_channel,
    to_channel,
    count(*) as transitions,
    count(distinct customer_key) as customers,
    {{ kpi_percentile('seconds_between', 0.5) }} as median_seconds_between
from moves_by_period
group by period_grain, period_start, from_channel, to_channel
