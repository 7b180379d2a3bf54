-- Queue abandonment per period × channel × segment: calls whose caller hung up before anyone answered.
-- Short abandons (within var('short_abandon_seconds')) are counted apart and left out of the abandonment rate.
with

queued_calls as (
    -- calls that reached the queue; calls the phone menu settled (channel ivr) never waited for an agent
    select * from {{ ref('kpi_base_service_contacts') }}
    where is_abandoned is not null and channel <> 'ivr'
),

aggregated as (
    {{ kpi_group_by_dimensions(
        'queued_calls',
        counts={
            'offered_calls': 'count(*)',
            'short_abandons': 'sum(case when is_short_abandon then 1 else 0 end)',
            'counted_calls': 'sum(case when is_short_abandon then 0 else 1 end)',
            'abandoned_calls': 'sum(case when is_abandoned and not is_short_abandon then 1 else 0 end)',
        },
    ) }}
)

{{ kpi_rate_row('abandonment_rate', 'abandoned_calls', 'counted_calls') }}
union all
{{ kpi_rate_row('short_abandon_rate', 'short_abandons', 'offered_calls') }}
