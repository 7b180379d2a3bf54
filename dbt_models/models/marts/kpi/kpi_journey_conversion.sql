with

research_journeys as (
    select * from {{ ref('kpi_base_journeys') }} where has_research
),

aggregated as (
    {{ kpi_group_by_dimensions(
        'research_journeys',
        counts={
            'journeys': 'count(*)',
            'converted_journeys': 'sum(case when has_purchase then 1 else 0 end)',
        },
    ) }}
)

{{ kpi_rate_row('journey_conversion_rate', 'converted_journeys', 'journeys') }}
