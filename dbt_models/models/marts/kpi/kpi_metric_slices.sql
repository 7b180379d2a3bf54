-- The answer-level KPIs (NPS, CSAT, first contact resolution) sliced two ways kpi_metrics cannot carry: by the
-- entry channel (the channel the customer's journey started on) and by the topic of the answer's text. Read by
-- the root cause of a KPI change (kpi_change_drivers). Same answers, periods, counts and intervals as kpi_metrics
-- (kpi_base_* models, kpi_group_by_dimensions, kpi_answer_counts, kpi_metric_rows), and every answer falls in one
-- slice per dimension, so within a dimension the slices add up to kpi_metrics' total.
{%- set slice_keys = ['dimension', 'slice'] %}
with

survey_responses as (
    select * from {{ ref('kpi_base_survey_responses') }} where survey_type in ('nps', 'csat')
),

service_contacts as (
    select * from {{ ref('kpi_base_service_contacts') }}
),

journeys as (
    select customer_key, started_at, channel as entry_channel from {{ ref('kpi_base_journeys') }}
),

insights as (
    {{ kpi_source_or_empty('ml', 'ml_text_insights', {
        'touchpoint_id': dbt.type_string(),
        'topic': dbt.type_string(),
    }) }}
),

-- Every answer once, with its time and the texts that say what it is about: a survey's own comment (its
-- touchpoint), else the service contact it rates; a service contact's own text (touchpoint id = contact id).
answers as (
    select
        'survey' as answer_kind,
        response_id as answer_id,
        customer_key,
        responded_at as answered_at,
        'surveys:' || response_id as own_text_id,
        trigger_contact_id as context_text_id
    from survey_responses
    union all
    select
        'contact' as answer_kind,
        contact_id as answer_id,
        customer_key,
        occurred_at as answered_at,
        contact_id as own_text_id,
        cast(null as {{ dbt.type_string() }}) as context_text_id
    from service_contacts
),

-- The journey an answer belongs to: the customer's latest journey that started at or before the answer (a
-- contact is a step of its journey; a survey rates what happened on the journey before it).
answer_journeys as (
    select
        answers.answer_kind,
        answers.answer_id,
        journeys.entry_channel,
        row_number() over (
            partition by answers.answer_kind, answers.answer_id order by journeys.started_at desc
        ) as recency
    from answers
    inner join journeys
        on journeys.customer_key = answers.customer_key
        and journeys.started_at <= answers.answered_at
),

-- Answers without a customer or journey are 'no_journey', without a classified text 'no_topic' (also every
-- answer before the ML text step has run), so each dimension still covers every answer.
answer_slices as (
    select
        answers.answer_kind,
        answers.answer_id,
        coalesce(answer_journeys.entry_channel, 'no_journey') as entry_channel,
        coalesce(own_text.topic, context_text.topic, 'no_topic') as topic
    from answers
    left join answer_journeys
        on answer_journeys.answer_kind = answers.answer_kind
        and answer_journeys.answer_id = answers.answer_id
        and answer_journeys.recency = 1
    left join insights as own_text
        on own_text.touchpoint_id = answers.own_text_id
    left join insights as context_text
        on context_text.touchpoint_id = answers.context_text_id
),

-- One row per answer and dimension: the slice the answer falls in.
answer_dimensions as (
    select answer_kind, answer_id, 'entry_channel' as dimension, entry_channel as slice from answer_slices
    union all
    select answer_kind, answer_id, 'topic' as dimension, topic as slice from answer_slices
),

{#- each kind of answer with its dimensions: relation, answer_kind, key #}
{%- for relation, kind, key in [('survey_responses', 'survey', 'response_id'),
                                ('service_contacts', 'contact', 'contact_id')] %}
sliced_{{ relation }} as (
    select {{ relation }}.*, answer_dimensions.dimension, answer_dimensions.slice
    from {{ relation }}
    inner join answer_dimensions
        on answer_dimensions.answer_kind = '{{ kind }}'
        and answer_dimensions.answer_id = {{ relation }}.{{ key }}
),
{% endfor %}
nps_responses as (
    select * from sliced_survey_responses where survey_type = 'nps'
),

csat_responses as (
    select * from sliced_survey_responses where survey_type = 'csat'
),

nps_aggregated as (
    {{ kpi_group_by_dimensions('nps_responses', counts=kpi_nps_counts(), by_channel=false, extra_keys=slice_keys) }}
),

csat_aggregated as (
    {{ kpi_group_by_dimensions('csat_responses', counts=kpi_csat_counts(), by_channel=false, extra_keys=slice_keys) }}
),

fcr_aggregated as (
    {{ kpi_group_by_dimensions('sliced_service_contacts', counts=kpi_fcr_counts(), by_channel=false, extra_keys=slice_keys) }}
),

metric_rows as (
    {{ kpi_nps_row('nps', 'promoters', 'detractors', 'responses', 'nps_aggregated', slice_keys) }}
    union all
    {{ kpi_rate_row('csat', 'satisfied', 'responses', 'csat_aggregated', slice_keys) }}
    union all
    {{ kpi_rate_row('fcr_rate', 'issues_resolved_first_contact', 'issues', 'fcr_aggregated', slice_keys) }}
)

-- kpi_group_by_dimensions also cuts every slice by segment and persona; the slices of the totals are kept.
select
    period_grain,
    period_start,
    metric,
    dimension,
    slice,
    value,
    numerator,
    denominator,
    n,
    ci_low,
    ci_high
from metric_rows
where segment_type = 'all'
