with

bot_conversations as (
    select * from {{ ref('kpi_base_service_contacts') }} where is_bot
),

aggregated as (
    {{ kpi_group_by_dimensions(
        'bot_conversations',
        counts={
            'conversations': 'count(*)',
            'contained': 'sum(case when is_bot_handover then 0 else 1 end)',
            'handed_over': 'sum(case when is_bot_handover then 1 else 0 end)',
        },
    ) }}
)

{{ kpi_rate_row('bot_containment_rate', 'contained', 'conversations') }}
union all
{{ kpi_rate_row('bot_handover_rate', 'handed_over', 'conversations') }}
