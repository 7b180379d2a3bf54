-- Closed-loop case KPIs (fct_cx_cases) per period × segment (channel 'all': a case is about a customer, not a
-- channel). By the day a case opened: cases opened (in total and per case type), the share of them closed in
-- time (among the cases already decided: closed, or open past their due time) and those still open past it.
-- By the day a case closed: cases closed, the median hours to close, and the NPS of the closed cases' customers
-- before the case (their latest answer up to its opening) and afterwards (their first answer after its closing),
-- both over the closed cases that have both answers, so the two figures describe the same customers.
with

cases as (
    select * from {{ ref('fct_cx_cases') }}
),

nps_answers as (
    select customer_key, responded_at, score
    from {{ ref('fct_survey_responses') }}
    where survey_type = 'nps'
),

-- A closed case's customer's latest NPS answer up to the case's opening (for a detractor case: that answer)...
answers_before as (
    select
        cases.case_id,
        nps_answers.score,
        row_number() over (partition by cases.case_id order by nps_answers.responded_at desc) as recency
    from cases
    inner join nps_answers
        on nps_answers.customer_key = cases.customer_key
        and nps_answers.responded_at <= cases.opened_at
    where cases.status = 'closed'
),

-- ... and their first answer after its closing.
answers_after as (
    select
        cases.case_id,
        nps_answers.score,
        row_number() over (partition by cases.case_id order by nps_answers.responded_at) as order_after
    from cases
    inner join nps_answers
        on nps_answers.customer_key = cases.customer_key
        and nps_answers.responded_at > cases.closed_at
    where cases.status = 'closed'
),

nps_around_cases as (
    select
        answers_before.case_id,
        answers_before.score as score_before,
        answers_after.score as score_after
    from answers_before
    inner join answers_after
        on answers_after.case_id = answers_before.case_id
    where answers_before.recency = 1 and answers_after.order_after = 1
),

opened as (
    select
        {{ kpi_business_date('opened_at') }} as business_date,
        segment,
        persona,
        case_type,
        closed_in_time,
        is_overdue
    from cases
),

closed as (
    select
        {{ kpi_business_date('cases.closed_at') }} as business_date,
        cases.segment,
        cases.persona,
        cases.hours_to_close,
        nps_around_cases.score_before,
        nps_around_cases.score_after,
        nps_around_cases.case_id is not null as has_both_answers
    from cases
    left join nps_around_cases
        on nps_around_cases.case_id = cases.case_id
    where cases.status = 'closed'
),

opened_aggregated as (
    {{ kpi_group_by_dimensions(
        'opened',
        counts={
            'opened_cases': 'count(*)',
            'decided_cases': 'count(closed_in_time)',
            'in_time_cases': 'sum(case when closed_in_time then 1 else 0 end)',
            'overdue_cases': 'sum(case when is_overdue then 1 else 0 end)',
        },
        by_channel=false,
    ) }}
),

opened_by_type as (
    {{ kpi_group_by_dimensions(
        'opened',
        counts={'opened_cases': 'count(*)'},
        by_channel=false,
        extra_keys=['case_type'],
    ) }}
),

closed_aggregated as (
    {{ kpi_group_by_dimensions(
        'closed',
        counts={
            'closed_cases': 'count(*)',
            'paired_cases': 'sum(case when has_both_answers then 1 else 0 end)',
            'promoters_before': 'sum(case when has_both_answers and score_before >= 9 then 1 else 0 end)',
            'detractors_before': 'sum(case when has_both_answers and score_before <= 6 then 1 else 0 end)',
            'promoters_after': 'sum(case when has_both_answers and score_after >= 9 then 1 else 0 end)',
            'detractors_after': 'sum(case when has_both_answers and score_after <= 6 then 1 else 0 end)',
        },
        statistics={'hours_to_close_median': kpi_percentile('hours_to_close', 0.5)},
        by_channel=false,
    ) }}
)

{{ kpi_count_row('cases_opened', 'opened_cases', relation='opened_aggregated') }}
union all
{{ kpi_count_row('cases_opened', 'opened_cases', relation='opened_by_type', metric_suffix_column='case_type') }}
union all
{{ kpi_rate_row('cases_closed_in_time_share', 'in_time_cases', 'decided_cases', relation='opened_aggregated') }}
union all
{{ kpi_count_row('cases_overdue', 'overdue_cases', relation='opened_aggregated') }}
union all
{{ kpi_count_row('cases_closed', 'closed_cases', relation='closed_aggregated') }}
union all
{{ kpi_metric_row('case_hours_to_close_median', 'hours_to_close_median', 'closed_cases', relation='closed_aggregated') }}
union all
{{ kpi_nps_row('nps_before_case', 'promoters_before', 'detractors_before', 'paired_cases', relation='closed_aggregated') }}
union all
{{ kpi_nps_row('nps_after_case', 'promoters_after', 'detractors_after', 'paired_cases', relation='closed_aggregated') }}
