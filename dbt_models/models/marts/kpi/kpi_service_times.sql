with

contacts as (
    select
        *,
        case when first_response_seconds <= first_response_target_seconds then 1 else 0 end as meets_sla,
        -- the contact-centre service level: a call abandoned within the target (or a short abandon) was never
        -- the team's to answer in time, so it leaves the base; one abandoned after the target was missed
        first_response_target_seconds is not null and not coalesce(
            is_abandoned and (is_short_abandon or wait_seconds <= first_response_target_seconds), false
        ) as counts_for_sla
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
            'sla_contacts': 'sum(case when counts_for_sla then 1 else 0 end)',
            'sla_met': 'sum(case when counts_for_sla then meets_sla else 0 end)',
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
