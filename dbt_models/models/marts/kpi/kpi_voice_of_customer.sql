-- Voice-of-customer KPIs from the ML text scores: sentiment shares, mean sentiment, share of urgent texts, and
-- text volume per topic. Empty until the ML assets have written their tables (see the `ml` source).
with

sentiment as (
    {{ kpi_source_or_empty('ml', 'ml_sentiment', {
        'touchpoint_id': dbt.type_string(),
        'customer_key': dbt.type_string(),
        'occurred_at': dbt.type_timestamp(),
        'channel': dbt.type_string(),
        'label': dbt.type_string(),
        'score': 'double',
    }) }}
),

insights as (
    {{ kpi_source_or_empty('ml', 'ml_text_insights', {
        'touchpoint_id': dbt.type_string(),
        'topic': dbt.type_string(),
        'urgency': dbt.type_string(),
    }) }}
),

texts as (
    select
        {{ kpi_business_date('sentiment.occurred_at') }} as business_date,
        coalesce(sentiment.channel, 'unknown') as channel,
        coalesce(customers.segment, 'unknown') as segment,
        {{ kpi_persona() }} as persona,
        sentiment.label,
        sentiment.score,
        coalesce(insights.topic, 'unclassified') as topic,
        insights.urgency
    from sentiment
    left join insights
        on insights.touchpoint_id = sentiment.touchpoint_id
    left join {{ ref('dim_customers') }} as customers
        on customers.customer_key = sentiment.customer_key
),

aggregated as (
    {{ kpi_group_by_dimensions(
        'texts',
        counts={
            'texts': 'count(*)',
            'negative_texts': "sum(case when label = 'negative' then 1 else 0 end)",
            'positive_texts': "sum(case when label = 'positive' then 1 else 0 end)",
            'score_sum': 'sum(score)',
            'score_sum_of_squares': 'sum(score * score)',
            'scored_texts': 'count(score)',
            'urgent_texts': "sum(case when urgency = 'high' then 1 else 0 end)",
        },
    ) }}
),

by_topic as (
    {{ kpi_group_by_dimensions(
        'texts',
        counts={'texts': 'count(*)'},
        extra_keys=['topic'],
    ) }}
)

{{ kpi_count_row('texts_scored', 'texts') }}
union all
{{ kpi_rate_row('sentiment_negative_share', 'negative_texts', 'texts') }}
union all
{{ kpi_rate_row('sentiment_positive_share', 'positive_texts', 'texts') }}
union all
{{ kpi_mean_row('sentiment_score_mean', 'score_sum', 'score_sum_of_squares', 'scored_texts') }}
union all
{{ kpi_rate_row('urgent_text_share', 'urgent_texts', 'texts') }}
union all
{{ kpi_count_row('topic_volume', 'texts', relation='by_topic', metric_suffix_column='topic') }}
