-- The central customer view: every customer's golden record (dim_customer_profiles) with what the ML assets say
-- about the customer: persona, expected 12-month value, churn risk and the next best action. Those assets read
-- the fact marts, staging and dim_customer_profiles, never this model, so it is built after all of them (the
-- KPI models, which read the segment and persona here, come after it in the same dbt step). Before an asset's
-- first run its columns are null.
-- depends_on: {{ ref('channel_taxonomy') }} (its channel columns are tested against the taxonomy, so the
-- seed must be built with this model, not after it)
with

personas as (
    {{ kpi_source_or_empty('ml', 'ml_personas', {
        'customer_key': dbt.type_string(), 'persona_id': dbt.type_string(), 'persona_name': dbt.type_string()}) }}
),

customer_value as (
    {{ kpi_source_or_empty('ml', 'ml_customer_value', {
        'customer_key': dbt.type_string(), 'expected_purchases': 'double', 'expected_value_eur': 'double',
        'value_low_eur': 'double', 'value_high_eur': 'double'}) }}
),

churn_scores as (
    {{ kpi_source_or_empty('ml', 'ml_churn_scores', {
        'customer_key': dbt.type_string(), 'churn_probability': 'double', 'risk_band': dbt.type_string()}) }}
),

next_best_actions as (
    {{ kpi_source_or_empty('ml', 'ml_next_best_actions', {
        'customer_key': dbt.type_string(), 'action': dbt.type_string(), 'channel': dbt.type_string(),
        'is_holdout': 'boolean'}) }}
)

select
    -- the profile without its incremental bookkeeping (DuckDB's; other engines build the profile as a table)
    profiles.*{% if target.type == 'duckdb' %} exclude (_latest_sale_at, _resolved_at){% endif %},
    personas.persona_id,
    personas.persona_name,
    customer_value.expected_purchases as expected_purchases_12m,
    customer_value.expected_value_eur as expected_value_12m_eur,
    customer_value.value_low_eur as expected_value_12m_low_eur,
    customer_value.value_high_eur as expected_value_12m_high_eur,
    churn_scores.churn_probability,
    churn_scores.risk_band as churn_risk_band,
    next_best_actions.action as next_best_action,
    next_best_actions.channel as next_best_action_channel,
    next_best_actions.is_holdout as next_best_action_held_out
from {{ ref('dim_customer_profiles') }} as profiles
left join personas on personas.customer_key = profiles.customer_key
left join customer_value on customer_value.customer_key = profiles.customer_key
left join churn_scores on churn_scores.customer_key = profiles.customer_key
left join next_best_actions on next_best_actions.customer_key = profiles.customer_key
