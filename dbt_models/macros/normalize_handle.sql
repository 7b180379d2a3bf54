{#- A social media handle as an identifier: lower-case with exactly one leading '@'; empty or a bare '@'
    becomes null. -#}

{% macro normalize_handle(handle) -%}
    {{ return(adapter.dispatch('normalize_handle', 'cx_pipeline')(handle)) }}
{%- endmacro %}

{% macro default__normalize_handle(handle) -%}
    {%- set bare_handle = cx_pipeline.regexp_replace_all('lower(trim(' ~ handle ~ '))', '^@+', '') -%}
    case when {{ bare_handle }} <> '' then '@' || {{ bare_handle }} end
{%- endmacro %}
