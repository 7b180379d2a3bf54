with

contacts as (
    select
        *,
        case when first_response_seconds <= first_response_target_seconds then 1 else 0 end as meets_sla
    from {{ ref('kpi_base_service_contacts') }}
),

aggregated as (
    {{ kpi_group_by_dimensions(
        'contacts',
        counts={
            'handled_contacts': 'count(handle_seconds)',
            'handle_seconds_sum': 'sum(handle_seconds)',
            'handle_seconds_sum_of_squares': 'sum(handle_seconds * handle_seconds)',
            'responded_contacts': 'count(first_response_seconds)',
            'sla_contacts': 'count(first_response_target_seconds)',
            'sla_met': 'sum(case when first_response_target_seconds is not null then meets_sla else 0 end)',
        },
        statistics={
            'first_response_median_seconds': kpi_percentile('first_response_seconds', 0.5),
            'first_response_p90_seconds': kpi_percentile('first_response_seconds', 0.9),
        },
    ) }}
)

{{ kpi_mean_row('aht_seconds', 'handle_seconds_sum', 'handle_seconds_sum_of_squares', 'handled_contacts') }}
union all
{{ kpi_metric_row('first_response_median_seconds', 'first_response_median_seconds', 'responded_contacts') }}
union all
{{ kpi_metric_row('first_response_p90_seconds', 'first_response_p90_seconds', 'responded_contacts') }}
union all
{{ kpi_rate_row('sla_attainment', 'sla_met', 'sla_contacts') }}
