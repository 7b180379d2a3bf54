{#- dbt-duckdb reads the raw Parquet in place through the sources' external_location. Other engines need the
    folders registered as tables: on Spark each raw source becomes an external Parquet table over its folder,
    recreated at the start of every run so new load_date folders are seen (dropping an external table keeps
    its files). `contract_schema.parquet` carries every contract column, so merging schemas gives files that
    lack an optional column nulls there. -#}

{% macro register_raw_sources() -%}
    {{ return(adapter.dispatch('register_raw_sources', 'cx_pipeline')()) }}
{%- endmacro %}

{% macro default__register_raw_sources() -%}
    select 1
{%- endmacro %}

{% macro spark__register_raw_sources() -%}
    {%- if execute -%}
        {%- do run_query('create schema if not exists raw') -%}
        {%- for source in graph.sources.values() if source.schema == 'raw' -%}
            {%- do run_query('drop table if exists raw.' ~ source.identifier) -%}
            {%- do run_query("create table raw." ~ source.identifier ~ " using parquet options (path '"
                ~ env_var('CX_RAW_DIR') ~ "/" ~ source.identifier ~ "', recursiveFileLookup 'true', mergeSchema 'true')") -%}
        {%- endfor -%}
    {%- endif -%}
    select 1
{%- endmacro %}
