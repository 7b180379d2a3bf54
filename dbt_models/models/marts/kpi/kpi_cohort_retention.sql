-- Monthly cohort retention matrix: customers by the month of their first purchase, and how many of them bought
-- again in each later month. Not part of kpi_metrics (its grain is cohort × month offset).
with

sales as (
    select distinct
        customer_key,
        segment,
        cast({{ dbt.date_trunc('month', 'business_date') }} as date) as activity_month
    from {{ ref('kpi_base_orders') }}
    where order_type = 'sale' and customer_key is not null
),

cohorts as (
    select customer_key, min(activity_month) as cohort_month
    from sales
    group by customer_key
),

activity as (
    select
        cohorts.cohort_month,
        {{ dbt.datediff('cohorts.cohort_month', 'sales.activity_month', 'month') }} as months_since_first_purchase,
        sales.segment,
        sales.customer_key
    from sales
    inner join cohorts on cohorts.customer_key = sales.customer_key
),

retained as (
    select
        cohort_month,
        months_since_first_purchase,
        case when grouping(segment) = 1 then 'all' else segment end as segment,
        count(distinct customer_key) as retained_customers
    from activity
    group by grouping sets (
        (cohort_month, months_since_first_purchase, segment),
        (cohort_month, months_since_first_purchase)
    )
),

cohort_sizes as (
    select cohort_month, segment, retained_customers as cohort_customers
    from retained
    where months_since_first_purchase = 0
),

-- Every month from the cohort's first to the last calendar month, so months without a returning buyer read 0.
cells as (
    select
        cohort_sizes.cohort_month,
        cohort_sizes.segment,
        cohort_sizes.cohort_customers,
        {{ dbt.datediff('cohort_sizes.cohort_month', 'months.period_start', 'month') }} as months_since_first_purchase
    from cohort_sizes
    inner join {{ ref('kpi_calendar') }} as months
        on months.period_grain = 'month'
        and months.period_start >= cohort_sizes.cohort_month
)

select
    cells.cohort_month,
    cells.months_since_first_purchase,
    cells.segment,
    cells.cohort_customers,
    coalesce(retained.retained_customers, 0) as retained_customers,
    cast(coalesce(retained.retained_customers, 0) as double) / cells.cohort_customers as retention_rate
from cells
left join retained
    on retained.cohort_month = cells.cohort_month
    and retained.months_since_first_purchase = cells.months_since_first_purchase
    and retained.segment = cells.segment
