with

responses as (
    select * from {{ ref('kpi_base_survey_responses') }} where survey_type = 'ces'
),

aggregated as (
    {{ kpi_group_by_dimensions(
        'responses',
        counts={
            'responses': 'count(*)',
            'score_sum': 'sum(score)',
            'score_sum_of_squares': 'sum(score * score)',
        },
    ) }}
)

{{ kpi_mean_row('ces', 'score_sum', 'score_sum_of_squares', 'responses') }}
