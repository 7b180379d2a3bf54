-- Service contacts per sale order, by segment only: an order and a contact seldom share a channel, so the
-- ratio is read for all channels together.
with

contacts_and_orders as (
    select business_date, segment, persona, 1 as is_contact, 0 as is_order
    from {{ ref('kpi_base_service_contacts') }}
    union all
    select business_date, segment, persona, 0 as is_contact, 1 as is_order
    from {{ ref('kpi_base_orders') }}
    where order_type = 'sale'
),

aggregated as (
    {{ kpi_group_by_dimensions(
        'contacts_and_orders',
        counts={'contacts': 'sum(is_contact)', 'orders': 'sum(is_order)'},
        by_channel=false,
    ) }}
),

-- Without any service contact in the data (no service export), contacts per order was not measured: null, not 0.
with_contacts_known as (
    select *, max(contacts) over () > 0 as has_contacts
    from aggregated
)

{{ kpi_metric_row(
    'contacts_per_order',
    'case when has_contacts then ' ~ kpi_share('contacts', 'orders') ~ ' end',
    'case when has_contacts then orders else 0 end',
    'contacts',
    'orders',
    relation='with_contacts_known',
) }}
