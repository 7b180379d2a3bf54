{#- The persona dimension of the KPI marts for a row joined to dim_customers as `customers`: the customer's persona
    id (ml_personas), 'no_persona' for a customer with too little activity for one, 'unknown' without a customer
    (as segment is). Never null, so every row counts in the persona rows of kpi_group_by_dimensions. -#}

{% macro kpi_persona(customers='customers') -%}
    coalesce(
        {{ customers }}.persona_id,
        case when {{ customers }}.customer_key is null then 'unknown' else 'no_persona' end
    )
{%- endmacro %}
