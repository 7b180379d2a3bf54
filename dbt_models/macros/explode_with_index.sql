{#- Select-list items that turn a list column into one row per element, with its 1-based position.
    Spark would use `posexplode` (0-based) here. -#}

{% macro explode_with_index(list_column, element_alias, index_alias) -%}
    {{ return(adapter.dispatch('explode_with_index', 'cx_pipeline')(list_column, element_alias, index_alias)) }}
{%- endmacro %}

{% macro default__explode_with_index(list_column, element_alias, index_alias) -%}
    unnest({{ list_column }}) as {{ element_alias }},
    generate_subscripts({{ list_column }}, 1) as {{ index_alias }}
{%- endmacro %}

{#- Spark: one generator, `inline`, over the list turned into (element, 1-based index) structs. -#}
{% macro spark__explode_with_index(list_column, element_alias, index_alias) -%}
    inline(transform({{ list_column }}, (list_element, list_position) ->
        named_struct('{{ element_alias }}', list_element, '{{ index_alias }}', list_position + 1)))
{%- endmacro %}
