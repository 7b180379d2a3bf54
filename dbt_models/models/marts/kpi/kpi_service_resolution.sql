{%- set counts = {
    'contacts': 'count(*)',
    'repeat_contacts': 'sum(case when is_repeat_contact_7d then 1 else 0 end)',
} %}
{%- do counts.update(kpi_fcr_counts()) %}
with

contacts as (
    select * from {{ ref('kpi_base_service_contacts') }}
),

aggregated as (
    {{ kpi_group_by_dimensions('contacts', counts=counts) }}
)

{{ kpi_rate_row('fcr_rate', 'issues_resolved_first_contact', 'issues') }}
union all
{{ kpi_rate_row('repeat_contact_rate', 'repeat_contacts', 'contacts') }}
