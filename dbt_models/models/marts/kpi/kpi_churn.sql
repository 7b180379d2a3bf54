-- Churn for a non-contractual business, judged at the end of each period (the as-of date is the day after the
-- period's last day): a customer is active when they bought within the var('churn_window_days') days before it,
-- churned when they bought before but not within that window. Until the window before the period's start lies
-- within the data (from its first sale on), who was active at the start is not known in full: the customers who
-- would churn in the period are the very ones whose last sale fell before the data began. Those periods have no
-- churn rate (a warm-up, not the near 0% they would read).
--
-- Why spells and counts instead of a status per customer and period: that status table is customers × periods
-- (26.7M rows from 94M sale × period pairs at 100k customers × 365 days, 24 s). A sale on day s makes its
-- customer active on the as-of dates s + 1 ... s + W (W = the window); overlapping windows merge into spells of
-- activity, so how many customers are active on a date is the number of spells that began minus those that ended
-- by then, counted per segment and persona, and a churn is found from the one spell it ends. Segment and persona
-- are joined null-safe (`is not distinct from`): a relation without persona (a unit-test fixture) still counts.
with

sale_days as (
    select distinct customer_key, segment, persona, business_date
    from {{ ref('kpi_base_orders') }}
    where order_type = 'sale' and customer_key is not null
),

history as (
    select min(business_date) as first_sale_date from sale_days
),

-- A sale more than W days after the customer's previous one starts a new spell: the previous sale's window
-- ended before this one's begins.
sales_with_previous as (
    select
        customer_key,
        segment,
        persona,
        business_date,
        lag(business_date) over (
            partition by customer_key, segment, persona order by business_date
        ) as previous_sale_date
    from sale_days
),

sales_in_spells as (
    select
        customer_key,
        segment,
        persona,
        business_date,
        sum(
            case
                when previous_sale_date is null then 1
                when business_date > {{ dbt.dateadd('day', var('churn_window_days'), 'previous_sale_date') }} then 1
                else 0
            end
        ) over (
            partition by customer_key, segment, persona order by business_date rows unbounded preceding
        ) as spell_number
    from sales_with_previous
),

-- active_from .. active_until (both as-of dates, inclusive) is a spell of activity: the day after its first sale
-- to W days after its last. (With W = 0 a spell ends before it begins: nobody is ever active, as before.)
spells as (
    select
        customer_key,
        segment,
        persona,
        spell_number,
        cast({{ dbt.dateadd('day', 1, 'min(business_date)') }} as date) as active_from,
        cast({{ dbt.dateadd('day', var('churn_window_days'), 'max(business_date)') }} as date) as active_until
    from sales_in_spells
    group by customer_key, segment, persona, spell_number
),

-- The changes per as-of date and segment × persona: a customer counts from the day after their first sale, a
-- spell adds an active customer on its first day and takes them away the day after its last.
status_changes as (
    select
        segment,
        persona,
        active_from as changed_on,
        case when spell_number = 1 then 1 else 0 end as customer_change,
        1 as active_change
    from spells
    union all
    select
        segment,
        persona,
        cast({{ dbt.dateadd('day', 1, 'active_until') }} as date) as changed_on,
        0 as customer_change,
        -1 as active_change
    from spells
),

daily_changes as (
    select
        segment,
        persona,
        changed_on,
        sum(customer_change) as customer_change,
        sum(active_change) as active_change
    from status_changes
    group by segment, persona, changed_on
),

-- The as-of dates the periods are judged on: their start and their end.
as_of_dates as (
    select period_start as as_of_date from {{ ref('kpi_calendar') }}
    union
    select period_end as as_of_date from {{ ref('kpi_calendar') }}
),

-- customers: bought before the as-of date; active_customers: bought within the W days before it.
statuses_on_date as (
    select
        as_of_dates.as_of_date,
        daily_changes.segment,
        daily_changes.persona,
        sum(daily_changes.customer_change) as customers,
        sum(daily_changes.active_change) as active_customers
    from as_of_dates
    inner join daily_changes
        on daily_changes.changed_on <= as_of_dates.as_of_date
    group by as_of_dates.as_of_date, daily_changes.segment, daily_changes.persona
),

-- A customer active at a period's start and not at its end has one last spell that began by the end: it ended
-- within the period (it covered the start or a later date) and no next spell began by the end. Each spell is
-- that candidate for at most one period per grain, the one of its last active day.
spells_with_next as (
    select
        customer_key,
        segment,
        persona,
        active_from,
        active_until,
        active_until as business_date,
        lead(active_from) over (
            partition by customer_key, segment, persona order by spell_number
        ) as next_active_from
    from spells
),

churns as (
    select
        calendar.period_grain,
        calendar.period_start,
        ended.segment,
        ended.persona,
        count(*) as churned_in_period
    from ({{ kpi_with_periods('spells_with_next') }}) as ended
    inner join {{ ref('kpi_calendar') }} as calendar
        on calendar.period_grain = ended.period_grain
        and calendar.period_start = ended.period_start
    -- ... and the customer was active at the start: a spell (this one or an earlier one) covers it
    inner join spells as at_start
        on at_start.customer_key = ended.customer_key
        and at_start.segment is not distinct from ended.segment
        and at_start.persona is not distinct from ended.persona
        and at_start.active_from <= calendar.period_start
        and at_start.active_until >= calendar.period_start
    where ended.next_active_from is null or ended.next_active_from > calendar.period_end
    group by calendar.period_grain, calendar.period_start, ended.segment, ended.persona
),

-- One row per period and segment × persona with a customer by the period's end (as a row per customer was).
customer_statuses as (
    select
        calendar.period_grain,
        calendar.period_start,
        at_end.segment,
        at_end.persona,
        at_end.active_customers as active_at_end,
        at_end.customers - at_end.active_customers as inactive_at_end,
        coalesce(at_start.active_customers, 0) as active_at_start,
        coalesce(churns.churned_in_period, 0) as churned_in_period,
        {{ dbt.dateadd('day', -var('churn_window_days'), 'calendar.period_start') }} >= history.first_sale_date
            as can_have_churned
    from {{ ref('kpi_calendar') }} as calendar
    cross join history
    inner join statuses_on_date as at_end
        on at_end.as_of_date = calendar.period_end
    left join statuses_on_date as at_start
        on at_start.as_of_date = calendar.period_start
        and at_start.segment is not distinct from at_end.segment
        and at_start.persona is not distinct from at_end.persona
    left join churns
        on churns.period_grain = calendar.period_grain
        and churns.period_start = calendar.period_start
        and churns.segment is not distinct from at_end.segment
        and churns.persona is not distinct from at_end.persona
    where at_end.customers > 0
),

aggregated as (
    {{ kpi_group_by_dimensions(
        'customer_statuses',
        counts={
            'active_customers': 'sum(active_at_end)',
            'churned_customers': 'sum(inactive_at_end)',
            'active_at_start': 'sum(case when can_have_churned then active_at_start else 0 end)',
            'churned_in_period': 'sum(case when can_have_churned then churned_in_period else 0 end)',
        },
        by_channel=false,
        add_periods=false,
    ) }}
)

{{ kpi_count_row('active_customers', 'active_customers') }}
union all
{{ kpi_count_row('churned_customers', 'churned_customers') }}
union all
{{ kpi_rate_row('churn_rate', 'churned_in_period', 'active_at_start') }}
