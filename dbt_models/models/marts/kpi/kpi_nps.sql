with

responses as (
    select * from {{ ref('kpi_base_survey_responses') }} where survey_type = 'nps'
),

aggregated as (
    {{ kpi_group_by_dimensions(
        'responses',
        counts={
            'responses': 'count(*)',
            'promoters': 'sum(case when score >= 9 then 1 else 0 end)',
            'detractors': 'sum(case when score <= 6 then 1 else 0 end)',
        },
    ) }}
)

{{ kpi_nps_row('nps', 'promoters', 'detractors', 'responses') }}
