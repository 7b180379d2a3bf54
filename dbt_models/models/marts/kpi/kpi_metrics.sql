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
    select metric, channel, period_grain, target from {{ ref('kpi_targets') }}
    union all
    select 'sla_attainment' as metric, channel, 'all' as period_grain, service_level_target as target
    from {{ ref('sla_targets') }}
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

-- The most specific target of each metric, grain and channel: its own channel before 'all', then its own grain
-- before 'all'. Resolved on the few distinct slices, then joined to the rows.
slices as (
    select distinct metric, period_grain, channel from metrics
),

slice_targets as (
    select
        slices.metric,
        slices.period_grain,
        slices.channel,
        targets.target,
        row_number() over (
            partition by slices.metric, slices.period_grain, slices.channel
            order by
                case when targets.channel = 'all' then 1 else 0 end,
                case when targets.period_grain = 'all' then 1 else 0 end
        ) as specificity_rank
    from slices
    inner join targets
        on targets.metric = slices.metric
        and targets.channel in (slices.channel, 'all')
        and targets.period_grain in (slices.period_grain, 'all')
),

with_target as (
    select
        with_previous.*,
        slice_targets.target
    from with_previous
    left join slice_targets
        on slice_targets.metric = with_previous.metric
        and slice_targets.period_grain = with_previous.period_grain
        and slice_targets.channel = with_previous.channel
        and slice_targets.specificity_rank = 1
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
