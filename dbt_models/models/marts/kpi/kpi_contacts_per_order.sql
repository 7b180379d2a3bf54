-- Service contacts per sale order, by segment only: an order and a contact seldom share a channel, so the
-- ratio is read for all channels together.
with

contacts_and_orders as (
    select business_date, segment, 1 as is_contact, 0 as is_order
    from {{ ref('kpi_base_service_contacts') }}
    union all
    select business_date, segment, 0 as is_contact, 1 as is_order
    from {{ ref('kpi_base_orders') }}
    where order_type = 'sale'
),

aggregated as (
    {{ kpi_group_by_dimensions(
        'contacts_and_orders',
        counts={'contacts': 'sum(is_contact)', 'orders': 'sum(is_order)'},
        by_channel=false,
    ) }}
)

{{ kpi_metric_row('contacts_per_order', kpi_share('contacts', 'orders'), 'orders', 'contacts', 'orders') }}
