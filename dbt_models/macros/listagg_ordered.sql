{#- String aggregation in a given order. dbt's cross-database listagg ignores the order on Spark (collect_list
    keeps no order), so Spark sorts structs of the order columns and the value, then joins the values. -#}

{% macro listagg_ordered(measure, delimiter_text, order_columns) -%}
    {{ return(adapter.dispatch('listagg_ordered', 'cx_pipeline')(measure, delimiter_text, order_columns)) }}
{%- endmacro %}

{% macro default__listagg_ordered(measure, delimiter_text, order_columns) -%}
    {{ dbt.listagg(measure, delimiter_text, 'order by ' ~ order_columns | join(', ')) }}
{%- endmacro %}

{% macro spark__listagg_ordered(measure, delimiter_text, order_columns) -%}
    array_join(transform(array_sort(collect_list(struct(
        {%- for column in order_columns %}{{ column }} as order_{{ loop.index }}, {% endfor -%}
        {{ measure }} as listed_value))), entry -> entry.listed_value), {{ delimiter_text }})
{%- endmacro %}
