-- The one long, tidy KPI table reports read: every metric per period × channel × segment, with the change
-- against the previous period of the same grain and against its target, and why a value is missing: not
-- measured is not zero (a KPI whose inputs no export carries is null with the inputs it needs).
{%- set metric_models = [
    'kpi_nps', 'kpi_csat', 'kpi_ces',
    'kpi_journey_conversion', 'kpi_web_funnel', 'kpi_abandoned_carts',
    'kpi_churn',
    'kpi_service_resolution', 'kpi_service_times', 'kpi_call_abandonment', 'kpi_bot_containment',
    'kpi_contacts_per_order',
    'kpi_voice_of_customer',
    'kpi_cases',
] %}
with

-- Read by several parts of the query, each for a few of its columns: inlined, not kept (macro not_materialized).
measured_metrics as {{ not_materialized() }} (
    {%- for model in metric_models %}
    select * from {{ ref(model) }}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

metric_inputs as (
    select metric_pattern, needs from {{ ref('kpi_metric_inputs') }}
),

-- A KPI model whose source exports are absent returns no rows. Its metric still gets one row per period
-- (channel and segment 'all'), null, so every report can say that it is not available and why.
unmeasured_metrics as (
    select
        calendar.period_grain,
        calendar.period_start,
        'all' as channel,
        'all' as segment_type,
        'all' as segment,
        metric_inputs.metric_pattern as metric,
        cast(null as double) as value,
        cast(null as double) as numerator,
        cast(null as double) as denominator,
        cast(0 as {{ dbt.type_bigint() }}) as n,
        cast(null as double) as ci_low,
        cast(null as double) as ci_high
    from {{ ref('kpi_calendar') }} as calendar
    cross join metric_inputs
    where {{ dbt.position("'%'", 'metric_inputs.metric_pattern') }} = 0  -- a family pattern names no one metric
        and metric_inputs.metric_pattern not in (select distinct metric from measured_metrics)
),

-- inlined like measured_metrics
metrics as {{ not_materialized() }} (
    select * from measured_metrics
    union all
    select * from unmeasured_metrics
),

-- Whether a metric was ever measured on a channel (any period, grain or segment with observations), and the
-- inputs it needs (patterns cover the metric families with a suffix: funnel steps, topics).
slice_measurement as (
    select
        slices.metric,
        slices.channel,
        slices.ever_measured,
        max(metric_inputs.needs) as needs
    from (
        select metric, channel, max(case when n > 0 then 1 else 0 end) = 1 as ever_measured
        from metrics
        group by metric, channel
    ) as slices
    left join metric_inputs on slices.metric like metric_inputs.metric_pattern
    group by slices.metric, slices.channel, slices.ever_measured
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
            partition by metric, period_grain, channel, segment_type, segment order by period_start
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
        slice_targets.target,
        case
            when with_previous.value is not null then null
            when not slice_measurement.ever_measured
                then 'not measured: needs ' || coalesce(slice_measurement.needs, 'inputs no export carries')
            when coalesce(with_previous.n, 0) = 0 then 'no data in this period'
            else 'not defined in this period (nothing to divide by)'
        end as value_missing_reason
    from with_previous
    left join slice_targets
        on slice_targets.metric = with_previous.metric
        and slice_targets.period_grain = with_previous.period_grain
        and slice_targets.channel = with_previous.channel
        and slice_targets.specificity_rank = 1
    inner join slice_measurement
        on slice_measurement.metric = with_previous.metric
        and slice_measurement.channel = with_previous.channel
)

select
    period_grain,
    period_start,
    channel,
    segment_type,
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
    value - target as change_vs_target,
    value_missing_reason
from with_target
