{#- On DuckDB, dbt builds into a fresh database file whose proxy views read the warehouse attached read-only as
    `live` (cx_core/warehouse_build.py); this on-run-start hook attaches it in dbt's session. Without
    CX_WAREHOUSE_LIVE (dbt run by hand on the warehouse itself) there is nothing to attach. -#}

{% macro attach_live_warehouse() -%}
    {{ return(adapter.dispatch('attach_live_warehouse', 'cx_pipeline')()) }}
{%- endmacro %}

{% macro default__attach_live_warehouse() -%}
    select 1
{%- endmacro %}

{% macro duckdb__attach_live_warehouse() -%}
    {#- read at run time only: an env var read while parsing makes the next run's partial parse start over -#}
    {%- set live = env_var('CX_WAREHOUSE_LIVE', '') if execute else '' -%}
    {%- if live -%}
    attach if not exists '{{ live | replace("'", "''") }}' as live (read_only)
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}
