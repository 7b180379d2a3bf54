{#- Between a CTE's `as` and its query: DuckDB computes a CTE that several parts of a query read once and keeps
    its rows (materialised), which for a wide CTE read for a few columns costs more than reading its tables again:
    kpi_metrics' union of the metric models, 1.35 M rows at 100k customers, read three times (1.38 -> 1.05 s).
    `not materialized` inlines it; other engines decide for themselves. -#}

{% macro not_materialized() -%}
    {{ return(adapter.dispatch('not_materialized', 'cx_pipeline')()) }}
{%- endmacro %}

{% macro default__not_materialized() -%}
{%- endmacro %}

{% macro duckdb__not_materialized() -%}
    not materialized
{%- endmacro %}
