{#- A time-zone-aware timestamp as a plain TIMESTAMP holding UTC wall-clock time (staging rule: no time zone
    types downstream, so the SQL stays portable to engines without them). -#}

{% macro as_utc_timestamp(column) -%}
    {{ return(adapter.dispatch('as_utc_timestamp', 'cx_pipeline')(column)) }}
{%- endmacro %}

{% macro default__as_utc_timestamp(column) -%}
    cast({{ column }} at time zone 'UTC' as timestamp)
{%- endmacro %}

{#- Spark: the session time zone is UTC (profiles.yml), so a timestamp already reads as UTC wall time. -#}
{% macro spark__as_utc_timestamp(column) -%}
    cast({{ column }} as timestamp)
{%- endmacro %}
