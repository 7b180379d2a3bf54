-- The recommendations only the high churn risk rule allows (seed nba_actions), for customers not held out, kept
-- across runs: ml_next_best_actions holds the latest run only, and a churn case (fct_cx_cases) must outlive the
-- run that opened it. A rerun for the same as-of date replaces that date's rows.
-- Spark writes plain Parquet tables, which have no delete+insert: there the model keeps the latest run only.
{{ config(
    materialized='incremental' if target.type == 'duckdb' else 'table',
    unique_key=['customer_key', 'as_of_date'],
    incremental_strategy='delete+insert',
    on_schema_change='fail',
) }}

with

recommendations as (
    {{ kpi_source_or_empty('ml', 'ml_next_best_actions', {
        'as_of_date': 'date',
        'customer_key': dbt.type_string(),
        'action': dbt.type_string(),
        'channel': dbt.type_string(),
        'reason': dbt.type_string(),
        'is_holdout': 'boolean',
    }) }}
),

churn_actions as (
    select action, label from {{ ref('nba_actions') }} where eligibility_rule = 'high_churn_risk'
),

-- held-out customers are deliberately not contacted: no case for them
churn_recommendations as (
    select
        recommendations.as_of_date,
        recommendations.customer_key,
        recommendations.action,
        churn_actions.label as action_label,
        recommendations.channel,
        recommendations.reason
    from recommendations
    inner join churn_actions
        on churn_actions.action = recommendations.action
    where not coalesce(recommendations.is_holdout, false)
)

select * from churn_recommendations
