with

responses as (
    select * from {{ ref('kpi_base_survey_responses') }} where survey_type = 'csat'
),

aggregated as (
    {{ kpi_group_by_dimensions('responses', counts=kpi_csat_counts()) }}
)

{{ kpi_rate_row('csat', 'satisfied', 'responses') }}
