-- Abandoned carts (a session that added to the cart but did not buy) and their recovery: the same customer's
-- first sale on any channel within 7 days after the session ended. Sessions of unknown visitors cannot be
-- followed and stay unrecovered.
with

carts as (
    select session_id, customer_key, ended_at, business_date, channel, segment, persona
    from {{ ref('kpi_base_web_sessions') }}
    where has_add_to_cart and not has_purchase
),

recoveries as (
    select
        carts.session_id,
        orders.channel as recovery_channel,
        row_number() over (partition by carts.session_id order by orders.ordered_at, orders.order_id) as recovery_rank
    from carts
    inner join {{ ref('kpi_base_orders') }} as orders
        on orders.customer_key = carts.customer_key
        and orders.order_type = 'sale'
        and orders.ordered_at > carts.ended_at
        and orders.ordered_at <= {{ dbt.dateadd('day', 7, 'carts.ended_at') }}
),

carts_with_recovery as (
    select carts.*, recoveries.recovery_channel
    from carts
    left join recoveries
        on recoveries.session_id = carts.session_id
        and recoveries.recovery_rank = 1
),

by_cart_channel as (
    {{ kpi_group_by_dimensions(
        'carts_with_recovery',
        counts={
            'abandoned_carts': 'count(*)',
            'recovered_carts': 'sum(case when recovery_channel is not null then 1 else 0 end)',
        },
    ) }}
),

recovered_carts as (
    select business_date, recovery_channel as channel, segment, persona
    from carts_with_recovery
    where recovery_channel is not null
),

by_recovery_channel as (
    {{ kpi_group_by_dimensions(
        'recovered_carts',
        counts={'recovered_carts': 'count(*)'},
    ) }}
)

{{ kpi_count_row('abandoned_carts', 'abandoned_carts', relation='by_cart_channel') }}
union all
{{ kpi_rate_row('cart_recovery_rate', 'recovered_carts', 'abandoned_carts', relation='by_cart_channel') }}
union all
{{ kpi_count_row('carts_recovered_7d', 'recovered_carts', relation='by_recovery_channel') }}
