{#- The stable id of a closed-loop case (fct_cx_cases): its type and the id of the situation that opened it,
    hashed. cx_core/cases.py computes the same id in Python (the demo generator closes cases by it). -#}

{% macro case_id(case_type, situation_id) -%}
    'CASE-' || substr({{ dbt.hash(case_type ~ " || ':' || " ~ situation_id) }}, 1, 16)
{%- endmacro %}
