{#- Reads a source table that another part of the pipeline writes later (the ML tables are written by Dagster
    assets after the first dbt run). When the table does not exist yet, the same columns come back typed and
    empty, so the models on top build anyway and fill up when the models are re-run after the ML step.
    `columns` maps each column name to its SQL type, in output order. -#}

{% macro kpi_source_or_empty(source_name, table_name, columns) -%}
    {%- set relation = source(source_name, table_name) -%}
    {#- In a unit test the source is a fixture (a CTE: no schema), not a warehouse table: use it as given. -#}
    {%- set is_fixture = relation.schema is none -%}
    {%- set table_exists = execute and (is_fixture
        or adapter.get_relation(relation.database, relation.schema, relation.identifier) is not none) -%}
    {%- if table_exists %}
    select {{ columns.keys() | join(', ') }}
    from {{ relation }}
    {%- else %}
    select
        {%- for name, data_type in columns.items() %}
        cast(null as {{ data_type }}) as {{ name }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    where 1 = 0
    {%- endif %}
{%- endmacro %}
