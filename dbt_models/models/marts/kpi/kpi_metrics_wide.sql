-- Convenience view over kpi_metrics: one row per period × channel × segment (of each segment_type) with the headline KPIs as columns.
-- Reports that need intervals, targets or changes read kpi_metrics.
{%- set headline_metrics = [
    'nps', 'csat', 'ces', 'journey_conversion_rate', 'session_conversion_rate', 'cart_recovery_rate',
    'active_customers', 'churn_rate', 'fcr_rate', 'repeat_contact_rate', 'aht_seconds',
    'first_response_median_seconds', 'first_response_p90_seconds', 'sla_attainment', 'bot_containment_rate',
    'contacts_per_order', 'sentiment_negative_share',
] %}
select
    period_grain,
    period_start,
    channel,
    segment_type,
    segment,
    {%- for metric in headline_metrics %}
    max(case when metric = '{{ metric }}' then value end) as {{ metric }}{% if not loop.last %},{% endif %}
    {%- endfor %}
from {{ ref('kpi_metrics') }}
group by period_grain, period_start, channel, segment_type, segment
