-- Every reporting period from the first to the last business day with any touchpoint, so that KPI rows exist
-- (and read null or 0) for periods in which a KPI had no events.
with

bounds as (
    {{ kpi_business_day_bounds(ref('fct_touchpoints'), 'occurred_at') }}
),

day_numbers as (
    {{ dbt.generate_series(var('kpi_calendar_max_days')) }}
),

days as (
    select
        cast({{ dbt.dateadd('day', 'day_numbers.generated_number - 1', 'bounds.first_day') }} as date) as business_date
    from day_numbers
    cross join bounds
    where day_numbers.generated_number - 1 <= {{ dbt.datediff('bounds.first_day', 'bounds.last_day', 'day') }}
),

periods as (
    select distinct period_grain, period_start
    from ({{ kpi_with_periods('days') }}) as days_with_periods
),

bounded as (
    select
        periods.period_grain,
        periods.period_start,
        cast(case periods.period_grain
            {%- for grain in kpi_grains() %}
            when '{{ grain }}' then {{ dbt.dateadd(grain, 1, 'periods.period_start') }}
            {%- endfor %}
        end as date) as period_end,
        bounds.first_day,
        bounds.last_day
    from periods
    cross join bounds
)

select
    period_grain,
    period_start,
    period_end,
    period_start >= first_day and period_end <= {{ dbt.dateadd('day', 1, 'last_day') }} as is_complete_period
from bounded
