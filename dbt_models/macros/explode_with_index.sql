{#- Select-list items that turn a list column into one row per element, with its 1-based position.
    Spark would use `posexplode` (0-based) here. -#}

{% macro explode_with_index(list_column, element_alias, index_alias) -%}
    {{ return(adapter.dispatch('explode_with_index', 'cx_pipeline')(list_column, element_alias, index_alias)) }}
{%- endmacro %}

{% macro default__explode_with_index(list_column, element_alias, index_alias) -%}
    unnest({{ list_column }}) as {{ element_alias }},
    generate_subscripts({{ list_column }}, 1) as {{ index_alias }}
{%- endmacro %}
