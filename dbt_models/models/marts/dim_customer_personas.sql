-- Persona and expected value next to each customer of dim_customers (one row per customer_key). The ML assets
-- that compute them read the fact marts, whose relationship tests need dim_customers first, so these columns
-- live in this companion mart, built after the ML step (on the very first run the ML tables do not exist yet
-- and the columns stay null until this model is rebuilt after them).
with

customers as (
    select customer_key, segment from {{ ref('dim_customers') }}
),

personas as (
    {{ kpi_source_or_empty('ml', 'ml_personas', {
        'customer_key': dbt.type_string(), 'persona_id': dbt.type_string(), 'persona_name': dbt.type_string()}) }}
),

customer_value as (
    {{ kpi_source_or_empty('ml', 'ml_customer_value', {
        'customer_key': dbt.type_string(), 'expected_purchases': 'double', 'expected_value_eur': 'double',
        'value_low_eur': 'double', 'value_high_eur': 'double'}) }}
)

select
    customers.customer_key,
    customers.segment,
    personas.persona_id,
    personas.persona_name,
    customer_value.expected_purchases as expected_purchases_12m,
    customer_value.expected_value_eur as expected_value_12m_eur,
    customer_value.value_low_eur as expected_value_12m_low_eur,
    customer_value.value_high_eur as expected_value_12m_high_eur
from customers
left join personas on personas.customer_key = customers.customer_key
left join customer_value on customer_value.customer_key = customers.customer_key
