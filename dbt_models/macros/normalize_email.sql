{#- An e-mail address as an identifier: trimmed, lower-cased, empty becomes null. -#}

{% macro normalize_email(email) -%}
    {{ return(adapter.dispatch('normalize_email', 'cx_pipeline')(email)) }}
{%- endmacro %}

{% macro default__normalize_email(email) -%}
    nullif(lower(trim({{ email }})), '')
{%- endmacro %}
