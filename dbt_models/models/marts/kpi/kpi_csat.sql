with

responses as (
    select * from {{ ref('kpi_base_survey_responses') }} where survey_type = 'csat'
),

aggregated as (
    {{ kpi_group_by_dimensions(
        'responses',
        counts={
            'responses': 'count(*)',
            'satisfied': 'sum(case when score >= 4 then 1 else 0 end)',
        },
    ) }}
)

{{ kpi_rate_row('csat', 'satisfied', 'responses') }}
