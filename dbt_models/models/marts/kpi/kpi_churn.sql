-- Churn for a non-contractual business, judged at the end of each period (the as-of date is the day after the
-- period's last day): a customer is active when they bought within the var('churn_window_days') days before it,
-- churned when they bought before but not within that window. Until the window before the period's start lies
-- within the data (from its first sale on), who was active at the start is not known in full: the customers who
-- would churn in the period are the very ones whose last sale fell before the data began. Those periods have no
-- churn rate (a warm-up, not the near 0% they would read).
with

sale_days as (
    select distinct customer_key, segment, persona, business_date
    from {{ ref('kpi_base_orders') }}
    where order_type = 'sale' and customer_key is not null
),

history as (
    select min(business_date) as first_sale_date from sale_days
),

customer_periods as (
    select
        calendar.period_grain,
        calendar.period_start,
        calendar.period_end,
        sale_days.customer_key,
        sale_days.segment,
        sale_days.persona,
        max(case when sale_days.business_date < calendar.period_start then sale_days.business_date end)
            as last_sale_before_start,
        max(sale_days.business_date) as last_sale_before_end
    from {{ ref('kpi_calendar') }} as calendar
    inner join sale_days
        on sale_days.business_date < calendar.period_end
    group by 1, 2, 3, 4, 5, 6
),

customer_statuses as (
    select
        period_grain,
        period_start,
        segment,
        persona,
        coalesce(
            last_sale_before_start >= {{ dbt.dateadd('day', -var('churn_window_days'), 'period_start') }}, false
        ) as is_active_at_start,
        last_sale_before_end >= {{ dbt.dateadd('day', -var('churn_window_days'), 'period_end') }} as is_active_at_end,
        {{ dbt.dateadd('day', -var('churn_window_days'), 'period_start') }} >= history.first_sale_date
            as can_have_churned
    from customer_periods
    cross join history
),

aggregated as (
    {{ kpi_group_by_dimensions(
        'customer_statuses',
        counts={
            'active_customers': 'sum(case when is_active_at_end then 1 else 0 end)',
            'churned_customers': 'sum(case when is_active_at_end then 0 else 1 end)',
            'active_at_start': 'sum(case when can_have_churned and is_active_at_start then 1 else 0 end)',
            'churned_in_period':
                'sum(case when can_have_churned and is_active_at_start and not is_active_at_end then 1 else 0 end)',
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
