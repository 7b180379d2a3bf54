{#- A continuous percentile (fraction between 0 and 1) as an aggregate; engines spell it differently. -#}

{% macro kpi_percentile(column, fraction) -%}
    {{ return(adapter.dispatch('kpi_percentile', 'cx_pipeline')(column, fraction)) }}
{%- endmacro %}

{% macro default__kpi_percentile(column, fraction) -%}
    percentile_cont({{ fraction }}) within group (order by {{ column }})
{%- endmacro %}

{% macro spark__kpi_percentile(column, fraction) -%}
    percentile({{ column }}, {{ fraction }})
{%- endmacro %}
