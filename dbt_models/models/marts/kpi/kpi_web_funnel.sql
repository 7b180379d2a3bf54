-- The web funnel session → product view → add to cart → checkout → purchase, as a closed funnel: a session
-- reaches a step when it has that step's event and reached every step before it.
{%- set steps = kpi_funnel_steps() %}
with

sessions as (
    select
        *,
        has_product_view as reached_product_view,
        has_product_view and has_add_to_cart as reached_add_to_cart,
        has_product_view and has_add_to_cart and has_checkout as reached_checkout,
        has_product_view and has_add_to_cart and has_checkout and has_purchase as reached_purchase
    from {{ ref('kpi_base_web_sessions') }}
),

-- Every measure is a count, so sessions are counted per day and dimension first: the periods and grouping sets
-- then add up ~50k daily rows instead of 1.2M sessions three times (100k customers × 365 days).
sessions_by_day as (
    select
        business_date,
        channel,
        segment,
        persona,
        count(*) as sessions
        {%- for step in steps %},
        sum(case when reached_{{ step }} then 1 else 0 end) as reached_{{ step }}
        {%- endfor %}
    from sessions
    group by business_date, channel, segment, persona
),

aggregated as (
    {%- set counts = {'sessions': 'sum(sessions)'} %}
    {%- for step in steps %}
        {%- do counts.update({'reached_' ~ step: 'sum(reached_' ~ step ~ ')'}) %}
    {%- endfor %}
    {{ kpi_group_by_dimensions('sessions_by_day', counts=counts) }}
)

{{ kpi_count_row('web_sessions', 'sessions') }}
{%- for step in steps %}
union all
{{ kpi_rate_row('funnel_' ~ step ~ '_rate', 'reached_' ~ step, loop.previtem and 'reached_' ~ loop.previtem or 'sessions') }}
{%- endfor %}
union all
{{ kpi_rate_row('session_conversion_rate', 'reached_purchase', 'sessions') }}
