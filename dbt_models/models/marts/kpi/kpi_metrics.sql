-- The one long, tidy KPI table reports read: every metric per period × channel × segment, with the change
-- against the previous period of the same grain and against its target.
{%- set metric_models = [
    'kpi_nps', 'kpi_csat', 'kpi_ces',
    'kpi_journey_conversion', 'kpi_web_funnel', 'kpi_abandoned_carts',
    'kpi_churn',
    'kpi_service_resolution', 'kpi_service_times', 'kpi_bot_containment', 'kpi_contacts_per_order',
    'kpi_voice_of_customer',
] %}
with

metrics as (
    {%- for model in metric_models %}
    select * from {{ ref(model) }}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

targets as (
    select metric, channel, target from {{ ref('kpi_targets') }}
    union all
    select 'sla_attainment' as metric, channel, service_level_target as target from {{ ref('sla_targets') }}
),

with_previous as (
    select
        *,
        -- Every calendar period is present for every metric and dimension, so the previous row is the
        -- previous period.
        lag(value) over (
            partition by metric, period_grain, channel, segment order by period_start
        ) as previous_value
    from metrics
),

with_target as (
    select
        with_previous.*,
        coalesce(channel_targets.target, default_targets.target) as target
    from with_previous
    left join targets as channel_targets
        on channel_targets.metric = with_previous.metric
        and channel_targets.channel = with_previous.channel
    left join targets as default_targets
        on default_targets.metric = with_previous.metric
        and default_targets.channel = 'all'
)

select
    period_grain,
    period_start,
    channel,
    segment,
    metric,
    value,
    numerator,
    denominator,
    n,
    ci_low,
    ci_high,
    previous_value,
    value - previous_value as change_vs_previous,
    target,
    value - target as change_vs_target
from with_target
