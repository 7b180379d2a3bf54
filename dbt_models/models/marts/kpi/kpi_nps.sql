with

responses as (
    select * from {{ ref('kpi_base_survey_responses') }} where survey_type = 'nps'
),

aggregated as (
    {{ kpi_group_by_dimensions('responses', counts=kpi_nps_counts()) }}
)

{{ kpi_nps_row('nps', 'promoters', 'detractors', 'responses') }}
